/**
 * The HTTP API without a socket or a network: hono's app.request against a
 * real database in a temporary directory and a Linux driver whose commands
 * are recorded, not run. The lab e2e test (api.test.ts) covers the rest.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initenv } from '../../src/app/initenv.js';
import { openDb } from '../../src/store/db.js';
import { getSelf } from '../../src/store/repo.js';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import { createToken, checkToken, listTokens } from '../../src/store/tokens.js';
import { createServer, type Server } from '../../src/adapters/http/server.js';
import type { Host } from '../../src/app/host.js';
import { LoginLimiter, MAX_FAILURES } from '../../src/adapters/http/auth.js';
import { openApiDocument } from '../../src/adapters/http/openapi.js';
import { ROUTES } from '../../src/adapters/http/routes.js';
import SwaggerParser from '@apidevtools/swagger-parser';

let dir: string;
let host: Host;
let server: Server;
let admin: string;
let reader: string;
const logged: string[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mvapi-'));
  initenv(dir, { nodename: 'h1', nodeip: '192.0.2.1' });
  const db = openDb(dir, 'write');
  assert.ok(db);
  const exec = new RecordingExecutor();
  exec.on((argv) => argv[0] === 'ip' && argv.includes('show'), { stdout: '[]' });
  host = { db, home: dir, self: getSelf(db) as NonNullable<ReturnType<typeof getSelf>>, driver: linuxDriver(exec) };
  admin = createToken(db, 'admin', 'admin');
  reader = createToken(db, 'reader', 'read');
  server = createServer({ host, checkToken: (t) => checkToken(db, t), memberVpcs: () => [], webRoot: null, log: (l) => logged.push(l) });
});

after(() => {
  server.close();
  host.db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: string, token: string | null = admin, client = '198.51.100.1'): Promise<{ status: number; json: { error?: { kind: string; message: string } } & Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const env = { incoming: { socket: { remoteAddress: client, remotePort: 1, remoteFamily: 'IPv4' } } };
  const res = await server.app.request(`/api/v1${path}`, { method, headers, ...(body === undefined ? {} : { body }) }, env);
  return { status: res.status, json: (await res.json()) as never };
}

describe('API tokens', () => {
  test('only a hash is stored, and a token is shown once', () => {
    const rows = host.db.prepare('SELECT * FROM api_token').all() as { hash: string }[];
    for (const r of rows) assert.ok(!Object.values(r).includes(admin));
    assert.deepEqual(listTokens(host.db).map((t) => [t.name, t.role]), [['admin', 'admin'], ['reader', 'read']]);
  });

  test('no token is 401, an unknown one is 401, both logged', async () => {
    const none = await call('GET', '/vpcs', undefined, null, '198.51.100.7');
    assert.equal(none.status, 401);
    assert.equal(none.json.error?.kind, 'unauthorized');
    const wrong = await call('GET', '/vpcs', undefined, 'mvpc_nope', '198.51.100.7');
    assert.equal(wrong.status, 401);
    assert.match(logged.join('\n'), /failed login from 198\.51\.100\.7 \(unknown token; 2 in the last minute\)/);
  });

  test('a read token may GET but not POST or DELETE (403)', async () => {
    assert.equal((await call('GET', '/vpcs', undefined, reader)).status, 200);
    const post = await call('POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24' }), reader);
    assert.equal(post.status, 403);
    assert.equal(post.json.error?.kind, 'forbidden');
    assert.equal((await call('DELETE', '/containers/c1', undefined, reader)).status, 403);
  });

  test('failed logins are rate-limited per address (429), others unaffected', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) await call('GET', '/vpcs', undefined, 'mvpc_guess', '198.51.100.9');
    const blocked = await call('GET', '/vpcs', undefined, admin, '198.51.100.9');
    assert.equal(blocked.status, 429);
    assert.equal((await call('GET', '/vpcs', undefined, admin, '198.51.100.10')).status, 200);
  });

  test('the limiter forgets failures after its window', () => {
    let now = 0;
    const l = new LoginLimiter(() => now);
    for (let i = 0; i < MAX_FAILURES; i++) l.fail('a');
    assert.ok(l.blockedFor('a') > 0);
    now = 61_000;
    assert.equal(l.blockedFor('a'), 0);
  });
});

describe('API input is checked like the CLI\'s, and refused input changes nothing', () => {
  const bad: [string, string, string | undefined, RegExp][] = [
    ['POST', '/vpcs', '{', /not JSON/],
    ['POST', '/vpcs', '[]', /must be a JSON object/],
    ['POST', '/vpcs', '"x"', /must be a JSON object/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', colour: 'red' }), /unknown field "colour" for vpc mode=init; allowed: vpc_name, /],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'V1!', node_member: 'all', peer_network: '10.100.0.0/24' }), /^invalid vpc_name "V1!"/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/33' }), /peer_network/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all' }), /^missing peer_network=/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', mtu: 'big' }), /^invalid mtu "big"/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', mtu: 1.5 }), /^invalid mtu/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', mtu: 99999 }), /^invalid mtu "99999": use a whole number from 1280 to 9000/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', firewall: 'maybe' }), /^invalid firewall/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', underlay: 'v5' }), /^invalid underlay "v5": use v4 or v6/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: ['h1', 'a,b'], peer_network: '10.100.0.0/24' }), /^invalid node_member/],
    ['POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24', platform: 'freebsd' }), /only works with dryrun=1/],
    ['POST', '/vpcs/v1/deploy', JSON.stringify({ vpc_name: 'v2' }), /vpc_name is given by the path/],
    ['POST', '/vpcs/v1/deploy', JSON.stringify({ concurrency: 0 }), /^invalid concurrency "0"/],
    ['POST', '/vpcs/v1/join', JSON.stringify({ node: '$(reboot)' }), /^invalid node/],
    ['POST', '/containers', JSON.stringify({ jname: 'c1', interface: 'v1', ip4_addr: '10.0.0.1' }), /ip4_addr/],
    ['POST', '/containers', JSON.stringify({ jname: '../etc', interface: 'v1' }), /^invalid jname/],
    ['POST', '/containers/c1/start', '{"x":1}', /takes no body/],
    ['POST', '/vms', JSON.stringify({ jname: 'vm1', interface: 'v1', vm_ram: '0' }), /^invalid vm_ram "0": use a size such as 512m or 4g, at least 32m/],
    ['POST', '/vms', JSON.stringify({ jname: 'vm1', interface: 'v1', vm_ram: '9999t' }), /^invalid vm_ram "9999t"/],
    ['POST', '/vms', JSON.stringify({ jname: 'vm1', interface: 'v1', vm_cpus: -1 }), /^invalid vm_cpus "-1"/],
    ['POST', '/vms', JSON.stringify({ jname: 'vm1', interface: 'v1', vm_disk: '/a,b.img' }), /^invalid vm_disk "\/a,b\.img": use an absolute path/],
    ['POST', '/vms', JSON.stringify({ jname: 'vm1', interface: 'v1', vm_accel: 'hvf' }), /^invalid vm_accel "hvf": use auto, kvm or tcg/],
    ['POST', '/containers', JSON.stringify({ jname: 'c1', interface: ['v1', 'v2', 'v3', 'v4', 'v5'] }), /at most 4 VPCs/],
    ['PATCH', '/vpcs/v1', JSON.stringify({ jail_max: -1 }), /^invalid jail_max/],
    ['PATCH', '/vpcs/v1', JSON.stringify({ ram_max: '4x' }), /^invalid ram_max "4x"/],
    ['PATCH', '/nodes/h2', JSON.stringify({ ip: '999.1.1.1' }), /^invalid ip "999\.1\.1\.1": use an IPv4 address/],
    ['PATCH', '/nodes/h2', JSON.stringify({ ip: '192.0.2.9', node: 'h3' }), /node is given by the path/],
    ['PATCH', '/nodes/h2', JSON.stringify({ port: 'ssh' }), /^invalid port "ssh"/],
  ];
  for (const [method, path, body, message] of bad) {
    test(`${method} ${path} ${body ?? ''} -> 400`, async () => {
      const before = JSON.stringify(host.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('api_token', 'lock')").all().map((t) => host.db.prepare(`SELECT * FROM "${(t as { name: string }).name}"`).all()));
      const r = await call(method, path, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error?.kind, 'invalid');
      assert.match(r.json.error?.message ?? '', message);
      assert.ok(!(r.json.error?.message ?? '').includes('\n'));
      const after = JSON.stringify(host.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('api_token', 'lock')").all().map((t) => host.db.prepare(`SELECT * FROM "${(t as { name: string }).name}"`).all()));
      assert.equal(after, before);
    });
  }

  test('a missing VPC is 404 before any operation starts', async () => {
    const r = await call('POST', '/vpcs/nosuch/deploy', '{}');
    assert.equal(r.status, 404);
    assert.match(r.json.error?.message ?? '', /no VPC named nosuch/);
    assert.equal((await call('GET', '/vpcs/nosuch')).status, 404);
    assert.equal((await call('GET', '/operations/0123456789abcdef')).status, 404);
    assert.equal((await call('GET', '/nosuch')).status, 404);
    // node mode=update refuses an unknown node before it starts; a read token may not ask at all.
    const moved = await call('PATCH', '/nodes/ghost', JSON.stringify({ ip: '192.0.2.9' }));
    assert.equal(moved.status, 404);
    assert.match(moved.json.error?.message ?? '', /^unknown node "ghost"/);
    assert.equal((await call('PATCH', '/nodes/ghost', JSON.stringify({ ip: '192.0.2.9' }), reader)).status, 403);
  });

  test('an oversized body is refused', async () => {
    const r = await call('POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', pad: 'x'.repeat(70_000) }));
    assert.equal(r.status, 400);
    assert.match(r.json.error?.message ?? '', /larger than/);
  });
});

describe('API reads and a definition', () => {
  test('host, nodes, vpcs; a VPC defined through the API is the CLI\'s', async () => {
    const h = await call('GET', '/host');
    assert.equal(h.status, 200);
    assert.equal(h.json.nodename, 'h1');
    assert.deepEqual((await call('GET', '/nodes')).json, []);
    const made = await call('POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: ['h1'], peer_network: '10.100.0.0/24', mtu: 1400, firewall: false }));
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const list = (await call('GET', '/vpcs')).json as unknown as { name: string; mtu: number; firewall: boolean }[];
    assert.deepEqual(list.map((x) => [x.name, x.mtu, x.firewall]), [['v1', 1400, false]]);
    const again = await call('POST', '/vpcs', JSON.stringify({ vpc_name: 'v1', node_member: 'all', peer_network: '10.100.0.0/24' }));
    assert.equal(again.status, 409);
    const shown = (await call('GET', '/vpcs/v1')).json as unknown as { members: { node: string }[]; local: { vxlan: boolean } };
    assert.deepEqual(shown.members.map((m) => m.node), ['h1']);
    assert.equal(shown.local.vxlan, false);
  });
});

describe('OpenAPI document', () => {
  test('a standard validator (swagger-parser) accepts it, and refuses a broken one', async () => {
    await SwaggerParser.validate(structuredClone(openApiDocument()) as never);
    const broken = structuredClone(openApiDocument()) as { paths: Record<string, Record<string, { responses?: unknown }>> };
    const get = broken.paths['/api/v1/vpcs/{name}']?.get;
    if (get) get.responses = 'none';
    await assert.rejects(SwaggerParser.validate(broken as never));
  });

  test('covers every route, with the catalog\'s argument types', () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { properties: Record<string, { type?: string; minimum?: number }> } } } } }>> };
    assert.equal(doc.openapi, '3.1.0');
    for (const r of ROUTES) assert.ok(doc.paths[`/api/v1${r.path.replace(/:(\w+)/g, '{$1}')}`]?.[r.method.toLowerCase()], `${r.method} ${r.path}`);
    const init = doc.paths['/api/v1/vpcs']?.post?.requestBody?.content['application/json'].schema.properties;
    assert.equal(init?.mtu?.type, 'integer');
    assert.equal(init?.mtu?.minimum, 1280);
  });
});

describe('status cache and token cache', () => {
  test('a fresh status is served as it is; a stale one at once while one refresh runs; concurrent callers share it', async () => {
    const { StatusCache } = await import('../../src/adapters/http/watcher.js');
    let computed = 0;
    let release: (() => void) | null = null;
    const cache = new StatusCache(async (vpc) => {
      computed++;
      await new Promise<void>((r) => (release = r));
      return { vpc, ok: true, hosts: [{ node: `n${computed}`, ok: true, error: null, tunnels: [] }] };
    });
    const first = [cache.get('v'), cache.get('v'), cache.get('v')];
    assert.equal(computed, 1, 'one computation for concurrent callers');
    (release as unknown as () => void)();
    const got = await Promise.all(first);
    assert.deepEqual(got.map((g) => g.hosts[0]?.node), ['n1', 'n1', 'n1']);
    // Stale (TTL 0 here): served at once, one refresh starts.
    const stale = await cache.get('v', 0);
    assert.equal(stale.hosts[0]?.node, 'n1');
    await cache.get('v', 0);
    assert.equal(computed, 2, 'one refresh however many stale reads');
    (release as unknown as () => void)();
    await new Promise((r) => setImmediate(r));
    assert.equal((await cache.get('v')).hosts[0]?.node, 'n2');
  });

  test('accepted tokens are remembered briefly, refused ones never', async () => {
    const { cachedTokens, TOKEN_CACHE_MS } = await import('../../src/adapters/http/auth.js');
    let now = 0;
    let asked = 0;
    let valid = true;
    const check = cachedTokens(() => {
      asked++;
      return valid ? { name: 'a', role: 'admin' } : null;
    }, () => now);
    check('t');
    check('t');
    assert.equal(asked, 1);
    valid = false;
    now = TOKEN_CACHE_MS + 1;
    assert.equal(check('t'), null, 'a revoked token is refused once the cache expires');
    check('t');
    assert.equal(asked, 3, 'a refusal is not remembered');
  });
});

describe('the console\'s files', () => {
  test('served from its directory only: traversal, encoded or not, never leaves it', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const root = join(dir, 'web');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'SECRET');
    const web = createServer({ host, checkToken: (t) => checkToken(host.db, t), memberVpcs: () => [], webRoot: root, log: () => undefined });
    try {
      const get = async (path: string): Promise<{ status: number; text: string; type: string | null; csp: string | null }> => {
        const r = await web.app.request(path);
        return { status: r.status, text: await r.text(), type: r.headers.get('content-type'), csp: r.headers.get('content-security-policy') };
      };
      const js = await get('/assets/app.js');
      assert.equal(js.text, 'console.log(1)');
      assert.match(js.type ?? '', /javascript/);
      const index = await get('/vpcs/vpc1');
      assert.match(index.text, /<title>console/);
      assert.match(index.csp ?? '', /default-src 'self'/);
      for (const evil of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/%00', '/%E0%A4%A']) {
        const r = await get(evil);
        assert.ok(!r.text.includes('SECRET'), evil);
      }
      assert.equal((await web.app.request('/api/v1/vpcs')).status, 401, 'the API keeps its tokens next to the files');
    } finally {
      web.close();
    }
  });
});

describe('hardening found by review', () => {
  test('HEAD /events answers without taking one of the event streams', async () => {
    const { MAX_STREAMS } = await import('../../src/adapters/http/server.js');
    for (let i = 0; i < MAX_STREAMS + 5; i++) {
      const r = await server.app.request('/api/v1/events', { method: 'HEAD', headers: { authorization: `Bearer ${reader}` } });
      assert.equal(r.status, 200);
    }
    assert.equal(server.bus.size, 0);
    const res = await server.app.request('/api/v1/events', { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    await res.body?.cancel();
  });

  test('failed logins count per IPv4 address and per IPv6 /64', async () => {
    const { clientKey } = await import('../../src/adapters/http/auth.js');
    assert.equal(clientKey('198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });

  test('the unit file: a path cannot add a directive, and % and $ reach the server as written', async () => {
    const { serverUnit, unitArg } = await import('../../src/app/server-unit.js');
    assert.throws(() => serverUnit({ listen: '127.0.0.1:8089', cert: '/etc/x\nExecStartPre=/bin/touch /tmp/pwned', key: '/k' }), /control characters are not allowed/);
    assert.equal(unitArg('/etc/ssl/a.pem'), '/etc/ssl/a.pem');
    assert.equal(unitArg('cert=/etc/ssl/%H.pem'), '"cert=/etc/ssl/%%H.pem"');
    assert.equal(unitArg('key=/k $HOME "q" \\b'), '"key=/k $$HOME \\"q\\" \\\\b"');
    const unit = serverUnit({ listen: '[::1]:8089', cert: '/etc/my certs/c.pem', key: '/etc/my certs/k.pem' });
    assert.match(unit, /^ExecStart=\/usr\/bin\/env meshvpc server listen=\[::1\]:8089 "cert=\/etc\/my certs\/c.pem" "key=\/etc\/my certs\/k.pem"$/m);
  });

  test('a peer speaks only for its own tunnels of this VPC, with printable names', async () => {
    const { tunnelStatusFromWire } = await import('../../src/cluster/wire.js');
    const pairs = [{ a: 'h1', b: 'h2', vni: 100 }, { a: 'h2', b: 'h3', vni: 102 }, { a: 'h1', b: 'h3', vni: 101 }];
    const row = (over: Record<string, unknown>): Record<string, unknown> => ({ node: 'h2', tunnel: 'vxlan100', peer: 'h1', vni: 100, present: true, up: true, mtu: 1450, isolated: true, rtt_ms: 0.1, ...over });
    assert.equal(tunnelStatusFromWire([row({})], 'h2', pairs)[0]?.rx_bytes, null, 'a 0.2 peer sends no counters');
    assert.throws(() => tunnelStatusFromWire([row({ node: 'h1' })], 'h2', pairs), /reported a tunnel of "h1"/);
    assert.throws(() => tunnelStatusFromWire([row({ peer: 'h9', vni: 100 })], 'h2', pairs), /not a pair of this VPC/);
    assert.throws(() => tunnelStatusFromWire([row({ peer: 'h3', vni: 101 })], 'h2', pairs), /not a pair of this VPC/);
    assert.throws(() => tunnelStatusFromWire([row({ tunnel: 'vx\u001b[31m' })], 'h2', pairs), /tunnel name/);
    assert.throws(() => tunnelStatusFromWire([row({}), row({}), row({})], 'h2', pairs), /at most 2/);
    assert.throws(() => tunnelStatusFromWire([row({ rtt_ms: -1 })], 'h2', pairs), /rtt_ms/);
    assert.throws(() => tunnelStatusFromWire([row({ tx_bytes: 1.5 })], 'h2', pairs), /tx_bytes/);
  });

  test('a peer\'s error message is repeated as one printable line', async () => {
    const { oneLine } = await import('../../src/cluster/peers.js');
    assert.equal(oneLine('bad\nsecond line'), 'bad');
    assert.equal(oneLine('a\u001b[2Jb\u0007'), 'a?[2Jb?');
    assert.equal(oneLine('x\u202eevil'), 'x?evil');
    assert.equal(oneLine(42), 'no reason given');
    assert.equal(oneLine('y'.repeat(500)).length, 303);
  });

  test('locks left under this process\'s pid by an earlier process are cleared at start', async () => {
    const { clearInheritedLocks } = await import('../../src/store/lock.js');
    host.db.prepare("INSERT INTO lock (name, pid, what, token) VALUES ('op:v9', ?, 'vpc mode=deploy', 'old')").run(process.pid);
    host.db.prepare("INSERT INTO lock (name, pid, what, token) VALUES ('op:v8', 1, 'vpc mode=deploy', 'other')").run();
    assert.equal(clearInheritedLocks(host.db), 1);
    assert.deepEqual(host.db.prepare('SELECT name FROM lock ORDER BY name').all(), [{ name: 'op:v8' }]);
    host.db.prepare('DELETE FROM lock').run();
  });
});

test('node mode=show believes a peer\'s hello only about itself', async () => {
  const { helloIdentity } = await import('../../src/cluster/wire.js');
  assert.deepEqual(helloIdentity({ nodename: 'h2', version: '0.2.0', platform: 'linux' }, 'h2'), { version: '0.2.0', platform: 'linux' });
  assert.throws(() => helloIdentity({ nodename: 'h3', version: '0.2.0', platform: 'linux' }, 'h2'), /h2 answered as "h3"/);
  assert.throws(() => helloIdentity({ nodename: 'h2', version: '0.2.0\u001b[2J', platform: 'linux' }, 'h2'), /version/);
  assert.throws(() => helloIdentity({ nodename: 'h2', version: '0.2.0', platform: 'plan9' }, 'h2'), /platform/);
  assert.throws(() => helloIdentity([], 'h2'), /not an object/);
});
