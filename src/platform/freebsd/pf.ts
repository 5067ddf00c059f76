/**
 * The pf rules for a FirewallPolicy, as the contents of an anchor of
 * meshvpc's own ("meshvpc"; `pfctl -a meshvpc -f -` replaces them at once and
 * touches no other rule). Nothing runs them yet: the FreeBSD driver has no
 * firewall backend, so this is the renderer and its golden file only.
 *
 * What pf can and cannot do here (pf.conf(5)): a rule matches addresses,
 * protocol and ports, never bytes of the UDP payload, so the VXLAN id cannot
 * be checked. The rules restrict UDP 4789 to the peer addresses of this
 * host's tunnels (a non-member is dropped), but a peer may still send with
 * any VXLAN id this host has, not only its own pair's: the id binding is
 * Linux-only. The comments list the ids each peer should be using.
 *
 * The anchor only blocks; it never passes anything, so the host's own rules
 * still apply to peers' VXLAN (as meshvpc's nftables table only drops what
 * the other tables would see too).
 */
import { peerAddresses, type FirewallPolicy } from '../../core/firewall.js';
import { VXLAN_PORT } from '../../core/ops.js';

export const PF_ANCHOR = 'meshvpc';
export const PF_TABLE = 'meshvpc_vxlan_peers';
/** pf labels hold 63 characters. */
export const PF_LABEL = 'meshvpc: VXLAN from a non-member';

export function pfAnchorRules(policy: FirewallPolicy): string {
  const head = [
    `# managed by meshvpc: anchor "${PF_ANCHOR}" (pf.conf must call it: anchor "${PF_ANCHOR}")`,
  ];
  if (!policy.enforce) return [...head, '# VXLAN filter off (no VPC here, or one with firewall=0)', ''].join('\n');
  const peers = peerAddresses(policy);
  const tunnels = [...policy.tunnels4, ...policy.tunnels6];
  const notes = peers.map((a) => {
    const mine = tunnels.filter((t) => t.address === a);
    return `# ${a} (${mine[0]?.peer ?? '?'}): VXLAN ${mine.map((t) => `${t.vni} (${t.vpc})`).join(', ')}`;
  });
  const from = peers.length > 0 ? `! <${PF_TABLE}>` : 'any';
  return [
    ...head,
    '# pf cannot read the VXLAN id (UDP payload): a peer is not held to its own ids.',
    ...notes,
    ...(peers.length > 0 ? [`table <${PF_TABLE}> const { ${peers.join(', ')} }`] : []),
    `block drop in quick proto udp from ${from} to any port ${VXLAN_PORT} label "${PF_LABEL}"`,
    '',
  ].join('\n');
}
