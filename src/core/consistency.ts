/**
 * A VPC with its peer map must hang together: every pair joins two members,
 * has a VNI and a slot no other pair has, and its addresses are exactly the
 * block its slot names in the peer network. A definition from another host is
 * checked as a whole before it is stored.
 */
import { UserError } from './errors.js';
import { blockFor } from './peermap.js';
import type { VpcWithMap } from './types.js';
import { network } from './validate.js';

export function checkVpc(vpc: VpcWithMap): VpcWithMap {
  const bad = (why: string): never => {
    throw new UserError(`bad VPC definition for ${vpc.name}: ${why}`);
  };
  const net = network(vpc.peerNetwork, 'peer_network');
  const members = new Set(vpc.members.map((m) => m.node));
  if (members.size !== vpc.members.length) bad('a member is listed twice');
  for (const m of vpc.members) {
    if (m.underlay.includes(':') !== (vpc.family === 6)) bad(`member ${m.node} has an IPv${vpc.family === 6 ? 4 : 6} underlay address in an IPv${vpc.family} VPC`);
  }
  const vnis = new Set<number>();
  const slots = new Set<number>();
  for (const p of vpc.pairs) {
    const label = `pair ${p.a}-${p.b}`;
    if (!(p.a < p.b)) bad(`${label} is not in canonical order`);
    if (!members.has(p.a) || !members.has(p.b)) bad(`${label} names a host that is not a member`);
    if (vnis.has(p.vni)) bad(`VXLAN id ${p.vni} is used twice`);
    if (slots.has(p.slot)) bad(`block ${p.slot} is used twice`);
    vnis.add(p.vni);
    slots.add(p.slot);
    const want = blockFor(net, p.slot);
    if (p.addrA !== want.addrA || p.addrB !== want.addrB || p.prefix !== want.prefix) {
      bad(`${label} has ${p.addrA}/${p.prefix} and ${p.addrB}/${p.prefix}, but block ${p.slot} of ${vpc.peerNetwork} is ${want.addrA}/${want.prefix} and ${want.addrB}/${want.prefix}`);
    }
  }
  return vpc;
}
