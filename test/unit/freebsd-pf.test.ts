import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firewallPolicy } from '../../src/core/firewall.js';
import { PF_LABEL, pfAnchorRules } from '../../src/platform/freebsd/pf.js';
import { fixture } from './freebsd-helpers.js';
import { cluster, vpcOf } from './firewall-fixtures.js';

test('golden: pf anchor for node1 of several VPCs over IPv4 and IPv6 (golden-pf-node1.txt)', () => {
  assert.equal(pfAnchorRules(firewallPolicy('node1', cluster())), fixture('golden-pf-node1.txt'));
});

test('pf: only the peers of this host\'s tunnels; none for a pair or a VPC it is not in', () => {
  const rules = pfAnchorRules(firewallPolicy('node1', cluster()));
  assert.doesNotMatch(rules, /192\.0\.2\.4/, 'node4 shares no tunnel with node1');
  assert.doesNotMatch(rules, /\b10[256]\b/);
  const node2 = pfAnchorRules(firewallPolicy('node2', cluster()));
  assert.match(node2, /^table <meshvpc_vxlan_peers> const \{ 192\.0\.2\.1, 192\.0\.2\.3, 192\.0\.2\.4, 2001:db8::1 \}$/m);
  assert.match(node2, /^# 192\.0\.2\.3 \(node3\): VXLAN 102 \(vpc1\)$/m);
});

test('pf: firewall=0 here renders an empty anchor; a member alone drops all VXLAN; the label fits pf', () => {
  const off = pfAnchorRules(firewallPolicy('node1', cluster({ firewallOff: 'vpc6' })));
  assert.ok(off.split('\n').every((l) => l === '' || l.startsWith('#')), off);
  const alone = pfAnchorRules(firewallPolicy('node1', [{ def: vpcOf('solo', ['node1'], 4, new Set()), active: true }]));
  assert.match(alone, /^block drop in quick proto udp from any to any port 4789 label /m);
  assert.doesNotMatch(alone, /^table/m);
  assert.ok(PF_LABEL.length < 64);
});

test('golden: pf anchor with an encrypted VPC beside a cleartext one (golden-pf-sealed.txt); sealed rules stay with the filter off', () => {
  const sealed = [
    { address: '198.51.100.6', vni: 101, peer: 'node2', vpc: 'sealed', via: 'meshvpc-wg' },
    { address: '198.51.100.14', vni: 102, peer: 'node3', vpc: 'sealed', via: 'meshvpc-wg' },
  ];
  const policy = { enforce: true, tunnels4: [{ address: '192.0.2.2', vni: 100, peer: 'node2', vpc: 'plain' }], tunnels6: [], sealed, wgPort: 51820, wgPeers: ['192.0.2.2', '192.0.2.3'] };
  assert.equal(pfAnchorRules(policy), fixture('golden-pf-sealed.txt'));
  const off = pfAnchorRules({ ...policy, enforce: false });
  assert.match(off, /^block drop in quick on ! meshvpc-wg proto udp from <meshvpc_seal_peers> to any port 4789 /m);
  assert.match(off, /^block drop in quick proto udp from ! <meshvpc_wg_peers> to any port 51820 /m);
  assert.doesNotMatch(off, /meshvpc_vxlan_peers/);
});
