/**
 * cluster mode=init / show and the etcd_join remote op, on a host in a
 * temporary MESHVPC_HOME: refusals change nothing, a one-member init records
 * the cluster and its credentials, a peer's hand-out is checked strictly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getClusterConfig } from '../../src/store/cluster-config.js';
import type { Host } from '../../src/app/host.js';
import { withHost } from './host-fixture.js';
import { forgetHere, init, joinHere, memberArgv, show, type InitInput } from '../../src/app/cluster.js';
import { operation, parseInput } from '../../src/app/catalog.js';
import { requestFromWire } from '../../src/cluster/wire.js';
import { issue, makeCa, pkiPaths } from '../../src/cluster/pki.js';
import { memberAt } from '../../src/cluster/etcd-member.js';
import { etcdUnit, installEtcdUnit } from '../../src/app/etcd-unit.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { UserError } from '../../src/core/errors.js';
import type { EtcdJoinRequest } from '../../src/cluster/protocol.js';

const input = (args: Record<string, string>): InitInput => parseInput(operation('cluster.init'), new Map(Object.entries(args))) as unknown as InitInput;

const rows = (h: Host): number => (h.db.prepare('SELECT count(*) AS n FROM cluster_config').get() as { n: number }).n + (h.db.prepare('SELECT count(*) AS n FROM etcd_member').get() as { n: number }).n;

test('refused inits change nothing: no rows, no files', async () => {
  await withHost(async (h) => {
    const refusals: [Record<string, string>, RegExp][] = [
      [{ backend: 'etcd', etcd_members: 'nosuchnode' }, /^invalid etcd_members "nosuchnode": not this host \(h1\) nor a known node/],
      [{ backend: 'etcd', etcd_members: 'h1,h1,h1' }, /h1 is named twice/],
      [{ backend: 'etcd', etcd_members: 'h1,nosuch' }, /2 members; use 1, 3, 5, 7/],
      [{ backend: 'etcd' }, /needs either etcd_members=/],
      [{ backend: 'etcd', etcd_members: 'h1', ca: '/etc/ssl/ca.pem' }, /^ca= goes with endpoints=/],
      [{ backend: 'etcd', endpoints: 'https://192.0.2.9:2379' }, /^endpoints= needs ca=FILE, cert=FILE, key=FILE/],
      [{ backend: 'etcd', endpoints: 'https://192.0.2.9:2379', ca: '/nonexistent/ca.pem', cert: '/x', key: '/y' }, /^cannot read ca=\/nonexistent\/ca.pem: ENOENT/],
    ];
    for (const [args, why] of refusals) await assert.rejects(init(h, input(args)), (e: UserError) => e instanceof UserError && why.test(e.message), JSON.stringify(args));
    // Values the catalog refuses before the operation runs.
    assert.throws(() => input({ backend: 'consul' }), /invalid backend "consul": use etcd/);
    assert.throws(() => input({ backend: 'etcd', endpoints: 'http://192.0.2.9:2379' }), /invalid endpoints "http:\/\/192.0.2.9:2379": use https:\/\/ADDR:PORT/);
    assert.throws(() => input({ backend: 'etcd', etcd_members: 'bad name' }), /invalid etcd_members "bad name"/);
    assert.equal(rows(h), 0);
    assert.equal(existsSync(join(h.home, 'etcd')), false);
    assert.deepEqual(await show(h), { backend: 'embedded', managed: null, members: [], healthy: true, hosts: [] });
    // etcd data of a cluster this host no longer records: etcd would start from it, so init refuses.
    mkdirSync(join(h.home, 'etcd', 'data', 'member'), { recursive: true });
    await assert.rejects(init(h, input({ backend: 'etcd', etcd_members: 'h1' })), (e: UserError) => e.kind === 'conflict' && /h1 has etcd data from another cluster in .*etcd\/data/.test(e.message));
    assert.equal(rows(h), 0);
    assert.equal(existsSync(join(h.home, 'etcd', 'pki')), false);
  });
});

test('a one-member init on this host: CA, certificates and the configuration; a second init is refused', async () => {
  await withHost(async (h) => {
    const r = await init(h, input({ backend: 'etcd', etcd_members: 'h1' }));
    assert.equal(r.ok, true);
    assert.deepEqual(r.members, [{ name: 'h1', client_urls: ['https://192.0.2.1:2379'] }]);
    assert.deepEqual(r.hosts, [{ node: 'h1', role: 'member', ok: true, error: null }]);
    const config = getClusterConfig(h.db);
    assert.equal(config?.managed, true);
    assert.match(config?.clusterToken ?? '', /^meshvpc-[0-9a-f]{12}$/);
    const p = pkiPaths(h.home);
    for (const f of [p.caKey, p.clientKey, p.serverKey, p.peerKey]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(statSync(join(h.home, 'etcd', 'pki')).mode & 0o777, 0o700);
    const argv = memberArgv(h);
    assert.equal(argv[argv.indexOf('--listen-client-urls') + 1], 'https://192.0.2.1:2379');
    assert.equal(argv[argv.indexOf('--initial-cluster') + 1], 'h1=https://192.0.2.1:2380');
    assert.equal(statSync(join(h.home, 'etcd', 'data')).mode & 0o777, 0o700);
    const before = readdirSync(join(h.home, 'etcd', 'pki')).sort();
    await assert.rejects(init(h, input({ backend: 'etcd', etcd_members: 'h1' })), (e: UserError) => e.kind === 'conflict' && /already has the etcd backend/.test(e.message));
    assert.deepEqual(readdirSync(join(h.home, 'etcd', 'pki')).sort(), before);
  });
});

test('endpoints= records an existing etcd with the given files', async () => {
  await withHost(async (h) => {
    const ca = await makeCa(systemExecutor, 'ext');
    const c = await issue(systemExecutor, ca, 'client', { name: 'h1' });
    const dir = mkdtempSync(join(tmpdir(), 'mv-ext-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), ca.cert);
      writeFileSync(join(dir, 'c.pem'), c.cert);
      writeFileSync(join(dir, 'k.pem'), c.key);
      await assert.rejects(init(h, input({ backend: 'etcd', endpoints: 'https://192.0.2.9:2379', ca: join(dir, 'k.pem'), cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') })), /invalid ca=.*not a PEM certificate/);
      const r = await init(h, input({ backend: 'etcd', endpoints: 'https://192.0.2.9:2379,https://[2001:db8::9]:2379', ca: join(dir, 'ca.pem'), cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }));
      assert.equal(r.managed, false);
      const config = getClusterConfig(h.db);
      assert.deepEqual(config?.members.map((m) => [m.name, m.clientUrls]), [['192.0.2.9', ['https://192.0.2.9:2379']], ['2001:db8::9', ['https://[2001:db8::9]:2379']]]);
      assert.equal(config?.caFile, join(dir, 'ca.pem'));
      assert.throws(() => memberArgv(h), /an etcd that meshvpc does not run/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function joinRequest(members = [memberAt('h1', ['192.0.2.1']), memberAt('h2', ['192.0.2.2']), memberAt('h3', ['192.0.2.3'])], forMember = true): Promise<EtcdJoinRequest> {
  const ca = await makeCa(systemExecutor, 'j');
  const client = await issue(systemExecutor, ca, 'client', { name: 'h2' });
  const server = await issue(systemExecutor, ca, 'server', { name: 'h2', addresses: ['192.0.2.2'] });
  return { op: 'etcd_join', ca: ca.cert, client, ...(forMember ? { server, peer: server } : {}), config: { clusterToken: 'meshvpc-0123456789ab', members } };
}

test('etcd_join from the wire: every value checked', async () => {
  const req = await joinRequest();
  const round = requestFromWire(JSON.stringify(req));
  assert.deepEqual(round, req);
  const bad = (mutate: (o: Record<string, unknown>) => void, why: RegExp): void => {
    const o = JSON.parse(JSON.stringify(req)) as Record<string, unknown>;
    mutate(o);
    assert.throws(() => requestFromWire(JSON.stringify(o)), why);
  };
  bad((o) => ((o.client as Record<string, string>).key = 'not a key'), /client key is not one PEM private key/);
  bad((o) => (o.ca = `${req.ca}${req.ca}`), /ca is not one PEM certificate/);
  bad((o) => ((o.config as Record<string, unknown>).clusterToken = 'x; rm -rf /'), /not a meshvpc cluster token/);
  bad((o) => (((o.config as { members: Record<string, unknown>[] }).members[0] as Record<string, unknown>).clientUrls = ['http://192.0.2.1:2379']), /use https:\/\/ADDR:PORT/);
  bad((o) => (((o.config as { members: Record<string, unknown>[] }).members[0] as Record<string, unknown>).peerUrls = ['https://127.0.0.1:2380']), /loopback/);
  bad((o) => (((o.config as { members: Record<string, unknown>[] }).members[0] as Record<string, unknown>).name = 'a/b'), /invalid etcd member name/);
  bad((o) => ((o.config as { members: unknown[] }).members = Array(8).fill((req.config.members[0]))), /8 etcd members, at most 7/);
});

test('etcd_join here: a member only on its own addresses, member certificates only for a member, one cluster only', async () => {
  await withHost(async (h) => {
    const caller = { kind: 'member', node: 'h1' } as const;
    h.db.prepare("INSERT INTO node (name, ssh_address, ssh_port, ssh_user, ip4, ip6, host_key, platform) VALUES ('h1', '192.0.2.1', 22, 'root', '192.0.2.1', NULL, 'AAAA', 'linux')").run();
    await assert.rejects(async () => joinHere(h, { kind: 'member', node: 'h9' }, await joinRequest()), /h9 is not a known node here/);
    await assert.rejects(async () => joinHere(h, caller, await joinRequest([memberAt('h1', ['192.0.2.1']), memberAt('h2', ['192.0.2.99']), memberAt('h3', ['192.0.2.3'])])), /would listen on 192.0.2.99, which is not this host's address/);
    await assert.rejects(async () => joinHere(h, caller, await joinRequest([memberAt('h1', ['192.0.2.1'])])), /is not an etcd member but was sent member certificates/);
    await assert.rejects(async () => joinHere(h, caller, await joinRequest(undefined, false)), /is an etcd member but was sent no server and peer certificates/);
    await assert.rejects(async () => joinHere(h, { kind: 'legacy' }, await joinRequest()), /needs a cluster key bound to its node/);
    mkdirSync(join(h.home, 'etcd', 'data', 'member'), { recursive: true });
    await assert.rejects(async () => joinHere(h, caller, await joinRequest()), /h2 has etcd data from another cluster/);
    rmSync(join(h.home, 'etcd', 'data'), { recursive: true });
    assert.equal(rows(h), 0);
    const req = await joinRequest();
    assert.deepEqual(await joinHere(h, caller, req), { node: 'h2', member: true });
    assert.deepEqual(await joinHere(h, caller, req), { node: 'h2', member: true }, 'the same cluster again is fine');
    assert.equal(getClusterConfig(h.db)?.members.length, 3);
    await assert.rejects(async () => joinHere(h, caller, await joinRequest()), (e: UserError) => e.kind === 'conflict' && /already belongs to another etcd cluster/.test(e.message));
    // forget only for the CA it names.
    assert.deepEqual(forgetHere(h, caller, { op: 'etcd_forget', ca: (await joinRequest()).ca }), { node: 'h2', forgot: false });
    assert.deepEqual(forgetHere(h, caller, { op: 'etcd_forget', ca: req.ca }), { node: 'h2', forgot: true });
    assert.equal(rows(h), 0);
    assert.equal(existsSync(join(h.home, 'etcd', 'pki')), false);
  }, 'h2', '192.0.2.2');
});

test('etcd mode=install writes meshvpc-etcd.service running etcd mode=run, never over a foreign file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mv-unit-'));
  try {
    const r = await installEtcdUnit('/var/db/meshvpc', false, dir);
    assert.equal(r.path, join(dir, 'meshvpc-etcd.service'));
    const text = r.content;
    assert.match(text, /^ExecStart=\/usr\/bin\/env meshvpc etcd mode=run$/m);
    assert.match(text, /^Restart=on-failure$/m);
    assert.match(text, /^WantedBy=multi-user.target$/m);
    assert.doesNotMatch(text, /Environment=/);
    assert.equal(statSync(r.path).mode & 0o777, 0o644);
    assert.match(etcdUnit('/srv/meshvpc'), /^Environment=MESHVPC_HOME=\/srv\/meshvpc$/m);
    assert.match(etcdUnit('/srv/my state'), /^Environment="MESHVPC_HOME=\/srv\/my state"$/m);
    assert.throws(() => etcdUnit('/srv/x\nExecStartPre=/bin/evil'), /control characters are not allowed/);
    writeFileSync(r.path, '[Service]\nExecStart=/usr/bin/something-else\n');
    await assert.rejects(installEtcdUnit('/var/db/meshvpc', false, dir), /was not written by meshvpc/);
    const dry = await installEtcdUnit('/var/db/meshvpc', true, join(dir, 'nonexistent'));
    assert.equal(dry.dryrun, true);
    assert.equal(existsSync(join(dir, 'nonexistent')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
