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

export function nftScript(policy: FirewallPolicy): string {
  const reset = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;
  if (!policy.enforce) return reset;
  return `${reset}table inet ${NFT_TABLE} {
  comment "${NFT_COMMENT}"
${set('vxlan4', 'ip saddr', policy.tunnels4)}
${set('vxlan6', 'ip6 saddr', policy.tunnels6)}
  chain input {
    type filter hook input priority filter - 1; policy accept;
    udp dport ${VXLAN_PORT} ip saddr . ${NFT_VNI} @vxlan4 accept
    udp dport ${VXLAN_PORT} ip6 saddr . ${NFT_VNI} @vxlan6 accept
    udp dport ${VXLAN_PORT} counter drop comment "VXLAN that is not a tunnel of this host (peer address and VXLAN id)"
  }
}
`;
}
