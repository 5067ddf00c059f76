/**
 * The nftables ruleset for a FirewallPolicy: one table of meshvpc's own,
 * replaced atomically (declare, delete, define in one `nft -f` transaction),
 * so other tables on the host are never touched.
 */
import type { FirewallPolicy } from '../../core/firewall.js';
import { VXLAN_PORT } from '../../core/ops.js';

export const NFT_TABLE = 'meshvpc';
/** meshvpc's mark on its table: a table of that name without it is someone else's and is never replaced. */
export const NFT_COMMENT = 'managed by meshvpc';

/** `nft list table inet meshvpc` text -> whether the table carries meshvpc's mark. */
export function nftTableIsOurs(listing: string): boolean {
  return listing.split('\n').some((l) => l.trim() === `comment "${NFT_COMMENT}"`);
}

function set(name: string, type: string, elements: readonly string[]): string {
  return `  set ${name} {\n    type ${type}\n${elements.length > 0 ? `    elements = { ${elements.join(', ')} }\n` : ''}  }`;
}

export function nftScript(policy: FirewallPolicy): string {
  const reset = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;
  if (!policy.enforce) return reset;
  return `${reset}table inet ${NFT_TABLE} {
  comment "${NFT_COMMENT}"
${set('peers4', 'ipv4_addr', policy.peers4)}
${set('peers6', 'ipv6_addr', policy.peers6)}
  chain input {
    type filter hook input priority filter - 1; policy accept;
    udp dport ${VXLAN_PORT} ip saddr @peers4 accept
    udp dport ${VXLAN_PORT} ip6 saddr @peers6 accept
    udp dport ${VXLAN_PORT} counter drop comment "VXLAN from outside the VPCs' members"
  }
}
`;
}
