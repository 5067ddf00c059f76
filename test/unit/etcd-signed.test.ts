/**
 * Signed values in the store: the writer is named by its certificate (the
 * cluster CA's, a client certificate), and the signature covers the key, the
 * revision replaced and the body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issue, makeCa } from '../../src/cluster/pki.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { signerOf, verifierOf } from '../../src/store/etcd/signed.js';

test('signed values: believed for their signer only, on their own key, unchanged; a foreign CA, a server certificate or a name mismatch are not', async () => {
  const exec = systemExecutor;
  const ca = await makeCa(exec, 'test');
  const other = await makeCa(exec, 'other');
  const h1 = await issue(exec, ca, 'client', { name: 'host1' });
  const server = await issue(exec, ca, 'server', { name: 'host1', addresses: ['127.0.0.1'] });
  const stranger = await issue(exec, other, 'client', { name: 'host1' });
  const verifier = verifierOf(ca.cert);
  const sealer = signerOf('host1', h1.cert, h1.key);
  const key = '/meshvpc/v1/status/host1/vpc1';
  const raw = sealer.seal(key, '{"ok":true}', 7);
  assert.deepEqual(verifier.open(key, raw), { by: 'host1', prev: 7, body: '{"ok":true}' });

  const o = JSON.parse(raw) as Record<string, unknown>;
  const edited = (patch: Record<string, unknown>): string => JSON.stringify({ ...o, ...patch });
  assert.throws(() => verifier.open('/meshvpc/v1/status/host1/vpc2', raw), /^UserError: its signature \(host1\) does not match$/, 'moved to another key');
  assert.throws(() => verifier.open(key, edited({ body: '{"ok":false}' })), /signature \(host1\) does not match/, 'body changed');
  assert.throws(() => verifier.open(key, edited({ prev: 9 })), /signature \(host1\) does not match/, 'prev changed');
  assert.throws(() => verifier.open(key, edited({ by: 'host2' })), /it says it is "?host2"?'s but its certificate is host1's/);
  assert.throws(() => verifier.open(key, edited({ cert: stranger.cert })), /its certificate is not the cluster CA's/);
  assert.throws(() => verifier.open(key, edited({ cert: server.cert })), /not a meshvpc host's client certificate/);
  assert.throws(() => verifier.open(key, '{"ok":true}'), /not signed/);
  assert.throws(() => verifier.open(key, 'garbage'), /not JSON/);
  assert.throws(() => verifier.open(key, edited({ prev: -1 })), /wrong shape/);
  // A host whose certificate names another host cannot sign as itself.
  assert.throws(() => signerOf('host2', h1.cert, h1.key), /this host's etcd client certificate names host1, not host2/);
  assert.throws(() => signerOf('host1', server.cert, server.key), /names no meshvpc host/);
});
