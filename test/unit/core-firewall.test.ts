import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firewallPolicy, peerAddresses, type VxlanBinding } from '../../src/core/firewall.js';
import { cluster, vpcOf } from './firewall-fixtures.js';

const pairs = (ts: readonly VxlanBinding[]): string[] => ts.map((t) => `${t.address} ${t.vni} ${t.vpc} ${t.peer}`);

test('the policy binds each of this host\'s tunnels to its peer: (peer underlay address, VXLAN id), per family', () => {
  const p = firewallPolicy('node1', cluster());
  assert.equal(p.enforce, true);
  assert.deepEqual(pairs(p.tunnels4), ['192.0.2.2 100 vpc1 node2', '192.0.2.3 101 vpc1 node3', '192.0.2.3 103 vpc2 node3']);
  assert.deepEqual(pairs(p.tunnels6), ['2001:db8::2 104 vpc6 node2']);
  assert.deepEqual(peerAddresses(p), ['192.0.2.2', '192.0.2.3', '2001:db8::2']);
});

test('no binding for a pair this host is not in, a VPC it is not in, or a VPC whose tunnels are not up here', () => {
  const p = firewallPolicy('node1', cluster());
  const vnis = [...p.tunnels4, ...p.tunnels6].map((t) => t.vni);
  assert.ok(!vnis.includes(102), 'node2-node3 of vpc1 is not node1\'s');
  assert.ok(!vnis.includes(105), 'far: node1 is not a member');
  assert.ok(!vnis.includes(106), 'idle: no tunnels up on node1');
  assert.ok(![...p.tunnels4, ...p.tunnels6].some((t) => t.address === '192.0.2.4'));
  // The same map seen from node2 holds 102 and far's 105, and none of node1-node3's.
  const q = firewallPolicy('node2', cluster());
  assert.deepEqual(pairs(q.tunnels4), ['192.0.2.1 100 vpc1 node1', '192.0.2.3 102 vpc1 node3', '192.0.2.4 105 far node4']);
  assert.deepEqual(pairs(q.tunnels6), ['2001:db8::1 104 vpc6 node1']);
});

test('a pair whose other end is no longer a member gets no binding', () => {
  const taken = new Set<number>();
  const vpc = vpcOf('vpc1', ['node1', 'node2', 'node3'], 4, taken);
  const shrunk = { ...vpc, members: vpc.members.filter((m) => m.node !== 'node3') };
  assert.deepEqual(pairs(firewallPolicy('node1', [{ def: shrunk, active: true }]).tunnels4), ['192.0.2.2 100 vpc1 node2']);
});

test('firewall=0 on an active VPC here turns the whole filter off (no source filter, no id binding); elsewhere it does not', () => {
  assert.equal(firewallPolicy('node1', cluster({ firewallOff: 'vpc2' })).enforce, false);
  assert.equal(firewallPolicy('node1', cluster({ firewallOff: 'vpc6' })).enforce, false);
  // A VPC node1 is not in, or whose tunnels are down here, does not open node1.
  assert.equal(firewallPolicy('node1', cluster({ firewallOff: 'far' })).enforce, true);
  assert.equal(firewallPolicy('node1', cluster({ firewallOff: 'idle' })).enforce, true);
  assert.equal(firewallPolicy('node2', cluster({ firewallOff: 'far' })).enforce, false);
});

test('no active VPC: nothing to enforce; a VPC of one member: enforce with no tunnel (all VXLAN dropped)', () => {
  assert.equal(firewallPolicy('node9', cluster()).enforce, false);
  assert.equal(firewallPolicy('node1', []).enforce, false);
  const alone = firewallPolicy('node1', [{ def: vpcOf('solo', ['node1'], 4, new Set()), active: true }]);
  assert.deepEqual(alone, { enforce: true, tunnels4: [], tunnels6: [], sealed: [], wgPort: null, wgPeers: [] });
});
