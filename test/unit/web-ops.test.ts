/**
 * The web console's progress of long operations (src/console/ops.ts): SSE
 * steps folded into per-host lines, then the final GET /operations/{id}.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, applyFinal, newOp, shortOp, type OpView } from '../../src/console/ops.js';

const fold = (v: OpView, ...events: unknown[]): OpView => events.reduce<OpView>((o, e) => applyEvent(o, e), v);
const lines = (v: OpView): string[] => v.hosts.map((h) => `${h.host}:${h.state}`);

describe('ops', () => {
  test('a new operation waits for the hosts it expects; vpc.deploy is shown as deploy', () => {
    const v = newOp('1', 'vpc.deploy', 'vpc1', ['host1', 'host2']);
    assert.equal(v.op, 'deploy');
    assert.equal(v.status, 'running');
    assert.deepEqual(lines(v), ['host1:waiting', 'host2:waiting']);
    assert.equal(shortOp('vpc.collapse'), 'collapse');
    assert.equal(shortOp('jcreate'), 'jcreate');
  });

  test('deploy: checking, host outcomes (ok, failed, leaving) and unreachable hosts', () => {
    const v = fold(
      newOp('1', 'vpc.deploy', 'vpc1', ['host1', 'host2', 'host3']),
      { type: 'checking', peers: 2, vpc: 'vpc1' },
      { type: 'host', outcome: { host: 'host2', ok: true, role: 'member', changes: 1, seconds: 0.42 } },
      { type: 'host', outcome: { host: 'host1', ok: false, error: 'nft: permission denied', seconds: 1 } },
      { type: 'unreachable', host: 'host3', error: 'ssh: timeout' },
    );
    assert.deepEqual(lines(v), ['host1:failed', 'host2:ok', 'host3:failed']);
    assert.equal(v.hosts[1]?.text, 'converged, 1 change in 0.4 s');
    assert.equal(v.hosts[0]?.text, 'failed: nft: permission denied in 1.0 s');
    assert.equal(v.hosts[2]?.text, 'unreachable: ssh: timeout');
    assert.deepEqual(v.notes, ['checking 2 peers of vpc1']);
    const left = applyEvent(newOp('2', 'vpc.leave', 'vpc1'), { type: 'host', outcome: { host: 'host4', ok: true, role: 'leaving', changes: 3 } });
    assert.equal(left.hosts[0]?.text, 'left, 3 changes');
  });

  test('connected and applying show on a host\'s line while it works, never over its outcome', () => {
    let v = fold(newOp('1', 'vpc.deploy', 'vpc1', ['host1', 'host2']), { type: 'connected', host: 'host2', version: '0.2.0' });
    assert.deepEqual(v.hosts.map((h) => h.text), ['waiting…', 'connected (meshvpc 0.2.0)']);
    v = fold(v, { type: 'applying', host: 'host2' });
    assert.deepEqual([v.hosts[1]?.state, v.hosts[1]?.text], ['waiting', 'applying…']);
    v = fold(v, { type: 'host', outcome: { host: 'host2', ok: true, changes: 1 } }, { type: 'applying', host: 'host2' }, { type: 'connected', host: 'host2', version: '0.2.0' });
    assert.deepEqual([v.hosts[1]?.state, v.hosts[1]?.text], ['ok', 'converged, 1 change']);
    assert.deepEqual(fold(newOp('2', 'deploy', 'vpc1'), { type: 'connected', host: 'host9' }).hosts, [{ host: 'host9', state: 'waiting', text: 'connected' }]);
    assert.deepEqual(v.notes, [], 'no raw JSON notes');
  });

  test('a later outcome for the same host replaces its line; an unexpected host is added', () => {
    const v = fold(
      newOp('1', 'deploy', 'vpc1', ['host1']),
      { type: 'unreachable', host: 'host1', error: 'x' },
      { type: 'host', outcome: { host: 'host1', ok: true, changes: 0 } },
      { type: 'host', outcome: { host: 'host9', ok: true } },
    );
    assert.deepEqual(lines(v), ['host1:ok', 'host9:ok']);
  });

  test('notes: older peers, re-allocation, messages; dry-run commands and empty events add nothing', () => {
    const v = fold(
      newOp('1', 'deploy', 'vpc1'),
      { type: 'older_peer', host: 'host2', version: '0.1.0', ours: '0.2.0' },
      { type: 'reallocating', vnis: [100, 101], round: 2 },
      { type: 'mtu_differs', vpc: 'vpc1', smaller: [{ node: 'host3', link: 1400, tunnel: 1350 }], segment: 1350, others: 1450, needs: 1330 },
      { type: 'dryrun_command', command: 'ip link add' },
      { message: 'hello' },
      {},
      null,
    );
    assert.deepEqual(v.notes, ['host2 runs meshvpc 0.1.0 (this host: 0.2.0)', 'VXLAN ids 100, 101 taken elsewhere: re-allocating (round 2)', 'smaller underlay links (host3 1400): the segment uses 1350 (others 1450)', 'hello']);
    assert.deepEqual(v.hosts, []);
  });

  test('the view is never changed in place', () => {
    const v = newOp('1', 'deploy', 'vpc1', ['host1']);
    const before = JSON.stringify(v);
    fold(v, { type: 'host', outcome: { host: 'host1', ok: true } }, { type: 'checking', peers: 1 });
    assert.equal(JSON.stringify(v), before);
  });

  test('the final answer: replays its events, adds per-host results and this host\'s own part, closes waiting lines', () => {
    const v = newOp('1', 'vpc.destroy', 'vpc1', ['host1', 'host2', 'host3']);
    const done = applyFinal(v, {
      id: '1',
      op: 'vpc.destroy',
      vpc: 'vpc1',
      status: 'failure',
      events: [{ id: '1', event: { type: 'torn_down', outcome: { host: 'host2', ok: true } } }],
      result: { self: { node: 'host1', ops: [1, 2] } },
      error: { error: { kind: 'unreachable', message: 'host3 did not answer' } },
    });
    assert.equal(done.status, 'failure');
    assert.equal(done.error, 'host3 did not answer');
    assert.deepEqual(lines(done), ['host1:ok', 'host2:ok', 'host3:waiting']);
    assert.equal(done.hosts[0]?.text, 'destroyed, 2 changes');
    assert.equal(done.hosts[2]?.text, 'no report');
    const running = applyFinal(newOp('2', 'deploy', 'vpc1', ['host1']), { id: '2', op: 'vpc.deploy', vpc: 'vpc1', status: 'running' });
    assert.equal(running.hosts[0]?.text, 'waiting…', 'a running operation keeps its waiting lines');
    const ok = applyFinal(newOp('3', 'deploy', 'vpc1'), { id: '3', op: 'vpc.deploy', vpc: 'vpc1', status: 'success', result: { hosts: [{ host: 'host1', ok: true, changes: 2 }] }, error: null });
    assert.deepEqual([ok.status, ok.error, ok.hosts[0]?.text], ['success', null, 'converged, 2 changes']);
  });
});

test('accepted (checks passed, maybe waiting for the VPC lock) changes nothing shown', async () => {
  const { applyEvent } = await import('../../src/console/ops.js');
  const v = { op: 'deploy', vpc: 'vpc1', hosts: [], notes: [], status: 'running', error: null };
  assert.deepEqual(applyEvent(v as never, { type: 'accepted', vpc: 'vpc1' }), v);
});
