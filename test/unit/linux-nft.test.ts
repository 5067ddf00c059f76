import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { NFT_COMMENT, nftScript, nftTableIsOurs } from '../../src/platform/linux/nft.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import { firewallPolicy } from '../../src/core/firewall.js';
import { cluster, vpcOf } from './firewall-fixtures.js';
import { spawnSync } from 'node:child_process';

const policy = { enforce: true, tunnels4: [{ address: '192.0.2.2', vni: 100, peer: 'host2', vpc: 'vpc1' }], tunnels6: [], sealed: [], wgPort: null, wgPeers: [] };
const LIST = ['nft', 'list', 'table', 'inet', 'meshvpc'];

test('meshvpc marks its nftables table and knows its own from a foreign one', () => {
  assert.match(nftScript(policy), new RegExp(`table inet meshvpc \\{\\n  comment "${NFT_COMMENT}"`));
  assert.equal(nftTableIsOurs(`table inet meshvpc {\n\tcomment "${NFT_COMMENT}"\n\tchain input {\n\t}\n}\n`), true);
  assert.equal(nftTableIsOurs('table inet meshvpc {\n\tchain input {\n\t\tcomment "managed by meshvpc"\n\t}\n}\n'.replace('\t\tcomment', '\t\tcounter comment')), false);
  assert.equal(nftTableIsOurs('table inet meshvpc {\n\tchain forward {\n\t}\n}\n'), false);
});

test('a foreign table named meshvpc is refused when rules are needed and left alone when not', async () => {
  const foreign = new RecordingExecutor().on(LIST, { stdout: 'table inet meshvpc {\n\tchain forward {\n\t}\n}\n' });
  await assert.rejects(linuxDriver(foreign).firewall?.apply(policy) ?? Promise.resolve(), /table inet meshvpc exists and is not meshvpc's/);
  await linuxDriver(foreign).firewall?.apply({ enforce: false, tunnels4: [], tunnels6: [], sealed: [], wgPort: null, wgPeers: [] });
  assert.ok(!foreign.lines().some((l) => l.startsWith('nft -f')), foreign.lines().join('; '));

  const ours = new RecordingExecutor().on(LIST, { stdout: `table inet meshvpc {\n\tcomment "${NFT_COMMENT}"\n}\n` });
  await linuxDriver(ours).firewall?.apply(policy);
  assert.ok(ours.lines().includes('nft -f -'));
  const none = new RecordingExecutor().on(LIST, { code: 1, stderr: 'Error: No such file or directory' });
  await linuxDriver(none).firewall?.apply(policy);
  assert.ok(none.lines().includes('nft -f -'));
});

const NODE1 = `table inet meshvpc
delete table inet meshvpc
table inet meshvpc {
  comment "managed by meshvpc"
  set vxlan4 {
    typeof ip saddr . @th,96,24
    elements = { 192.0.2.2 . 100, 192.0.2.3 . 101, 192.0.2.3 . 103 }
  }
  set vxlan6 {
    typeof ip6 saddr . @th,96,24
    elements = { 2001:db8::2 . 104 }
  }
  chain input {
    type filter hook input priority filter - 1; policy accept;
    udp dport 4789 ip saddr . @th,96,24 @vxlan4 accept
    udp dport 4789 ip6 saddr . @th,96,24 @vxlan6 accept
    udp dport 4789 counter drop comment "VXLAN that is not a tunnel of this host (peer address and VXLAN id)"
  }
}
`;

test('nftables: one (source address . VXLAN id) element per tunnel of this host, per family; the rest counted and dropped', () => {
  const script = nftScript(firewallPolicy('node1', cluster()));
  assert.equal(script, NODE1);
  // vpc1's node2-node3 pair (102), a VPC node1 is not in (105), one not up here (106): no element.
  for (const vni of [102, 105, 106]) assert.doesNotMatch(script, new RegExp(`\\. ${vni}\\b`));
  assert.doesNotMatch(script, /192\.0\.2\.4/);
});

test('nftables: firewall=0 on an active VPC here leaves only the removal of the table; one member alone drops all VXLAN', () => {
  assert.equal(nftScript(firewallPolicy('node1', cluster({ firewallOff: 'vpc1' }))), 'table inet meshvpc\ndelete table inet meshvpc\n');
  const alone = nftScript(firewallPolicy('node1', [{ def: vpcOf('solo', ['node1'], 4, new Set()), active: true }]));
  assert.match(alone, /set vxlan4 \{\n {4}typeof ip saddr \. @th,96,24\n {2}\}/);
  assert.match(alone, /udp dport 4789 counter drop/);
});

/** `nft -c` (check only, nothing loaded) inside a network namespace of its own, never the host's. */
function nftCheck(script: string): { code: number | null; stderr: string } {
  const r = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: script, encoding: 'utf8' });
  return { code: r.error ? null : r.status, stderr: r.stderr ?? '' };
}
const canCheck = process.getuid?.() === 0 && nftCheck('').code === 0;

test('nftables: the rendered scripts parse and check with this machine\'s nft (in a throwaway network namespace)', { skip: canCheck ? false : 'needs root, unshare and nft' }, () => {
  for (const p of [firewallPolicy('node1', cluster()), firewallPolicy('node2', cluster()), firewallPolicy('node1', [{ def: vpcOf('solo', ['node1'], 6, new Set()), active: true }])]) {
    const r = nftCheck(nftScript(p));
    assert.equal(r.code, 0, r.stderr);
  }
});
