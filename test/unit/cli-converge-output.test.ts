/** deploy/join/leave print the lines they always printed, now from events and a result that --json prints as data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventLine, summaryLine, syncLine, syncSummary } from '../../src/adapters/cli/converge-output.js';
import type { ConvergeResult, HostOutcome } from '../../src/app/vpc-cluster.js';

const host = (over: Partial<HostOutcome>): HostOutcome => ({ host: 'host2', role: 'member', dryrun: false, ok: true, changes: 12, error: null, kind: null, seconds: 0.254, ...over });

test('progress lines read as before', () => {
  assert.equal(eventLine({ type: 'checking', vpc: 'vpc1', peers: 2 }), 'vpc1: checking 2 peers');
  assert.equal(eventLine({ type: 'checking', vpc: 'vpc1', peers: 1 }), 'vpc1: checking 1 peer');
  assert.equal(eventLine({ type: 'unreachable', host: 'host3', error: 'cannot reach host3 (192.0.2.3 port 22): x' }), '  host3: UNREACHABLE: cannot reach host3 (192.0.2.3 port 22): x');
  assert.equal(eventLine({ type: 'host', outcome: host({}) }), '  host2: converged, 12 changes (0.25s)');
  assert.equal(eventLine({ type: 'host', outcome: host({ changes: 1 }) }), '  host2: converged, 1 change (0.25s)');
  assert.equal(eventLine({ type: 'host', outcome: host({ changes: 0 }) }), '  host2: converged, no changes (0.25s)');
  assert.equal(eventLine({ type: 'host', outcome: host({ dryrun: true }) }), '  host2: would apply 12 changes (0.25s)');
  assert.equal(eventLine({ type: 'host', outcome: host({ role: 'leaving', changes: 3 }) }), '  host2: left, 3 changes (0.25s)');
  assert.equal(eventLine({ type: 'host', outcome: host({ ok: false, changes: null, error: 'host2: refused: x', kind: 'invalid' }) }), '  host2: FAILED: host2: refused: x (0.25s)');
  assert.equal(eventLine({ type: 'reallocating', vpc: 'b13', vnis: [106], round: 1 }), 'b13: VXLAN id 106 taken meanwhile by another VPC; allocating others (round 1)');
  assert.equal(eventLine({ type: 'dryrun_command', host: 'host1', argv: ['ip', 'link', 'set', 'dev', 'x', 'alias', 'a b'] }), "  [dryrun] host1: ip link set dev x alias 'a b'");
  assert.equal(eventLine({ type: 'older_peer', host: 'host2', version: '0.1.0', ours: '0.2.0' }), '  host2: runs meshvpc 0.1.0 (this host 0.2.0): it checks the VPC only when it applies it; upgrade it');
});

test('the summary line reads as before (benchmarks and users have read it for a release)', () => {
  const r: ConvergeResult = { vpc: 'vpc1', dryrun: false, members: 3, converged: 3, leaving: 1, leftCleanly: 1, changes: 36, seconds: 1.104, timing: { connectMs: 516, checkMs: 284, applyMs: 293 }, hosts: [], current: [], mtu: null, ok: true };
  assert.equal(summaryLine(r), 'vpc1: 3 of 3 hosts converged, 1 of 1 leaving hosts cleaned up, 36 changes (1.10s; connect 516ms, check 284ms, sync+apply 293ms)');
  assert.equal(summaryLine({ ...r, leaving: 0, leftCleanly: 0, changes: 1, timing: { ...r.timing, checkMs: null } }), 'vpc1: 3 of 3 hosts converged, 1 change (1.10s; connect 516ms, sync+apply 293ms)');
  // A no-op deploy's members left alone as current (core/applied.ts) are counted, and each says so.
  assert.equal(summaryLine({ ...r, leaving: 0, leftCleanly: 0, changes: 0, current: ['host2', 'host3'], timing: { ...r.timing, checkMs: null } }), 'vpc1: 3 of 3 hosts converged, 0 changes, 2 left alone as current (1.10s; connect 516ms, sync+apply 293ms)');
  assert.equal(eventLine({ type: 'host', outcome: host({ changes: 0, seconds: 0, current: true }) }), '  host2: current, left alone (0.00s)');
});

test('sync prints a line per peer and its summary as before, or the result as data', () => {
  const o = { host: 'host2', ok: true, result: 'created', error: null, kind: null, seconds: 0.31 };
  assert.equal(syncLine(o), '  host2: synced: created (0.31s)');
  assert.equal(syncLine({ ...o, ok: false, result: null, error: 'host2: refused: x', kind: 'invalid' }), '  host2: FAILED: host2: refused: x (0.31s)');
  const r = { vpc: 'vpc1', pairs: 3, dryrun: false, peers: ['host2', 'host3'], hosts: [o, { ...o, host: 'host3' }], synced: 2, ok: true };
  assert.equal(syncSummary(r), 'vpc1: synced to 2 of 2 peers');
  assert.equal(syncSummary({ ...r, dryrun: true, hosts: [], synced: 0 }), '[dryrun] would send vpc1 (3 pairs) to host2, host3');
  assert.equal(syncSummary({ ...r, dryrun: true, pairs: 1, peers: [] }), '[dryrun] would send vpc1 (1 pair) to no other member');
});

test('members whose links differ: one warning line naming the VPC, the smaller links and what the segment uses', () => {
  const spread = { vpc: 'vpc1', smaller: [{ node: 'host3', link: 1400, tunnel: 1350 }], segment: 1350, others: 1450, needs: 1330 };
  assert.equal(eventLine({ type: 'mtu_differs', ...spread }), "warning: vpc1: host3's link carries 1400, so its tunnels and the segment use 1350 (others 1450)");
  assert.equal(
    eventLine({ type: 'mtu_differs', ...spread, smaller: [...spread.smaller, { node: 'host4', link: 1420, tunnel: 1370 }, { node: 'host5', link: 1450, tunnel: 1400 }] }),
    "warning: vpc1: host3's link carries 1400, host4's 1420 and host5's 1450, so their tunnels and the segment use 1350 (others 1450)",
  );
  assert.equal(
    eventLine({ type: 'mtu_differs', vpc: 'vpc1', smaller: [{ node: 'host3', link: 1300, tunnel: 1250 }], segment: 1280, others: 1450, needs: 1330 }),
    "warning: vpc1: host3's link carries 1300, so its tunnels and the segment use 1280 (others 1450); host3 cannot take in 1280-byte frames (a link of 1330 can): raise its link MTU",
  );
});
