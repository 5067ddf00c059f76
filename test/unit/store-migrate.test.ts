/**
 * Upgrades lose nothing: a database made by meshvpc 0.1.0 (test/fixtures/db-0.1.0.sqlite,
 * written by that release's own code: initenv, vpc init/init_peers, jcreate, and its repo
 * functions for a 3-member VPC with nodes) opens with this release, migrates forward, and
 * every row it held reads back the same. So does one made by 0.2.0 (test/fixtures/db-0.2.0.sqlite,
 * schema 5, written by that release's build of store/db, repo, tokens and lock: a 3-member VPC
 * with its peer map and local state, containers with IPv6 and a guest id, a read token, and a
 * lock held when the file was copied); what this release added arrives as "nothing set".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb, SCHEMA_VERSION } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';
import { checkToken, listTokens, tokenHash } from '../../src/store/tokens.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'db-0.1.0.sqlite');
const FIXTURE_020 = join(root, 'test', 'fixtures', 'db-0.2.0.sqlite');
/** The read token 0.2.0 made for the fixture (only its hash is in the file). */
const TOKEN_020 = 'mvpc_lUau98g3GK6TqRf3aoiHfdee333nAnX-K2WdAcBCgeQ';

function withOldHome<T>(fn: (home: string) => T, fixture = FIXTURE): T {
  const home = mkdtempSync(join(tmpdir(), 'mvmigrate-'));
  try {
    copyFileSync(fixture, join(home, 'meshvpc.sqlite'));
    return fn(home);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test('a 0.1.0 database migrates forward with every row intact', () => {
  const fixtureBytes = readFileSync(FIXTURE);
  withOldHome((home) => {
    const db = openDb(home, 'write');
    assert.ok(db);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(repo.getSelf(db), { nodename: 'old1', ip4: '192.0.2.10', ip6: '2001:db8::10' });
      assert.deepEqual(repo.listNodes(db).map((n) => [n.name, n.sshAddress, n.ip4, n.ip6, n.platform]), [
        ['old2', '2001:db8::11', '192.0.2.11', '2001:db8::11', 'linux'],
        ['old3', '2001:db8::12', '192.0.2.12', '2001:db8::12', 'freebsd'],
      ]);
      const vpc1 = repo.getVpc(db, 'vpc1');
      assert.deepEqual(vpc1 && { ...vpc1 }, { name: 'vpc1', peerNetwork: '198.51.100.0/26', family: 6, mtu: null, firewall: false, members: [{ node: 'old1', underlay: '2001:db8::10' }], pairs: [], quota: { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null }, guestNetwork: null, encrypt: 'none' });
      const vpc2 = repo.getVpc(db, 'vpc2');
      assert.ok(vpc2);
      assert.equal(vpc2.mtu, 1400);
      assert.deepEqual(vpc2.members.map((m) => m.node), ['old1', 'old2', 'old3']);
      assert.deepEqual(vpc2.pairs.map((p) => [p.a, p.b, p.vni, p.slot, p.addrA, p.addrB, p.prefix]), [
        ['old1', 'old2', 100, 0, '198.51.100.65', '198.51.100.66', 30],
        ['old1', 'old3', 101, 1, '198.51.100.69', '198.51.100.70', 30],
        ['old2', 'old3', 102, 2, '198.51.100.73', '198.51.100.74', 30],
      ]);
      assert.deepEqual(repo.getLocal(db, 'vpc2'), { vxlan: true, bridge: true, bridgeIps: ['10.10.11.1/24'], owned: ['vxlan100', 'vxlan101', 'vpc2'] });
      // The new columns arrive empty: no IPv6 address, and no namespace known to be meshvpc's yet.
      assert.deepEqual(repo.listJails(db).map((j) => [j.name, j.interface, j.ip4Addr, j.ip6Addr, j.guestId, j.vnet, j.kind, j.astart]), [
        ['db1', 'vpc1', null, null, null, true, 'jail', false],
        ['web1', 'vpc1', '203.0.113.5/24', null, null, true, 'jail', false],
      ]);
    } finally {
      db.close();
    }
  });
  assert.deepEqual(readFileSync(FIXTURE), fixtureBytes, 'the fixture itself is never written');
});

/** The CLI of this release run on `home`, its --json output parsed. */
const cli =
  (home: string) =>
  (...args: string[]): unknown => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'meshvpc.js'), ...args], { env: { ...process.env, MESHVPC_HOME: home }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

test('the CLI of this release lists what 0.1.0 stored', () => {
  withOldHome((home) => {
    const run = cli(home);
    assert.deepEqual((run('vpc', 'mode=list', '--json') as { name: string; pairs: number }[]).map((v) => [v.name, v.pairs]), [['vpc1', 0], ['vpc2', 3]]);
    assert.deepEqual((run('jls', '--json') as { jname: string; ip4_addr: string }[]).map((j) => [j.jname, j.ip4_addr]), [['db1', '0'], ['web1', '203.0.113.5/24']]);
  });
});

const NO_QUOTA = { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null };

test('a 0.2.0 database migrates forward with every row intact', () => {
  const fixtureBytes = readFileSync(FIXTURE_020);
  withOldHome((home) => {
    const db = openDb(home, 'write');
    assert.ok(db);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(repo.getSelf(db), { nodename: 'rel1', ip4: '192.0.2.20', ip6: '2001:db8::20' });
      const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
      assert.deepEqual(repo.listNodes(db), [
        { name: 'rel2', sshAddress: '192.0.2.21', sshPort: 22, sshUser: 'root', ip4: '192.0.2.21', ip6: '2001:db8::21', hostKey: key, platform: 'linux', wgKey: null, wgPort: null },
        { name: 'rel3', sshAddress: '2001:db8::22', sshPort: 2222, sshUser: 'admin', ip4: null, ip6: '2001:db8::22', hostKey: key, platform: 'freebsd', wgKey: null, wgPort: null },
      ]);

      // VPCs: as 0.2.0 stored them, with no quota and no guest network.
      const solo = repo.getVpc(db, 'solo');
      assert.deepEqual(solo && { ...solo }, { name: 'solo', peerNetwork: '198.51.100.0/26', family: 4, mtu: null, firewall: false, members: [{ node: 'rel1', underlay: '192.0.2.20' }], pairs: [], quota: NO_QUOTA, guestNetwork: null, encrypt: 'none' });
      const trio = repo.getVpc(db, 'trio');
      assert.deepEqual(trio && { ...trio }, {
        name: 'trio',
        peerNetwork: '198.51.100.64/26',
        family: 6,
        mtu: 1400,
        firewall: true,
        members: [
          { node: 'rel1', underlay: '2001:db8::20' },
          { node: 'rel2', underlay: '2001:db8::21' },
          { node: 'rel3', underlay: '2001:db8::22' },
        ],
        pairs: [
          { a: 'rel1', b: 'rel2', vni: 100, slot: 0, addrA: '198.51.100.65', addrB: '198.51.100.66', prefix: 30 },
          { a: 'rel1', b: 'rel3', vni: 101, slot: 1, addrA: '198.51.100.69', addrB: '198.51.100.70', prefix: 30 },
          { a: 'rel2', b: 'rel3', vni: 102, slot: 2, addrA: '198.51.100.73', addrB: '198.51.100.74', prefix: 30 },
        ],
        quota: NO_QUOTA,
        guestNetwork: null,
        encrypt: 'none',
      });
      assert.deepEqual(repo.listVpcs(db).map((v) => v.name), ['solo', 'trio']);
      assert.deepEqual(repo.getLocal(db, 'solo'), { vxlan: false, bridge: false, bridgeIps: [], owned: [] });
      assert.deepEqual(repo.getLocal(db, 'trio'), { vxlan: true, bridge: true, bridgeIps: ['203.0.113.1/24', '2001:db8:20::1/64'], owned: ['vxlan100', 'vxlan101', 'trio'] });

      // Containers keep their IPv6 address and guest id; they are containers, not started at boot.
      const jails = [
        { name: 'app1', interface: 'trio', ip4Addr: '203.0.113.5/24', ip6Addr: '2001:db8:20::5/64', guestId: '4026532841', hostIf: 'vj171ee6b10b', vnet: true, kind: 'jail', astart: false },
        { name: 'cache1', interface: 'solo', ip4Addr: null, ip6Addr: null, guestId: null, hostIf: 'vj379faab9b6', vnet: true, kind: 'jail', astart: false },
      ];
      assert.deepEqual(repo.listJails(db), jails);
      assert.deepEqual(repo.listGuests(db), jails, 'no VMs');
      assert.deepEqual(repo.getGuest(db, 'app1'), jails[0]);
      const vmColumns = db.prepare('SELECT vm_ram, vm_cpus, vm_accel, vm_kernel, vm_initrd, vm_disk, vm_disk_bytes FROM jail ORDER BY name').all();
      assert.deepEqual(vmColumns, [0, 1].map(() => ({ vm_ram: null, vm_cpus: null, vm_accel: null, vm_kernel: null, vm_initrd: null, vm_disk: null, vm_disk_bytes: null })));

      // The API token: listed by name and role, and the token 0.2.0 handed out still authenticates.
      const tokens = listTokens(db);
      assert.deepEqual(tokens.map((t) => [t.name, t.role, t.last_used]), [['ro-monitor', 'read', null]]);
      assert.match(tokens[0]?.created ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.deepEqual(db.prepare('SELECT hash FROM api_token').all(), [{ hash: tokenHash(TOKEN_020) }]);
      assert.deepEqual(checkToken(db, TOKEN_020), { name: 'ro-monitor', role: 'read' });
      assert.equal(checkToken(db, `${TOKEN_020.slice(0, -1)}A`), null);

      // The lock 0.2.0 held when the file was copied, with its per-acquisition token.
      const locks = db.prepare('SELECT name, what, pid, token FROM lock').all() as { name: string; what: string; pid: number; token: string }[];
      assert.deepEqual(locks.map((l) => [l.name, l.what]), [['op:trio', 'deploy']]);
      assert.ok(Number.isInteger(locks[0]?.pid));
      assert.match(locks[0]?.token ?? '', /^[0-9a-f]{32}$/);

      // What migration 6 added exists and holds nothing.
      const count = (table: string): unknown => db.prepare(`SELECT count(*) AS n FROM ${table}`).get();
      assert.deepEqual(count('guest_seen'), { n: 0 });
      assert.deepEqual(count('guest_lease'), { n: 0 });
      assert.deepEqual(repo.getSeen(db, 'trio'), []);
    } finally {
      db.close();
    }
  }, FIXTURE_020);
  assert.deepEqual(readFileSync(FIXTURE_020), fixtureBytes, 'the fixture itself is never written');
});

test('the CLI of this release lists what 0.2.0 stored', () => {
  const fixtureBytes = readFileSync(FIXTURE_020);
  withOldHome((home) => {
    const run = cli(home);
    const vpcs = run('vpc', 'mode=list', '--json') as { name: string; members: string; pairs: number; quota: string }[];
    assert.deepEqual(vpcs.map((v) => [v.name, v.members, v.pairs, v.quota]), [
      ['solo', 'rel1', 0, 'none'],
      ['trio', 'rel1,rel2,rel3', 3, 'none'],
    ]);
    const jails = run('jls', '--json') as { jname: string; interface: string; ip4_addr: string }[];
    assert.deepEqual(jails.map((j) => [j.jname, j.interface, j.ip4_addr]), [['app1', 'trio', '203.0.113.5/24'], ['cache1', 'solo', '0']]);
    const withIp6 = run('jls', 'display=jname,ip6_addr', '--json');
    assert.deepEqual(withIp6, [{ jname: 'app1', ip6_addr: '2001:db8:20::5/64' }, { jname: 'cache1', ip6_addr: '0' }]);
    assert.deepEqual((run('token', 'mode=list', '--json') as { name: string; role: string }[]).map((t) => [t.name, t.role]), [['ro-monitor', 'read']]);
  }, FIXTURE_020);
  assert.deepEqual(readFileSync(FIXTURE_020), fixtureBytes, 'the fixture itself is never written');
});
