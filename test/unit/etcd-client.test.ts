/**
 * The etcd client against a real etcd (started here, TLS and client
 * certificates on, torn down in finally): reads, writes, transactions,
 * leases, watches, and who is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd, type TestEtcd } from './etcd-fixture.js';
import { EtcdClient, parseEndpoint, prefixEnd, type WatchEvent } from '../../src/store/etcd/client.js';
import { issue, makeCa } from '../../src/cluster/pki.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { UserError } from '../../src/core/errors.js';

async function withEtcd(fn: (e: TestEtcd) => Promise<void>): Promise<void> {
  const e = await startEtcd();
  try {
    await fn(e);
  } finally {
    await e.stop();
  }
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('endpoints are checked strictly', () => {
  assert.equal(parseEndpoint('https://192.0.2.1:2379'), 'https://192.0.2.1:2379');
  assert.equal(parseEndpoint('https://[2001:DB8::0:1]:2379/'), 'https://[2001:db8::1]:2379');
  assert.equal(parseEndpoint('https://etcd-1.example:2379'), 'https://etcd-1.example:2379');
  for (const bad of ['http://192.0.2.1:2379', 'https://192.0.2.1', 'https://192.0.2.1:99999', 'https://192.0.2.1:2379/v3', 'https://u:p@192.0.2.1:2379', 'https://300.0.2.1:2379', 'https://192.0.2.1:2379?x', ' https://192.0.2.1:2379']) {
    assert.throws(() => parseEndpoint(bad), UserError, bad);
  }
  assert.equal(Buffer.from(prefixEnd('/a/'), 'base64').toString(), '/a0');
});

test('put, get, prefix range, delete; keys and values are plain strings', async () => {
  await withEtcd(async (e) => {
    const c = e.connect();
    const rev = await c.put('/meshvpc/vpc/vpc1', '{"name":"vpc1"}');
    assert.ok(rev > 0);
    await c.put('/meshvpc/vpc/vpc2', 'två ✓');
    await c.put('/meshvpc/vpcx', 'not under the prefix');
    const one = await c.get('/meshvpc/vpc/vpc1');
    assert.equal(one?.value, '{"name":"vpc1"}');
    assert.equal(one?.modRevision, rev);
    assert.equal(one?.version, 1);
    const all = await c.range('/meshvpc/vpc/', { prefix: true });
    assert.deepEqual(all.kvs.map((k) => [k.key, k.value]), [['/meshvpc/vpc/vpc1', '{"name":"vpc1"}'], ['/meshvpc/vpc/vpc2', 'två ✓']]);
    assert.equal(await c.get('/nothing'), null);
    assert.equal(await c.delete('/meshvpc/vpc/', { prefix: true }), 2);
    assert.equal((await c.range('/meshvpc/', { prefix: true })).count, 1);
  });
});

test('two writers racing to create one key: exactly one wins, every round', async () => {
  await withEtcd(async (e) => {
    const a = e.connect();
    const b = e.connect();
    for (let round = 0; round < 10; round++) {
      const key = `/meshvpc/vni/${1000 + round}`;
      const results = await Promise.all([a.create(key, 'vpcA'), b.create(key, 'vpcB')]);
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
      const winner = results[0] ? 'vpcA' : 'vpcB';
      assert.equal((await a.get(key))?.value, winner);
    }
    // Compare-and-swap on mod_revision: the writer holding a stale revision gets a conflict.
    const rev = await a.put('/meshvpc/counter', '1');
    const [r1, r2] = await Promise.allSettled([a.putIf('/meshvpc/counter', '2', rev), b.putIf('/meshvpc/counter', '3', rev)]);
    const ok = [r1, r2].filter((r) => r.status === 'fulfilled');
    const lost = [r1, r2].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal((lost[0]?.reason as UserError).kind, 'conflict');
    // version and create_revision compares, and the failure branch's range.
    const t = await a.txn([{ key: '/meshvpc/counter', target: 'version', result: 'equal', operand: 1 }], [{ put: { key: '/x', value: 'y' } }], [{ range: { key: '/meshvpc/counter' } }]);
    assert.equal(t.succeeded, false);
    assert.equal(t.ranges[0]?.kvs[0]?.version, 2);
    const t2 = await a.txn([{ key: '/meshvpc/counter', target: 'create_revision', result: 'equal', operand: rev }], [{ delete: { key: '/meshvpc/counter' } }]);
    assert.equal(t2.succeeded, true);
    assert.equal(await a.get('/meshvpc/counter'), null);
  });
});

test('leases: a key on a revoked lease goes; keepalive renews; an expired lease is not_found', async () => {
  await withEtcd(async (e) => {
    const c = e.connect();
    const lease = await c.grant(30);
    assert.equal(lease.ttl, 30);
    await c.put('/meshvpc/lock/vpc1', 'host1', { lease: lease.id });
    assert.equal((await c.get('/meshvpc/lock/vpc1'))?.lease, lease.id);
    assert.ok((await c.keepAlive(lease.id)) > 25);
    await c.revoke(lease.id);
    assert.equal(await c.get('/meshvpc/lock/vpc1'), null);
    await assert.rejects(c.keepAlive(lease.id), (err: UserError) => err.kind === 'not_found');
    await c.revoke(lease.id); // revoking twice is fine
    const short = await c.grant(1);
    assert.ok(await c.create('/meshvpc/lock/vpc2', 'host2', { lease: short.id }));
    // etcd raises a TTL below its minimum (about 2 s here) and checks expiry every 500 ms.
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 250));
      gone = (await c.get('/meshvpc/lock/vpc2')) === null;
    }
    assert.ok(gone, 'the key went with its lease');
  });
});

test('a watch sees puts and deletes in order, and resumes from a revision without gaps or repeats', async () => {
  await withEtcd(async (e) => {
    const c = e.connect();
    const seen: WatchEvent[] = [];
    let connected = 0;
    const w = c.watch('/meshvpc/guest/', { prefix: true, onEvents: (ev) => seen.push(...ev), onState: (s) => s === 'connected' && connected++ });
    await until(() => connected === 1);
    for (let i = 0; i < 5; i++) await c.put(`/meshvpc/guest/g${i}`, String(i));
    await c.put('/meshvpc/other', 'unseen');
    await c.delete('/meshvpc/guest/g0');
    await until(() => seen.length === 6);
    assert.deepEqual(seen.map((x) => `${x.type} ${x.key} ${x.value}`), ['put /meshvpc/guest/g0 0', 'put /meshvpc/guest/g1 1', 'put /meshvpc/guest/g2 2', 'put /meshvpc/guest/g3 3', 'put /meshvpc/guest/g4 4', 'delete /meshvpc/guest/g0 ']);
    const revs = seen.map((x) => x.modRevision);
    assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
    const resumeAt = w.nextRevision();
    assert.equal(resumeAt, (seen.at(-1) as WatchEvent).modRevision + 1);
    w.close();
    // Changes while nobody watches: a resumed watch gets exactly those.
    await c.put('/meshvpc/guest/g5', '5');
    await c.put('/meshvpc/guest/g1', 'changed');
    const later: WatchEvent[] = [];
    const w2 = c.watch('/meshvpc/guest/', { prefix: true, fromRevision: resumeAt, onEvents: (ev) => later.push(...ev) });
    try {
      await until(() => later.length === 2);
      assert.deepEqual(later.map((x) => `${x.key}=${x.value}`), ['/meshvpc/guest/g5=5', '/meshvpc/guest/g1=changed']);
      // And from an early revision: the whole history again.
      const history: WatchEvent[] = [];
      const w3 = c.watch('/meshvpc/guest/', { prefix: true, fromRevision: 1, onEvents: (ev) => history.push(...ev) });
      await until(() => history.length === 8);
      w3.close();
    } finally {
      w2.close();
    }
  });
});

test('a watch rides out its member restarting: it reconnects from where it was and misses nothing', async () => {
  await withEtcd(async (e) => {
    const c = e.connect();
    const seen: WatchEvent[] = [];
    const states: string[] = [];
    const w = c.watch('/w/', { prefix: true, retryMs: 100, onEvents: (ev) => seen.push(...ev), onState: (s) => states.push(s) });
    try {
      await until(() => states.includes('connected'));
      await c.put('/w/a', '1');
      await until(() => seen.length === 1);
      await e.restart(async () => {
        await until(() => states.includes('disconnected'));
      });
      // Written after the restart, before the watch is necessarily back: it must still arrive, once.
      await c.put('/w/b', '2');
      await c.put('/w/a', '3');
      await until(() => seen.length === 3, 15000);
      assert.deepEqual(seen.map((x) => `${x.key}=${x.value}`), ['/w/a=1', '/w/b=2', '/w/a=3']);
      assert.deepEqual(states.slice(0, 2), ['connected', 'disconnected']);
      await until(() => states.at(-1) === 'connected', 15000);
    } finally {
      w.close();
    }
  });
});

test('a watch whose revision was compacted away says so (conflict, with the compact revision)', async () => {
  await withEtcd(async (e) => {
    const c = e.connect();
    await c.put('/k', '1');
    const rev = await c.put('/k', '2');
    await c.put('/k', '3');
    // The gateway's compaction; the client has no call for it (meshvpc never compacts by hand).
    await fetchCompact(e, rev);
    let fatal: UserError | null = null;
    const w = c.watch('/k', { fromRevision: 1, onEvents: () => undefined, onFatal: (err) => (fatal = err) });
    try {
      await until(() => fatal !== null);
      assert.equal((fatal as unknown as UserError).kind, 'conflict');
      assert.equal((fatal as unknown as UserError).detail?.compact_revision, rev);
    } finally {
      w.close();
    }
  });
});

async function fetchCompact(e: TestEtcd, revision: number): Promise<void> {
  const { request } = await import('node:https');
  await new Promise<void>((resolve, reject) => {
    const req = request(new URL('/v3/kv/compaction', e.endpoint), { method: 'POST', ca: e.tls.ca, cert: e.tls.cert, key: e.tls.key }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`compaction: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ revision: String(revision), physical: true }));
  });
}

test('a client without a certificate, or with one from another CA, is refused; so is a server from another CA', async () => {
  await withEtcd(async (e) => {
    const none = e.connect({ ca: e.ca.cert });
    await assert.rejects(none.get('/k'), (err: UserError) => err.kind === 'unreachable' && /TLS refused|certificate|socket hang up|ECONNRESET/i.test(err.message));
    const other = await makeCa(systemExecutor, 'other');
    const stranger = await issue(systemExecutor, other, 'client', { name: 'stranger' });
    const foreign = e.connect({ ca: e.ca.cert, cert: stranger.cert, key: stranger.key });
    await assert.rejects(foreign.put('/k', 'v'), (err: UserError) => err.kind === 'unreachable');
    // This host's certificate, but trusting another CA: the member's server certificate is refused.
    const distrust = e.connect({ ca: other.cert, cert: e.client.cert, key: e.client.key });
    await assert.rejects(distrust.get('/k'), /TLS refused|certificate/i);
    // Nothing was written by the refused clients.
    assert.equal(await e.connect().get('/k'), null);
  });
});

test('failover: a dead endpoint first in the list is skipped; all dead is unreachable', async () => {
  await withEtcd(async (e) => {
    const c = new EtcdClient({ endpoints: ['https://127.0.0.1:1', e.endpoint], tls: e.tls, timeoutMs: 2000 });
    try {
      await c.put('/k', 'v');
      assert.equal((await c.get('/k'))?.value, 'v');
      const health = await c.status(e.endpoint);
      assert.match(health.version, /^3\.\d+\.\d+$/);
      await assert.rejects(c.status('https://127.0.0.1:1'), (err: UserError) => err.kind === 'unreachable');
    } finally {
      c.close();
    }
    const dead = new EtcdClient({ endpoints: ['https://127.0.0.1:1'], tls: e.tls, timeoutMs: 1000 });
    try {
      await assert.rejects(dead.get('/k'), (err: UserError) => err.kind === 'unreachable' && /etcd unreachable/.test(err.message));
    } finally {
      dead.close();
    }
  });
});
