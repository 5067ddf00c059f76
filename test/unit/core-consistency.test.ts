import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVpc } from '../../src/core/consistency.js';
import { allocatePeerMap } from '../../src/core/peermap.js';
import { network } from '../../src/core/validate.js';
import type { VpcWithMap } from '../../src/core/types.js';

const members = ['n1', 'n2', 'n3'].map((node, i) => ({ node, underlay: `192.0.2.${i + 1}` }));
const good: VpcWithMap = {
  name: 'vpc1',
  peerNetwork: '198.51.100.0/24',
  family: 4,
  mtu: null,
  firewall: true,
  members,
  pairs: allocatePeerMap({ members: ['n1', 'n2', 'n3'], network: network('198.51.100.0/24', 'x'), existing: [], takenVnis: new Set() }),
};

test('a map made by the allocator is consistent', () => {
  assert.equal(checkVpc(good), good);
});

test('inconsistent definitions are refused, saying what is wrong', () => {
  const [p0, p1, p2] = good.pairs as [VpcWithMap['pairs'][number], VpcWithMap['pairs'][number], VpcWithMap['pairs'][number]];
  const cases: [Partial<VpcWithMap>, RegExp][] = [
    [{ pairs: [p0, { ...p1, vni: p0.vni }, p2] }, /VXLAN id 100 is used twice/],
    [{ pairs: [p0, { ...p1, slot: p0.slot, addrA: p0.addrA, addrB: p0.addrB }, p2] }, /block 0 is used twice/],
    [{ pairs: [{ ...p0, b: 'n9' }, p1, p2] }, /pair n1-n9 names a host that is not a member/],
    [{ pairs: [{ ...p0, a: p0.b, b: p0.a }, p1, p2] }, /not in canonical order/],
    [{ pairs: [{ ...p0, addrB: '192.0.2.2' }, p1, p2] }, /block 0 of 198\.51\.100\.0\/24 is 198\.51\.100\.1\/30 and 198\.51\.100\.2\/30/],
    [{ pairs: [{ ...p0, prefix: 24 }, p1, p2] }, /block 0/],
    [{ members: [...members, { node: 'n1', underlay: '192.0.2.9' }] }, /listed twice/],
    [{ members: [{ node: 'n1', underlay: '2001:db8::1' }, ...members.slice(1)] }, /member n1 has an IPv6 underlay address in an IPv4 VPC/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => checkVpc({ ...good, ...change }), message, JSON.stringify(change).slice(0, 80));
  }
});
