/** Errors carry a kind: the CLI's exit status comes from it, and a peer's refusal keeps it across the wire. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { ERROR_KINDS, UserError } from '../../src/core/errors.js';
import { request } from '../../src/cluster/peers.js';
import type { Connection } from '../../src/cluster/ssh.js';
import { lostVnis } from '../../src/app/vpc-cluster.js';

const answering = (stdout: string): Connection => ({ hostKey: 'k', exec: async () => ({ code: 0, stdout, stderr: '' }), closed: () => false, close: () => undefined });

test('every kind has the exit status the README gives', () => {
  const status = Object.fromEntries(ERROR_KINDS.map((k) => [k, exitStatus(new UserError('x', k).kind)]));
  assert.deepEqual(status, { invalid: 2, not_found: 2, conflict: 2, busy: 4, unreachable: 1, host_key: 3, quota: 2, storage: 5, failed: 1 });
  assert.equal(new UserError('x').kind, 'invalid');
});

test('a peer\'s refusal keeps its kind and detail; a 0.1 peer\'s (text only) becomes "failed"', async () => {
  await assert.rejects(
    request(answering(JSON.stringify({ ok: false, error: 'VXLAN id 106 of b13 is already used by a23 on host2', kind: 'conflict', detail: { vni: 106 } })), { op: 'hello' }, 'host2'),
    (e: unknown) => e instanceof UserError && e.kind === 'conflict' && e.detail?.vni === 106 && e.message === 'host2: VXLAN id 106 of b13 is already used by a23 on host2',
  );
  await assert.rejects(request(answering(JSON.stringify({ ok: false, error: 'old words' })), { op: 'hello' }, 'host2'), (e: unknown) => e instanceof UserError && e.kind === 'failed');
  // A kind or detail the peer made up is not believed.
  await assert.rejects(
    request(answering(JSON.stringify({ ok: false, error: 'x', kind: 'root', detail: { vni: 'a'.repeat(500), 'bad key': 1 } })), { op: 'hello' }, 'host2'),
    (e: unknown) => e instanceof UserError && e.kind === 'failed' && e.detail === undefined,
  );
  await assert.rejects(request(answering('not json'), { op: 'hello' }, 'host2'), /host2: remote meshvpc did not answer/);
});

test('the ids another VPC took come from the conflict\'s detail, or from a 0.1 peer\'s words', () => {
  assert.deepEqual(
    [...lostVnis('b13', [
      { error: 'host2: whatever the words', kind: 'conflict', detail: { vni: 106 } },
      { error: 'host3: VXLAN id 107 of b13 is already used by a23 on host3', kind: 'failed' },
      { error: 'host4: VXLAN id 108 of b13 is already used by a23 on host4', kind: 'invalid' },
      { error: 'host5: VXLAN id 109 of other is already used by a23 on host5' },
      { error: 'host6: unreachable', kind: 'unreachable' },
    ])].sort(),
    [106, 107],
  );
});
