/**
 * The etcd control plane in the lab: `lab up hosts=4 etcd=3` makes a TLS etcd
 * cluster on hosts 1-3 (meshvpc's own certificates, handed out over SSH);
 * every host can use it with its own client certificate; one member down
 * changes nothing for reads and writes, and cluster mode=show names it. Nothing
 * without a client certificate of the cluster's CA gets in. A refused init
 * leaves no trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createLab, destroyLab, killLabProcess, type LabState } from '../../src/lab/lab.js';
import { mv, ok, sh, shOk, snapshot, withLab } from './lab-helpers.js';
import { cli, withTemp } from './cli-helpers.js';
import type { ShowResult } from '../../src/app/cluster.js';

const PKI = '/var/db/meshvpc/etcd/pki';
const url = (lab: LabState, host: number): string => `https://[${lab.hosts[host - 1]?.ip6 ?? ''}]:2379`;

/** etcdctl (the stock client, not meshvpc's) on a host, with that host's own credentials. */
const etcdctl = (lab: LabState, host: number, endpoints: string[], ...args: string[]) =>
  sh(lab, host, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=${endpoints.join(',')}`, `--cacert=${PKI}/ca.crt`, `--cert=${PKI}/client.crt`, `--key=${PKI}/client.key`, '--command-timeout=5s', '--dial-timeout=3s', ...args);

/**
 * meshvpc's own etcd client (the installed package's) on a host, with that host's credentials:
 * `put KEY VALUE` or `get KEY` over the endpoints given, in that order.
 */
const CLIENT_SCRIPT = `
const fs = await import('node:fs');
const { EtcdClient } = await import('/usr/lib/node_modules/meshvpc/dist/src/store/etcd/client.js');
const [op, key, value, ...endpoints] = process.argv.slice(1);
const pki = '${PKI}';
const c = new EtcdClient({ endpoints, tls: { ca: fs.readFileSync(pki + '/ca.crt'), cert: fs.readFileSync(pki + '/client.crt'), key: fs.readFileSync(pki + '/client.key') }, timeoutMs: 5000 });
try {
  if (op === 'put') console.log('revision', await c.put(key, value));
  else console.log((await c.get(key))?.value ?? '(none)');
} finally {
  c.close();
}
`;
const meshvpcClient = (lab: LabState, host: number, endpoints: string[], op: 'put' | 'get', key: string, value = '-') =>
  sh(lab, host, 'node', '--input-type=module', '-e', CLIENT_SCRIPT, op, key, value, ...endpoints);

async function show(lab: LabState, host: number): Promise<{ code: number; r: ShowResult }> {
  const res = await mv(lab, host, 'cluster', 'mode=show', '--json');
  return { code: res.code, r: JSON.parse(res.stdout) as ShowResult };
}

test('lab up hosts=4 etcd=3: a TLS etcd cluster every host can use, that survives one member', async () => {
  const started = Date.now();
  const lab = await createLab({ hosts: 4, underlay: 'v6', etcd: 3 });
  const etcdPids = (lab.processes ?? []).map((p) => p.pid);
  try {
    assert.equal(etcdPids.length, 3);
    console.log(`# lab with 3 etcd members healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Every host knows the cluster, including host 4 (a client only). (A machine running other
    // labs can make a member miss a heartbeat for a moment: ask again for up to 30 s.)
    for (const host of [1, 4]) {
      let { code, r } = await show(lab, host);
      for (let i = 0; i < 30 && code !== 0; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        ({ code, r } = await show(lab, host));
      }
      assert.equal(code, 0, JSON.stringify(r));
      assert.equal(r.backend, 'etcd');
      assert.deepEqual(r.members.map((m) => [m.name, m.healthy]), [['host1', true], ['host2', true], ['host3', true]]);
      assert.equal(r.members.filter((m) => m.leader).length, 1, 'one leader');
      assert.deepEqual(r.members.map((m) => [m.error, m.version]), Array(3).fill([null, '3.4.23']));
    }
    assert.match(await ok(lab, 1, 'cluster', 'mode=show'), /^backend etcd\n {2}host1 {2}https:\/\/\[2001:db8:0:1::1\]:2379 {2}healthy/);

    // Written through one member, read through another (and by host 4 with its own certificate).
    await shOk(lab, 1, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=${url(lab, 1)}`, `--cacert=${PKI}/ca.crt`, `--cert=${PKI}/client.crt`, `--key=${PKI}/client.key`, 'put', '/meshvpc/test/a', 'one');
    const read2 = await etcdctl(lab, 2, [url(lab, 2)], 'get', '--print-value-only', '/meshvpc/test/a');
    assert.equal(read2.stdout.trim(), 'one', read2.stderr);
    const read4 = await etcdctl(lab, 4, [url(lab, 3)], 'get', '--print-value-only', '/meshvpc/test/a');
    assert.equal(read4.stdout.trim(), 'one', read4.stderr);
    const viaOwn = await meshvpcClient(lab, 1, [url(lab, 2)], 'get', '/meshvpc/test/a');
    assert.equal(viaOwn.stdout, 'one\n', viaOwn.stderr);
    // The client certificate names its host.
    const subject = await shOk(lab, 4, 'openssl', 'x509', '-in', `${PKI}/client.crt`, '-noout', '-subject');
    assert.match(subject, /CN = host4/);
    // Host 4 is no member: it holds no server or peer key, and no CA key.
    assert.equal((await sh(lab, 4, 'test', '-e', `${PKI}/server.key`)).code, 1);
    assert.equal((await sh(lab, 4, 'test', '-e', `${PKI}/ca.key`)).code, 1);
    assert.equal((await sh(lab, 1, 'test', '-e', `${PKI}/ca.key`)).code, 0);

    // No client certificate, or one of another CA: refused by every member.
    const bare = await sh(lab, 4, 'curl', '-sS', '--max-time', '5', '--cacert', `${PKI}/ca.crt`, '-X', 'POST', '-d', '{"key":"L21lc2h2cGMvdGVzdC9h"}', `${url(lab, 1)}/v3/kv/range`);
    assert.notEqual(bare.code, 0, `no client certificate must be refused: ${bare.stdout}`);
    assert.doesNotMatch(bare.stdout, /b25l/, 'the value did not leak');
    await shOk(lab, 4, 'sh', '-c', 'cd /tmp && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /root/rogue.key -out /root/rogue.crt -subj /CN=host4 -days 1 2>/dev/null');
    const rogue = await sh(lab, 4, 'curl', '-sS', '--max-time', '5', '--cacert', `${PKI}/ca.crt`, '--cert', '/root/rogue.crt', '--key', '/root/rogue.key', '-X', 'POST', '-d', '{"key":"L21lc2h2cGMvdGVzdC9h"}', `${url(lab, 2)}/v3/kv/range`);
    assert.notEqual(rogue.code, 0, `a certificate of another CA must be refused: ${rogue.stdout}`);
    // The same request with host 4's own certificate gets in (so the refusals above were about the certificate).
    const good = await shOk(lab, 4, 'curl', '-sS', '--max-time', '5', '--cacert', `${PKI}/ca.crt`, '--cert', `${PKI}/client.crt`, '--key', `${PKI}/client.key`, '-X', 'POST', '-d', '{"key":"L21lc2h2cGMvdGVzdC9h"}', `${url(lab, 2)}/v3/kv/range`);
    assert.match(good, /"value":"b25l"/);

    // One member down: reads and writes go on through the others; show names it.
    const third = (lab.processes ?? []).find((p) => p.host === 3);
    assert.ok(third);
    await killLabProcess(lab, third);
    for (let i = 0; i < 50 && existsSync(`/proc/${third.pid}`); i++) await new Promise((r) => setTimeout(r, 100));
    // If it led, the other two elect a leader first (about a second; longer on a loaded machine).
    let after = await show(lab, 1);
    for (let i = 0; i < 60 && !(after.r.members[0]?.healthy && after.r.members[1]?.healthy); i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await show(lab, 1);
    }
    // meshvpc's client, the dead member first in its list: it goes on to the others.
    const all = [url(lab, 3), url(lab, 1), url(lab, 2)];
    const put = await meshvpcClient(lab, 4, all, 'put', '/meshvpc/test/b', 'two');
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^revision \d+\n$/);
    const read = await meshvpcClient(lab, 2, [url(lab, 3), url(lab, 2)], 'get', '/meshvpc/test/b');
    assert.equal(read.stdout, 'two\n', read.stderr);
    const read1 = await etcdctl(lab, 1, [url(lab, 1)], 'get', '--print-value-only', '/meshvpc/test/b');
    assert.equal(read1.stdout.trim(), 'two', read1.stderr);
    after = await show(lab, 1);
    assert.equal(after.code, 1, 'an unhealthy member makes show exit 1');
    assert.deepEqual(after.r.members.map((m) => [m.name, m.healthy]), [['host1', true], ['host2', true], ['host3', false]]);
    assert.match(after.r.members[2]?.error ?? '', /unreachable/);
    const text = await mv(lab, 1, 'cluster', 'mode=show');
    assert.match(text.stdout, /host3 .*UNHEALTHY: etcd unreachable/);
  } finally {
    await destroyLab(lab);
  }
  // lab down killed exactly the etcd processes it started (and the lab is gone).
  for (const pid of etcdPids) assert.equal(existsSync(`/proc/${pid}`), false, `etcd group ${pid} outlived the lab`);
});

test('cluster mode=init with an unknown member: a one-line error naming it, exit 2, nothing stored', async () => {
  await withLab(2, 'v6', async (lab) => {
    const before = await snapshot(lab, 1);
    const r = await mv(lab, 1, 'cluster', 'mode=init', 'backend=etcd', 'etcd_members=nosuchnode');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'meshvpc: invalid etcd_members "nosuchnode": not this host (host1) nor a known node (meshvpc node mode=list); add it with meshvpc node mode=add first\n');
    assert.equal(r.stdout, '');
    const bad = await mv(lab, 1, 'cluster', 'mode=init', 'backend=etcd', 'endpoints=http://192.0.2.9:2379', 'ca=/x', 'cert=/y', 'key=/z');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^meshvpc: invalid endpoints "http:\/\/192.0.2.9:2379": use https:\/\/ADDR:PORT/);
    assert.deepEqual(await snapshot(lab, 1), before);
    assert.equal((await sh(lab, 1, 'test', '-e', '/var/db/meshvpc/etcd')).code, 1, 'no etcd directory');
    const shown = JSON.parse(await ok(lab, 1, 'cluster', 'mode=show', '--json')) as ShowResult;
    assert.deepEqual(shown, { backend: 'embedded', managed: null, members: [], healthy: true, hosts: [] });
    const run = await mv(lab, 1, 'etcd', 'mode=run');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^meshvpc: no etcd cluster is configured on this host/);
  });
});

test('lab up refuses an etcd size it cannot build, before it builds anything', () => {
  withTemp((home) => {
    const labRoot = `${home}/labs`;
    for (const [args, why] of [
      [['hosts=2', 'etcd=3'], /^meshvpc: invalid etcd "3": more etcd members than hosts \(hosts=2\)\n$/],
      [['hosts=4', 'etcd=2'], /^meshvpc: invalid etcd "2": use 0, 1, 3, 5, 7 \(members; etcd wants an odd number\)\n$/],
      [['hosts=4', 'etcd=x'], /^meshvpc: invalid etcd "x": use a whole number from 0 to 7\n$/],
    ] as const) {
      const r = cli(home, ['lab', 'up', ...args], { MESHVPC_LAB_ROOT: labRoot });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(existsSync(labRoot), false, 'no lab directory');
    }
  });
});
