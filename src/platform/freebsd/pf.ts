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
 *
 * Encrypted VPCs (whatever `enforce` says): VXLAN from a peer's seal address
 * is blocked unless it arrives on the WireGuard link, VXLAN to one unless it
 * leaves by it, and the WireGuard port is open to the peers only. A sealed
 * VPC's id sent in cleartext from a peer that shares a cleartext VPC with
 * this host cannot be told apart here (no id matching): Linux drops it.
 */
import { peerAddresses, type FirewallPolicy } from '../../core/firewall.js';
import { VXLAN_PORT } from '../../core/ops.js';

export const PF_ANCHOR = 'meshvpc';
export const PF_TABLE = 'meshvpc_vxlan_peers';
/** pf labels hold 63 characters. */
export const PF_LABEL = 'meshvpc: VXLAN from a non-member';

export const PF_SEAL_TABLE = 'meshvpc_seal_peers';
export const PF_WG_TABLE = 'meshvpc_wg_peers';

/** The rules of encrypted VPCs' tunnels (none when there are none). */
function sealedRules(policy: FirewallPolicy): string[] {
  if (policy.sealed.length === 0) return [];
  const via = policy.sealed[0]?.via ?? '';
  const remotes = [...new Set(policy.sealed.map((t) => t.address))];
  return [
    `# encrypted VPCs: VXLAN with a peer's seal address only through ${via}; WireGuard only from peers`,
    ...policy.sealed.map((t) => `# ${t.address} (${t.peer}): VXLAN ${t.vni} (${t.vpc}) inside WireGuard`),
    `table <${PF_SEAL_TABLE}> const { ${remotes.join(', ')} }`,
    `block drop in quick on ! ${via} proto udp from <${PF_SEAL_TABLE}> to any port ${VXLAN_PORT} label "meshvpc: sealed VXLAN outside WireGuard"`,
    `block drop out quick on ! ${via} proto udp from any to <${PF_SEAL_TABLE}> port ${VXLAN_PORT} label "meshvpc: sealed VXLAN leaving in cleartext"`,
    ...(policy.wgPort === null
      ? []
      : [
          ...(policy.wgPeers.length > 0 ? [`table <${PF_WG_TABLE}> const { ${policy.wgPeers.join(', ')} }`] : []),
          `block drop in quick proto udp from ${policy.wgPeers.length > 0 ? `! <${PF_WG_TABLE}>` : 'any'} to any port ${policy.wgPort} label "meshvpc: WireGuard from a non-peer"`,
        ]),
  ];
}

export function pfAnchorRules(policy: FirewallPolicy): string {
  const head = [
    `# managed by meshvpc: anchor "${PF_ANCHOR}" (pf.conf must call it: anchor "${PF_ANCHOR}")`,
  ];
  const sealed = sealedRules(policy);
  if (!policy.enforce) return [...head, '# VXLAN filter off (no VPC here, or one with firewall=0)', ...sealed, ''].join('\n');
  // Seal addresses are VXLAN sources too (through WireGuard): the non-member rule must not block them.
  const peers = [...peerAddresses(policy), ...new Set(policy.sealed.map((t) => t.address))];
  const tunnels = [...policy.tunnels4, ...policy.tunnels6];
  const notes = peerAddresses(policy).map((a) => {
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
    ...sealed,
    '',
  ].join('\n');
}
