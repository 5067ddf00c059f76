/**
 * A VPC with its peer map must hang together: every pair joins two members,
 * has a VNI and a slot no other pair has, and its addresses are exactly the
 * block its slot names in the peer network. A definition from another host is
 * checked as a whole before it is stored.
 */
import { UserError } from './errors.js';
import { blockFor, capacity, pairsNeeded } from './peermap.js';
import type { VpcWithMap } from './types.js';
import { network } from './validate.js';
import { checkPeerNetwork, checkPeerNetworkAgainstUnderlay, checkUnderlayAddress } from './addrules.js';

/** Far above any real VPC (the etcd backend aims at 64 hosts), far below what hurts a host. */
export const MAX_MEMBERS = 256;

export function checkVpc(vpc: VpcWithMap): VpcWithMap {
  const bad = (why: string): never => {
    throw new UserError(`bad VPC definition for ${vpc.name}: ${why}`);
  };
  const net = checkPeerNetwork(network(vpc.peerNetwork, 'peer_network'));
  if (vpc.members.length > MAX_MEMBERS) bad(`${vpc.members.length} members, at most ${MAX_MEMBERS} are allowed`);
  const members = new Set(vpc.members.map((m) => m.node));
  if (members.size !== vpc.members.length) bad('a member is listed twice');
  for (const m of vpc.members) {
    if (m.underlay.includes(':') !== (vpc.family === 6)) bad(`member ${m.node} has an IPv${vpc.family === 6 ? 4 : 6} underlay address in an IPv${vpc.family} VPC`);
    checkUnderlayAddress(m.underlay, `underlay of ${m.node}`);
  }
  const underlays = new Set(vpc.members.map((m) => m.underlay));
  if (underlays.size !== vpc.members.length) bad('two members share an underlay address');
  checkPeerNetworkAgainstUnderlay(net, vpc.members);
  const fits = capacity(net);
  if (vpc.pairs.length > pairsNeeded(vpc.members.length)) bad(`${vpc.pairs.length} pairs for ${vpc.members.length} members (at most ${pairsNeeded(vpc.members.length)})`);
  const vnis = new Set<number>();
  const slots = new Set<number>();
  const sealed = vpc.encrypt === 'wireguard';
  if (!sealed && vpc.pairs.some((p) => p.sealSlot !== undefined && p.sealSlot !== null)) bad('a cleartext VPC has seal blocks');
  if (sealed) {
    if (!vpc.firewall) bad('it is encrypted with firewall=0 (an encrypted VPC needs the firewall)');
    for (const m of vpc.members) if (!m.wgKey || !m.wgPort) bad(`member ${m.node} has no WireGuard key or port, and ${vpc.name} is encrypted`);
    const keys = new Set(vpc.members.map((m) => m.wgKey));
    if (keys.size !== vpc.members.length) bad('two members share a WireGuard key');
  }
  for (const p of vpc.pairs) {
    const label = `pair ${p.a}-${p.b}`;
    if (!(p.a < p.b)) bad(`${label} is not in canonical order`);
    if (!members.has(p.a) || !members.has(p.b)) bad(`${label} names a host that is not a member`);
    if (vnis.has(p.vni)) bad(`VXLAN id ${p.vni} is used twice`);
    if (slots.has(p.slot)) bad(`block ${p.slot} is used twice`);
    // A slot past the end would wrap the address arithmetic onto any address at all.
    if (!Number.isSafeInteger(p.slot) || p.slot < 0 || p.slot >= fits) bad(`${label} has block ${p.slot}, but ${vpc.peerNetwork} holds blocks 0-${fits - 1}`);
    vnis.add(p.vni);
    slots.add(p.slot);
    if (sealed) {
      const s = p.sealSlot;
      if (s === undefined || s === null) bad(`${label} has no seal block, and ${vpc.name} is encrypted`);
      else {
        if (!Number.isSafeInteger(s) || s < 0 || s >= fits) bad(`${label} has seal block ${s}, but ${vpc.peerNetwork} holds blocks 0-${fits - 1}`);
        if (slots.has(s)) bad(`block ${s} is used twice`);
        slots.add(s);
      }
    }
    const want = blockFor(net, p.slot);
    if (p.addrA !== want.addrA || p.addrB !== want.addrB || p.prefix !== want.prefix) {
      bad(`${label} has ${p.addrA}/${p.prefix} and ${p.addrB}/${p.prefix}, but block ${p.slot} of ${vpc.peerNetwork} is ${want.addrA}/${want.prefix} and ${want.addrB}/${want.prefix}`);
    }
  }
  return vpc;
}
