/**
 * The nftables ruleset for a FirewallPolicy: one table of meshvpc's own,
 * replaced atomically (declare, delete, define in one `nft -f` transaction),
 * so other tables on the host are never touched.
 *
 * Each tunnel is bound to its peer: a set of (source address . VXLAN id)
 * per family, the id read from the UDP payload (`@th,96,24`: the 24 bits
 * after the 8-byte UDP header and the VXLAN flags word). A packet to UDP 4789
 * whose pair is not in the set is counted and dropped, so a member of one
 * VPC cannot inject into a VPC it is not in, nor into another pair's tunnel.
 */
import type { FirewallPolicy, VxlanBinding } from '../../core/firewall.js';
import { VXLAN_PORT } from '../../core/ops.js';

export const NFT_TABLE = 'meshvpc';
/** meshvpc's mark on its table: a table of that name without it is someone else's and is never replaced. */
export const NFT_COMMENT = 'managed by meshvpc';
/** Where the VXLAN id sits: transport header, bit 96 (UDP header 64 bits, VXLAN flags and reserved 32), 24 bits. */
export const NFT_VNI = '@th,96,24';

/** `nft list table inet meshvpc` text -> whether the table carries meshvpc's mark. */
export function nftTableIsOurs(listing: string): boolean {
  return listing.split('\n').some((l) => l.trim() === `comment "${NFT_COMMENT}"`);
}

function set(name: string, saddr: string, tunnels: readonly VxlanBinding[]): string {
  const elements = tunnels.map((t) => `${t.address} . ${t.vni}`);
  return `  set ${name} {\n    typeof ${saddr} . ${NFT_VNI}\n${elements.length > 0 ? `    elements = { ${elements.join(', ')} }\n` : ''}  }`;
}

function sealedSet(name: string, saddr: string, tunnels: FirewallPolicy['sealed']): string {
  const elements = tunnels.map((t) => `"${t.via}" . ${t.address} . ${t.vni}`);
  return `  set ${name} {\n    typeof iifname . ${saddr} . ${NFT_VNI}\n${elements.length > 0 ? `    elements = { ${elements.join(', ')} }\n` : ''}  }`;
}

function addressSet(name: string, type: 'ipv4_addr' | 'ipv6_addr', addresses: readonly string[]): string {
  return `  set ${name} {\n    type ${type}\n${addresses.length > 0 ? `    elements = { ${addresses.join(', ')} }\n` : ''}  }`;
}

/**
 * The table: cleartext tunnels bound to (peer address, id) when enforced;
 * encrypted VPCs' tunnels bound to (WireGuard link, peer's seal address, id)
 * always, their ids dropped in cleartext, VXLAN to a seal address kept off
 * every other way out, and the WireGuard port open to the peers only.
 */
export function nftScript(policy: FirewallPolicy): string {
  const reset = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;
  const sealed = policy.sealed.length > 0;
  if (!policy.enforce && !sealed) return reset;
  const v6 = (a: string): boolean => a.includes(':');
  const sealed4 = policy.sealed.filter((t) => !v6(t.address));
  const sealed6 = policy.sealed.filter((t) => v6(t.address));
  const ids = [...new Set(policy.sealed.map((t) => t.vni))].sort((a, b) => a - b);
  const via = policy.sealed[0]?.via ?? '';
  const lines = [
    `  comment "${NFT_COMMENT}"`,
    ...(policy.enforce ? [set('vxlan4', 'ip saddr', policy.tunnels4), set('vxlan6', 'ip6 saddr', policy.tunnels6)] : []),
    ...(sealed
      ? [
          sealedSet('sealed4', 'ip saddr', sealed4),
          sealedSet('sealed6', 'ip6 saddr', sealed6),
          `  set sealed_ids {\n    typeof ${NFT_VNI}\n    elements = { ${ids.join(', ')} }\n  }`,
          addressSet('seal_remote4', 'ipv4_addr', [...new Set(sealed4.map((t) => t.address))]),
          addressSet('seal_remote6', 'ipv6_addr', [...new Set(sealed6.map((t) => t.address))]),
          addressSet('wg_peers4', 'ipv4_addr', policy.wgPeers.filter((a) => !v6(a))),
          addressSet('wg_peers6', 'ipv6_addr', policy.wgPeers.filter(v6)),
        ]
      : []),
    '  chain input {',
    '    type filter hook input priority filter - 1; policy accept;',
    ...(sealed
      ? [
          `    udp dport ${VXLAN_PORT} iifname . ip saddr . ${NFT_VNI} @sealed4 accept`,
          `    udp dport ${VXLAN_PORT} iifname . ip6 saddr . ${NFT_VNI} @sealed6 accept`,
          `    udp dport ${VXLAN_PORT} ${NFT_VNI} @sealed_ids counter drop comment "an encrypted VPC's VXLAN id outside WireGuard"`,
        ]
      : []),
    ...(policy.enforce
      ? [
          `    udp dport ${VXLAN_PORT} ip saddr . ${NFT_VNI} @vxlan4 accept`,
          `    udp dport ${VXLAN_PORT} ip6 saddr . ${NFT_VNI} @vxlan6 accept`,
          `    udp dport ${VXLAN_PORT} counter drop comment "VXLAN that is not a tunnel of this host (peer address and VXLAN id)"`,
        ]
      : []),
    ...(sealed && policy.wgPort !== null
      ? [
          `    udp dport ${policy.wgPort} ip saddr @wg_peers4 accept`,
          `    udp dport ${policy.wgPort} ip6 saddr @wg_peers6 accept`,
          `    udp dport ${policy.wgPort} counter drop comment "WireGuard from a host that is not a peer"`,
        ]
      : []),
    '  }',
    ...(sealed
      ? [
          '  chain output {',
          '    type filter hook output priority filter - 1; policy accept;',
          `    udp dport ${VXLAN_PORT} ip daddr @seal_remote4 oifname != "${via}" counter drop comment "an encrypted tunnel never leaves in cleartext"`,
          `    udp dport ${VXLAN_PORT} ip6 daddr @seal_remote6 oifname != "${via}" counter drop comment "an encrypted tunnel never leaves in cleartext"`,
          '  }',
        ]
      : []),
  ];
  return `${reset}table inet ${NFT_TABLE} {\n${lines.join('\n')}\n}\n`;
}
