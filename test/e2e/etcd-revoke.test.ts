/**
 * Revocation (issue 13, item 2): `node mode=remove node=host4` on the host
 * holding the CA key revokes host4's etcd client certificate and pushes the
 * new CRL to every member, one at a time (each `etcd mode=run` restarts its
 * etcd). Afterwards host4's etcdctl can neither read nor write (TLS refused),
 * a watch it opened before the revocation is cut off, host2's still works,
 * and the cluster is healthy. A host without the CA key refuses, changing
 * nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, startLabProcess, type LabState } from '../../src/lab/lab.js';
import { mv, ok, sh, shOk, snapshot } from './lab-helpers.js';
import type { ShowResult } from '../../src/app/cluster.js';
import type { RemoveResult } from '../../src/app/node.js';

const PKI = '/var/db/meshvpc/etcd/pki';
const url = (lab: LabState, host: number): string => `https://${lab.hosts[host - 1]?.ip4 ?? ''}:2379`;
const ctl = (lab: LabState, endpoints: string[]): string[] => ['env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=${endpoints.join(',')}`, `--cacert=${PKI}/ca.crt`, `--cert=${PKI}/client.crt`, `--key=${PKI}/client.key`, '--command-timeout=5s', '--dial-timeout=3s'];
const etcdctl = (lab: LabState, host: number, endpoints: string[], ...args: string[]) => sh(lab, host, ...ctl(lab, endpoints), ...args);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, seconds: number, fn: () => Promise<T | null>): Promise<T> {
  for (let i = 0; i < seconds * 2; i++) {
    const x = await fn();
    if (x !== null) return x;
    await sleep(500);
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

test('node mode=remove revokes the removed host\'s etcd certificate: it can no longer read or write', async () => {
  const started = Date.now();
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  try {
    console.log(`# lab with 3 etcd members healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const all = [url(lab, 1), url(lab, 2), url(lab, 3)];
    // Members start with the cluster's (empty) CRL, for clients and peers.
    const emptyCrl = await shOk(lab, 3, 'cat', `${PKI}/ca.crl`);
    for (const h of [1, 2, 3]) {
      const crl = await shOk(lab, h, 'openssl', 'crl', '-in', `${PKI}/ca.crl`, '-CAfile', `${PKI}/ca.crt`, '-noout', '-text');
      assert.match(crl, /No Revoked Certificates/);
      const cmd = await shOk(lab, h, 'sh', '-c', 'for p in $(pgrep -x etcd); do tr "\\0" " " < /proc/$p/cmdline; echo; done');
      assert.match(cmd, /--client-crl-file \/var\/db\/meshvpc\/etcd\/pki\/ca\.crl --peer-crl-file \/var\/db\/meshvpc\/etcd\/pki\/ca\.crl/);
    }
    // The CA's state lives beside its key on host1 only, private.
    assert.equal((await shOk(lab, 1, 'stat', '-c', '%a', `${PKI}/ca-state`)).trim(), '700');
    assert.equal((await sh(lab, 2, 'test', '-e', `${PKI}/ca-state`)).code, 1);

    // host4 (a client, no member) reads and writes with its own certificate.
    const put4 = await etcdctl(lab, 4, [url(lab, 1)], 'put', '/meshvpc/test/four', 'x');
    assert.equal(put4.code, 0, put4.stderr);
    const get4 = await etcdctl(lab, 4, [url(lab, 2)], 'get', '--print-value-only', '/meshvpc/test/four');
    assert.equal(get4.stdout.trim(), 'x', get4.stderr);
    // A watch host4 opens before the revocation (a long-lived connection).
    const watch = startLabProcess(lab, 4, 'watch', [...ctl(lab, [url(lab, 3)]), 'watch', '/meshvpc/test/w']);
    await sleep(1000);
    await shOk(lab, 2, ...ctl(lab, [url(lab, 2)]), 'put', '/meshvpc/test/w', 'before');
    await eventually('the watch sees "before"', 10, async () => (readFileSync(watch.log, 'utf8').includes('before') ? true : null));

    // host2 does not hold the CA key: it refuses to remove host4, and changes nothing.
    await ok(lab, 2, 'node', 'mode=add', `node=${lab.hosts[3]?.ip4 ?? ''}`);
    const before2 = await snapshot(lab, 2);
    const refused = await mv(lab, 2, 'node', 'mode=remove', 'node=host4');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /^meshvpc: refused: host2 does not hold the etcd cluster's CA key, so it cannot revoke host4's certificate; run node mode=remove node=host4 on host1, which holds it; nothing was changed\n$/);
    assert.deepEqual(await snapshot(lab, 2), before2);
    // Nor may an etcd member be removed (it would keep its member certificates).
    const member = await mv(lab, 1, 'node', 'mode=remove', 'node=host3');
    assert.notEqual(member.code, 0);
    assert.match(member.stderr, /refused: host3 is an etcd member/);

    // On host1: removed, revoked, the CRL on each member one at a time.
    const t0 = Date.now();
    const rm = await mv(lab, 1, 'node', 'mode=remove', 'node=host4', '--json');
    assert.equal(rm.code, 0, rm.stderr + rm.stdout);
    const r = JSON.parse(rm.stdout) as RemoveResult;
    console.log(`# node mode=remove with revocation took ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(r.revocation?.members.map((m) => [m.name, m.etcd, m.seconds]))}`);
    assert.equal(r.name, 'host4');
    assert.ok(r.revocation);
    assert.equal(r.revocation.ok, true);
    assert.deepEqual(r.revocation.members.map((m) => [m.name, m.ok, m.etcd, m.healthy]), [['host1', true, 'restarted', true], ['host2', true, 'restarted', true], ['host3', true, 'restarted', true]]);
    const serial = (await shOk(lab, 4, 'openssl', 'x509', '-in', `${PKI}/client.crt`, '-noout', '-serial')).trim().replace('serial=', '');
    assert.equal(r.revocation.serial, serial);
    for (const h of [1, 2, 3]) {
      const crl = await shOk(lab, h, 'openssl', 'crl', '-in', `${PKI}/ca.crl`, '-noout', '-text');
      assert.match(crl, new RegExp(`Serial Number: ${serial}`), `host${h}'s CRL`);
    }

    // host4: reads and writes refused, through every member.
    for (const ep of all) {
      const get = await etcdctl(lab, 4, [ep], 'get', '/meshvpc/test/four');
      assert.notEqual(get.code, 0, `host4 still reads through ${ep}: ${get.stdout}`);
      const put = await etcdctl(lab, 4, [ep], 'put', '/meshvpc/test/four', 'y');
      assert.notEqual(put.code, 0, `host4 still writes through ${ep}`);
    }
    // The TLS handshake is what fails (etcd: "certificate serial ... revoked").
    const curl = await sh(lab, 4, 'curl', '-sS', '--max-time', '5', '--cacert', `${PKI}/ca.crt`, '--cert', `${PKI}/client.crt`, '--key', `${PKI}/client.key`, '-X', 'POST', '-d', '{"key":"L21lc2h2cGMvdGVzdC9mb3Vy"}', `${url(lab, 2)}/v3/kv/range`);
    assert.notEqual(curl.code, 0, curl.stdout);
    assert.doesNotMatch(curl.stdout, /"value"/);
    // Its watch, opened before, is cut off: a value written now never reaches it.
    await shOk(lab, 2, ...ctl(lab, [url(lab, 2)]), 'put', '/meshvpc/test/w', 'after');
    await sleep(3000);
    assert.doesNotMatch(readFileSync(watch.log, 'utf8'), /after/);

    // host2's certificate still works; the value host4 could not change is unchanged.
    const get2 = await etcdctl(lab, 2, all, 'get', '--print-value-only', '/meshvpc/test/four');
    assert.equal(get2.stdout.trim(), 'x', get2.stderr);
    const put2 = await etcdctl(lab, 2, all, 'put', '/meshvpc/test/two', 'ok');
    assert.equal(put2.code, 0, put2.stderr);
    const show = await eventually('cluster mode=show healthy', 30, async () => {
      const s = await mv(lab, 1, 'cluster', 'mode=show', '--json');
      return s.code === 0 ? (JSON.parse(s.stdout) as ShowResult) : null;
    });
    assert.deepEqual(show.members.map((m) => [m.name, m.healthy]), [['host1', true], ['host2', true], ['host3', true]]);
    // host1 no longer knows host4.
    assert.doesNotMatch(await ok(lab, 1, 'node', 'mode=list'), /host4/);

    // A member that missed the new CRL (here: host3 given its old, empty one back, as if it had
    // been unreachable) lets host4 in again through it ...
    await shOk(lab, 3, 'sh', '-c', `printf '%s\\n' "$1" > ${PKI}/ca.crl.new && mv ${PKI}/ca.crl.new ${PKI}/ca.crl`, 'sh', emptyCrl.trim());
    await eventually('host4 reads through host3 again', 30, async () => ((await etcdctl(lab, 4, [url(lab, 3)], 'get', '/meshvpc/test/four')).code === 0 ? true : null));
    // ... until cluster mode=push_crl, only on the CA holder, gives every member the current one.
    const notHolder = await mv(lab, 2, 'cluster', 'mode=push_crl');
    assert.equal(notHolder.code, 2);
    assert.match(notHolder.stderr, /^meshvpc: refused: host2 does not hold the etcd cluster's CA key; run cluster mode=push_crl on host1, which holds it\n$/);
    const pushed = await mv(lab, 1, 'cluster', 'mode=push_crl');
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    assert.match(pushed.stdout, /^the cluster's CRL on 3 of 3 etcd members\n {2}host1: CRL replaced, etcd \S+, healthy/);
    assert.match(await shOk(lab, 3, 'openssl', 'crl', '-in', `${PKI}/ca.crl`, '-noout', '-text'), new RegExp(`Serial Number: ${serial}`), "host3's CRL");
    const again = await etcdctl(lab, 4, [url(lab, 3)], 'get', '/meshvpc/test/four');
    assert.notEqual(again.code, 0, `host4 still reads through host3: ${again.stdout}`);
  } finally {
    await destroyLab(lab);
  }
});
