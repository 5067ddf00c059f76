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
