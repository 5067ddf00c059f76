/**
 * Upgrades lose nothing: a database made by meshvpc 0.1.0 (test/fixtures/db-0.1.0.sqlite,
 * written by that release's own code: initenv, vpc init/init_peers, jcreate, and its repo
 * functions for a 3-member VPC with nodes) opens with this release, migrates forward, and
 * every row it held reads back the same. So does one made by 0.2.0 (test/fixtures/db-0.2.0.sqlite,
 * schema 5, written by that release's build of store/db, repo, tokens and lock: a 3-member VPC
 * with its peer map and local state, containers with IPv6 and a guest id, a read token, and a
 * lock held when the file was copied); what this release added arrives as "nothing set".
 *
 * And one made by 0.3.0 (test/fixtures/db-0.3.0.sqlite, schema 6), by this command run
 * from the checkout as root:
 *
 *   unshare -n -m node scripts/make-fixture-db-0.3.0.mjs
 *
 * It builds 0.3.0 (RELEASE_0_3_0, bee5a2e) from this repository's history the way
 * src/lab/release.ts's buildRelease does, and writes with that build only, in a network
 * namespace of its own (nothing reaches a real network) and a tmpfs at /srv (MESHVPC_HOME
 * /srv/meshvpc, VM images in /srv/vm): its CLI for initenv, vpc mode=init and init_peers
 * (tenant: 3 members, mtu 1400, every quota, guest network 10.60.0.0/24 with gateway;
 * backend: IPv4, firewall=0; solo: this host alone, an IPv6 guest network), jcreate
 * (web1 on tenant,backend: extra_nics, ip4_addr=auto, astart=1; db1; cache1 ip6_addr=auto),
 * bcreate (vm1 with kernel, initrd and disk, no runasap), token mode=create (a read and an
 * admin token), vpc mode=init_vxlan and init_bridge (on a veth underlay in that namespace);
 * its store functions for what needs other hosts (repo.putNode for two nodes, putSeen for
 * what they last reported, putMtuCaps as check_mtu fix=1 stores, tryLease as rel2's
 * guest_hold, checkToken as the API sets last_used) and withLock, held while the file was
 * copied. The script prints the read token and the lease, which TOKEN_030 and LEASE_030 are.
 *
 * And one made by 0.4.0 (test/fixtures/db-0.4.0.sqlite, schema 8), the same way:
 *
 *   unshare -n -m node scripts/make-fixture-db-0.4.0.mjs
 *
 * builds 0.4.0 (RELEASE_0_4_0, f959b9a) and writes what 0.3.0's fixture holds plus what
 * 0.4.0 added: initenv with wg_port= (this host's WireGuard port), the WireGuard key and
 * port each node stated (repo.putNodeSeal, what a hello stores), an encrypted VPC (vault:
 * encrypt=wireguard, 3 members; init_peers gave each pair a seal slot and each member its
 * key and port), members' link MTUs (this host's from its underlay at MTU 9000 through
 * init_peers, rel2's and rel3's by repo.putVpc as a deploy stores what they report), a
 * container on vault, and the lock held on op:vault. The script prints the read token, the
 * lease and the WireGuard keys, which TOKEN_040, LEASE_040 and WG_040 are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDb, SCHEMA_VERSION } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';
import { checkToken, listTokens, tokenHash } from '../../src/store/tokens.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'db-0.1.0.sqlite');
const FIXTURE_020 = join(root, 'test', 'fixtures', 'db-0.2.0.sqlite');
const FIXTURE_030 = join(root, 'test', 'fixtures', 'db-0.3.0.sqlite');
const FIXTURE_040 = join(root, 'test', 'fixtures', 'db-0.4.0.sqlite');
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
      // What migration 7 added: no member's link MTU is known yet.
      assert.deepEqual(db.prepare('SELECT DISTINCT mtu FROM vpc_member').all(), [{ mtu: null }]);
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

/** The read token 0.3.0 made for its fixture, and rel2's guest lease on tenant (the script printed both). */
const TOKEN_030 = 'mvpc_K78XjZgHLyJb__GX5Y3jOnWnhHBzDi93I_FTsBLsZaI';
const LEASE_030 = { vpc: 'tenant', holder: 'rel2', token: 'b55bbd9895bd6aff748b83a4e3c22216', expires_ms: 1795369668209 };
const GiB = 2 ** 30;

type Rows = Record<string, Record<string, unknown>[]>;

/** Every row of every table, as SQLite holds them. */
function allRows(db: Database.Database): Rows {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
  return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all() as Record<string, unknown>[]]));
}

/** What migration 7 (encrypt=wireguard) adds to each table, as it arrives on a row stored before it. */
const ADDED_BY_7: Record<string, Record<string, unknown>> = {
  self: { wg_port: null },
  node: { wg_key: null, wg_port: null },
  vpc: { encrypt: 'none' },
  vpc_member: { wg_key: null, wg_port: null },
  vpc_pair: { seal_slot: null },
};

/** What migration 8 (members' link MTUs) adds: nothing known yet. */
const ADDED_BY_8: Record<string, Record<string, unknown>> = { vpc_member: { mtu: null } };

/** What migration 9 (fdb=control) adds: a VPC from before has no mode yet (it learns until a member names one); nothing set on a bridge; no MAC recorded, no guest running as far as known. */
const ADDED_BY_9: Record<string, Record<string, unknown>> = { vpc: { fdb: null }, jail: { macs: null }, vpc_local: { fdb_record: '{"entries":[],"neighbours":[]}' }, guest_seen: { running: 0 } };
/** Tables migration 9 makes (empty until members report). */
const NEW_IN_9 = ['guest_report'];
/** Tables migration 10 makes (the control plane: empty until cluster mode=init). */
const NEW_IN_10 = ['cluster_config', 'etcd_member'];
/** Tables migration 11 makes (the agent's VPCs). */
const NEW_IN_11 = ['agent_vpc'];
/** What migration 12 adds: what the last deploy applied (core/applied.ts), unknown for every VPC an older release stored. */
const ADDED_BY_12: Record<string, Record<string, unknown>> = { vpc_local: { applied: null } };

test('a 0.3.0 database migrates forward with every row intact', () => {
  const fixtureBytes = readFileSync(FIXTURE_030);
  withOldHome((home) => {
    // What 0.3.0 stored, read from a second copy that is never migrated.
    copyFileSync(FIXTURE_030, join(home, 'as-made.sqlite'));
    const made = new Database(join(home, 'as-made.sqlite'), { readonly: true, fileMustExist: true });
    let before: Rows;
    try {
      assert.equal(made.pragma('user_version', { simple: true }), 6, 'schema 6: made by 0.3.0');
      before = allRows(made);
    } finally {
      made.close();
    }
    const db = openDb(home, 'write');
    assert.ok(db);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      // Every value of every row 0.3.0 stored reads back the same; the new columns hold their defaults.
      const after = allRows(db);
      assert.deepEqual(Object.keys(after), [...Object.keys(before), ...NEW_IN_9, ...NEW_IN_10, ...NEW_IN_11].sort(), 'the same tables, and the new ones');
      for (const t of [...NEW_IN_9, ...NEW_IN_10, ...NEW_IN_11]) assert.deepEqual(after[t], [], `${t} starts empty`);
      for (const [table, rows] of Object.entries(before)) {
        assert.ok(rows.length > 0, `the fixture has rows in ${table}`);
        assert.deepEqual(after[table], rows.map((r) => ({ ...r, ...ADDED_BY_7[table], ...ADDED_BY_8[table], ...ADDED_BY_9[table], ...ADDED_BY_12[table] })), `table ${table}`);
      }

      assert.deepEqual(repo.getSelf(db), { nodename: 'rel1', ip4: '192.0.2.30', ip6: '2001:db8::30' });
      assert.equal(repo.getSelfWgPort(db), null);
      assert.deepEqual(repo.listNodes(db), [
        { name: 'rel2', sshAddress: '192.0.2.31', sshPort: 22, sshUser: 'root', ip4: '192.0.2.31', ip6: '2001:db8::31', hostKey: 'AAAAC3NzaC1lZDI1NTE5AAAAIDZpbaYnGMk4aXtZrQjUlqso6ULNCx6U7IRfuHb+C1Bz', platform: 'linux', wgKey: null, wgPort: null },
        { name: 'rel3', sshAddress: '2001:db8::32', sshPort: 2222, sshUser: 'admin', ip4: null, ip6: '2001:db8::32', hostKey: 'AAAAC3NzaC1lZDI1NTE5AAAAIFrycADUHnGy1eHWRHOQLVMI6Aqwp92WlYwBc5yVU/1J', platform: 'freebsd', wgKey: null, wgPort: null },
      ]);

      // VPCs: the quotas and guest networks 0.3.0 added, the peer maps; cleartext, no seal slots, no WireGuard keys.
      assert.deepEqual(repo.listVpcs(db).map((v) => v.name), ['backend', 'solo', 'tenant']);
      const tenant = repo.getVpc(db, 'tenant');
      assert.deepEqual(tenant && { ...tenant }, {
        name: 'tenant',
        peerNetwork: '198.51.100.0/26',
        family: 6,
        mtu: 1400,
        firewall: true,
        members: [
          { node: 'rel1', underlay: '2001:db8::30' },
          { node: 'rel2', underlay: '2001:db8::31' },
          { node: 'rel3', underlay: '2001:db8::32' },
        ],
        pairs: [
          { a: 'rel1', b: 'rel2', vni: 100, slot: 0, addrA: '198.51.100.1', addrB: '198.51.100.2', prefix: 30 },
          { a: 'rel1', b: 'rel3', vni: 101, slot: 1, addrA: '198.51.100.5', addrB: '198.51.100.6', prefix: 30 },
          { a: 'rel2', b: 'rel3', vni: 102, slot: 2, addrA: '198.51.100.9', addrB: '198.51.100.10', prefix: 30 },
        ],
        quota: { jail_max: 4, vm_max: 2, vcpu_max: 8, ram_max: 4 * GiB, disk_max: 20 * GiB },
        guestNetwork: { network: '10.60.0.0/24', gateway: '10.60.0.1' },
        encrypt: 'none',
      });
      const backend = repo.getVpc(db, 'backend');
      assert.deepEqual(backend && { ...backend }, {
        name: 'backend',
        peerNetwork: '198.51.100.64/26',
        family: 4,
        mtu: null,
        firewall: false,
        members: [
          { node: 'rel1', underlay: '192.0.2.30' },
          { node: 'rel2', underlay: '192.0.2.31' },
        ],
        pairs: [{ a: 'rel1', b: 'rel2', vni: 103, slot: 0, addrA: '198.51.100.65', addrB: '198.51.100.66', prefix: 30 }],
        quota: NO_QUOTA,
        guestNetwork: null,
        encrypt: 'none',
      });
      const solo = repo.getVpc(db, 'solo');
      assert.deepEqual(solo && { ...solo }, { name: 'solo', peerNetwork: '198.51.100.128/26', family: 6, mtu: null, firewall: true, members: [{ node: 'rel1', underlay: '2001:db8::30' }], pairs: [], quota: NO_QUOTA, guestNetwork: { network: '2001:db8:61::/64', gateway: null }, encrypt: 'none' });
      for (const v of repo.listVpcs(db)) {
        assert.ok(v.pairs.every((p) => p.sealSlot === undefined), `${v.name}: no seal slots`);
        assert.ok(v.members.every((m) => m.wgKey === undefined && m.wgPort === undefined), `${v.name}: no WireGuard keys`);
      }

      // This host's layers as 0.3.0's init_vxlan/init_bridge recorded them, and the MTU cap check_mtu fix=1 kept.
      assert.deepEqual(repo.getLocal(db, 'tenant'), { vxlan: true, bridge: true, bridgeIps: ['10.60.0.1/24', '2001:db8:60::1/64'], owned: ['vxlan100', 'vxlan101', 'tenant'] });
      assert.deepEqual(repo.getLocal(db, 'backend'), { vxlan: true, bridge: false, bridgeIps: [], owned: ['vxlan103'] });
      assert.deepEqual(repo.getLocal(db, 'solo'), { vxlan: false, bridge: false, bridgeIps: [], owned: [] });
      assert.deepEqual(repo.getMtuCaps(db, 'tenant'), new Map([['rel3', 1380]]));
      assert.deepEqual(repo.getMtuCaps(db, 'backend'), new Map());

      // Guests: containers (a second NIC on another VPC, astart) and a VM with its kernel, initrd and disk.
      const web1 = { kind: 'jail', name: 'web1', interface: 'tenant', ip4Addr: '10.60.0.5/24', ip6Addr: null, guestId: null, hostIf: 'vj977588a87e', vnet: true, astart: true, extra: [{ vpc: 'backend', ip4Addr: '203.0.113.7/24', ip6Addr: null, hostIf: 'vj89e7d690be' }] };
      const db1 = { kind: 'jail', name: 'db1', interface: 'tenant', ip4Addr: '10.60.0.20/24', ip6Addr: '2001:db8:60::20/64', guestId: null, hostIf: 'vj150253099a', vnet: true, astart: false };
      const cache1 = { kind: 'jail', name: 'cache1', interface: 'solo', ip4Addr: null, ip6Addr: '2001:db8:61::1/64', guestId: null, hostIf: 'vj379faab9b6', vnet: true, astart: false };
      const vm1 = {
        kind: 'vm',
        name: 'vm1',
        interface: 'tenant',
        ip4Addr: '10.60.0.6/24',
        ip6Addr: null,
        guestId: null,
        hostIf: 'tapv7c34ae324b',
        astart: true,
        vm: { ramBytes: 512 * 2 ** 20, cpus: 2, accel: 'tcg', kernel: '/srv/vm/vmlinuz', initrd: '/srv/vm/initrd.img', disk: '/srv/vm/vm1.img', diskBytes: 65536 },
      };
      assert.deepEqual(repo.listGuests(db), [cache1, db1, vm1, web1]);
      assert.deepEqual(repo.listJails(db), [cache1, db1, web1]);
      assert.deepEqual(repo.getGuest(db, 'vm1'), vm1);
      assert.deepEqual(repo.getJail(db, 'web1'), web1);

      // What the other members last reported (an unreachable member's guests stay counted), and rel2's lease.
      const seen = (node: string, name: string, kind: 'jail' | 'vm', ip4Addr: string, ip6Addr: string | null, vcpus: number, ramBytes: number, diskBytes: number) => ({ name, node, kind, interface: 'tenant', ip4Addr, ip6Addr, running: false, vcpus, ramBytes, diskBytes });
      assert.deepEqual(repo.getSeen(db, 'tenant'), [
        seen('rel2', 'api2', 'jail', '10.60.0.2/24', null, 0, 0, 0),
        seen('rel2', 'vm2', 'vm', '10.60.0.3/24', null, 1, 256 * 2 ** 20, GiB),
        seen('rel3', 'db3', 'jail', '10.60.0.4/24', '2001:db8:60::4/64', 0, 0, 0),
      ]);
      assert.deepEqual(repo.getSeen(db, 'backend'), []);
      assert.deepEqual(db.prepare('SELECT vpc, holder, token, expires_ms FROM guest_lease').all(), [LEASE_030]);
      assert.deepEqual(repo.leaseHolder(db, 'tenant', 'another-token', LEASE_030.expires_ms - 1), { holder: 'rel2', expiresMs: LEASE_030.expires_ms });
      assert.equal(repo.leaseHolder(db, 'tenant', LEASE_030.token, LEASE_030.expires_ms - 1), null, 'its holder');
      assert.equal(repo.leaseHolder(db, 'tenant', 'another-token', LEASE_030.expires_ms), null, 'expired');

      // The lock 0.3.0 held when the file was copied.
      assert.deepEqual(db.prepare('SELECT name, what, pid, token FROM lock').all(), [{ name: 'op:tenant', what: 'vpc mode=deploy', pid: 17334, token: '4b0c6196cfa5b42822f624f97d27685b' }]);

      // The API tokens: by name and role, the read token's last use, and the token 0.3.0 handed out still authenticates.
      const tokens = listTokens(db);
      assert.deepEqual(tokens.map((t) => [t.name, t.role]), [['ops', 'admin'], ['ro-monitor', 'read']]);
      assert.equal(tokens[0]?.last_used, null);
      assert.match(tokens[1]?.last_used ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.deepEqual(db.prepare("SELECT hash FROM api_token WHERE name = 'ro-monitor'").all(), [{ hash: tokenHash(TOKEN_030) }]);
      assert.deepEqual(checkToken(db, TOKEN_030), { name: 'ro-monitor', role: 'read' });
      assert.equal(checkToken(db, `${TOKEN_030.slice(0, -1)}A`), null);
    } finally {
      db.close();
    }
  }, FIXTURE_030);
  assert.deepEqual(readFileSync(FIXTURE_030), fixtureBytes, 'the fixture itself is never written');
});

test('the CLI of this release lists what 0.3.0 stored', () => {
  const fixtureBytes = readFileSync(FIXTURE_030);
  withOldHome((home) => {
    const run = cli(home);
    // Not vpc mode=list: for a VPC with a quota it asks the members (192.0.2.31, 2001:db8::32) for
    // their guests now, and this test sends nothing to addresses it does not own. vpc mode=show reads
    // the database only.
    const tenant = run('vpc', 'mode=show', 'vpc_name=tenant') as { members: unknown[]; pairs: unknown[]; quota: unknown; guestNetwork: unknown; encrypt: string; local: unknown };
    assert.equal(tenant.members.length, 3);
    assert.equal(tenant.pairs.length, 3);
    assert.deepEqual(tenant.quota, { jail_max: 4, vm_max: 2, vcpu_max: 8, ram_max: 4 * GiB, disk_max: 20 * GiB });
    assert.deepEqual(tenant.guestNetwork, { network: '10.60.0.0/24', gateway: '10.60.0.1' });
    assert.equal(tenant.encrypt, 'none');
    assert.deepEqual(tenant.local, { vxlan: true, bridge: true, bridgeIps: ['10.60.0.1/24', '2001:db8:60::1/64'] });
    const backend = run('vpc', 'mode=show', 'vpc_name=backend') as { firewall: boolean; family: number; encrypt: string };
    assert.deepEqual([backend.firewall, backend.family, backend.encrypt], [false, 4, 'none']);
    const nodes = run('node', 'mode=list', '--json') as { name: string; ssh: string; platform: string }[];
    assert.deepEqual(nodes.map((n) => [n.name, n.ssh, n.platform]), [['rel2', 'root@192.0.2.31:22', 'linux'], ['rel3', 'admin@[2001:db8::32]:2222', 'freebsd']]);
    assert.deepEqual(run('jls', 'display=jname,interface,ip4_addr,ip6_addr,host_if', '--json'), [
      { jname: 'cache1', interface: 'solo', ip4_addr: '0', ip6_addr: '2001:db8:61::1/64', host_if: 'vj379faab9b6' },
      { jname: 'db1', interface: 'tenant', ip4_addr: '10.60.0.20/24', ip6_addr: '2001:db8:60::20/64', host_if: 'vj150253099a' },
      { jname: 'web1', interface: 'tenant,backend', ip4_addr: '10.60.0.5/24,203.0.113.7/24', ip6_addr: '0,0', host_if: 'vj977588a87e' },
    ]);
    assert.deepEqual(run('bls', 'display=jname,interface,ip4_addr,ram,cpus,accel,astart,host_if', '--json'), [
      { jname: 'vm1', interface: 'tenant', ip4_addr: '10.60.0.6/24', ram: '512m', cpus: 2, accel: 'tcg', astart: true, host_if: 'tapv7c34ae324b' },
    ]);
    assert.deepEqual((run('token', 'mode=list', '--json') as { name: string; role: string }[]).map((t) => [t.name, t.role]), [['ops', 'admin'], ['ro-monitor', 'read']]);
  }, FIXTURE_030);
  assert.deepEqual(readFileSync(FIXTURE_030), fixtureBytes, 'the fixture itself is never written');
});

/** What the script printed for 0.4.0's fixture: the read token, rel2's lease on tenant, the WireGuard keys and ports. */
const TOKEN_040 = 'mvpc_dWEv5RMHDwNJyuJUe6hTNAV-5sMcHk9RedOSpXVKwAw';
const LEASE_040 = { vpc: 'tenant', holder: 'rel2', token: 'b92164cfe457aa7c02384c2b5ea77982', expires_ms: 1795377868374 };
const WG_040 = {
  rel1: { wgKey: 'DoFjjhj7aGMr3uJWe7Em7xOrgCDdl1FdSsAMtI49qnA=', wgPort: 51900 },
  rel2: { wgKey: 'NQA2cFP1+Kyi2HZnCcYrE/GNAKtyyTGD8gQV2o/Q2Bs=', wgPort: 51820 },
  rel3: { wgKey: 'yD7aYUootriXDzp+rL7E5qlibzm7aQAIzZXPNMPMlD0=', wgPort: 51999 },
};

test('a 0.4.0 database migrates forward with every row intact', () => {
  const fixtureBytes = readFileSync(FIXTURE_040);
  withOldHome((home) => {
    // What 0.4.0 stored, read from a second copy that is never migrated.
    copyFileSync(FIXTURE_040, join(home, 'as-made.sqlite'));
    const made = new Database(join(home, 'as-made.sqlite'), { readonly: true, fileMustExist: true });
    let before: Rows;
    try {
      assert.equal(made.pragma('user_version', { simple: true }), 8, 'schema 8: made by 0.4.0');
      before = allRows(made);
    } finally {
      made.close();
    }
    const db = openDb(home, 'write');
    assert.ok(db);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      // Every value of every row 0.4.0 stored reads back the same; what migration 9 adds holds its defaults.
      const after = allRows(db);
      assert.deepEqual(Object.keys(after), [...Object.keys(before), ...NEW_IN_9, ...NEW_IN_10, ...NEW_IN_11].sort(), 'the same tables, and the new ones');
      for (const t of [...NEW_IN_9, ...NEW_IN_10, ...NEW_IN_11]) assert.deepEqual(after[t], [], `${t} starts empty`);
      for (const [table, rows] of Object.entries(before)) {
        assert.ok(rows.length > 0, `the fixture has rows in ${table}`);
        assert.deepEqual(after[table], rows.map((r) => ({ ...r, ...ADDED_BY_9[table], ...ADDED_BY_12[table] })), `table ${table}`);
      }

      // This host: its WireGuard port as initenv wg_port= stored it; the nodes with the key and port each stated.
      assert.deepEqual(repo.getSelf(db), { nodename: 'rel1', ip4: '192.0.2.40', ip6: '2001:db8::40' });
      assert.equal(repo.getSelfWgPort(db), 51900);
      assert.deepEqual(repo.listNodes(db), [
        { name: 'rel2', sshAddress: '192.0.2.41', sshPort: 22, sshUser: 'root', ip4: '192.0.2.41', ip6: '2001:db8::41', hostKey: 'AAAAC3NzaC1lZDI1NTE5AAAAIJ1tEMffHoOYPhGw9dU6FyXgwXo+iJ9prrxCsGbDQ37r', platform: 'linux', ...WG_040.rel2 },
        { name: 'rel3', sshAddress: '2001:db8::42', sshPort: 2222, sshUser: 'admin', ip4: null, ip6: '2001:db8::42', hostKey: 'AAAAC3NzaC1lZDI1NTE5AAAAIDbNSVnzvU7Fx7NvZCQ1J98mJ2/oMr7P6Beq7GgudxGn', platform: 'freebsd', ...WG_040.rel3 },
      ]);
      assert.deepEqual(repo.getNode(db, 'rel3'), repo.listNodes(db)[1]);

      // The encrypted VPC: every member's key, port and link MTU, every pair's seal slot; it keeps learning.
      assert.deepEqual(repo.listVpcs(db).map((v) => v.name), ['backend', 'solo', 'tenant', 'vault']);
      const vault = repo.getVpc(db, 'vault');
      assert.deepEqual(vault && { ...vault }, {
        name: 'vault',
        peerNetwork: '198.51.100.192/26',
        family: 6,
        mtu: null,
        firewall: true,
        members: [
          { node: 'rel1', underlay: '2001:db8::40', ...WG_040.rel1, mtu: 9000 },
          { node: 'rel2', underlay: '2001:db8::41', ...WG_040.rel2, mtu: 1500 },
          { node: 'rel3', underlay: '2001:db8::42', ...WG_040.rel3, mtu: 1400 },
        ],
        pairs: [
          { a: 'rel1', b: 'rel2', vni: 104, slot: 0, addrA: '198.51.100.193', addrB: '198.51.100.194', prefix: 30, sealSlot: 1 },
          { a: 'rel1', b: 'rel3', vni: 105, slot: 2, addrA: '198.51.100.201', addrB: '198.51.100.202', prefix: 30, sealSlot: 3 },
          { a: 'rel2', b: 'rel3', vni: 106, slot: 4, addrA: '198.51.100.209', addrB: '198.51.100.210', prefix: 30, sealSlot: 5 },
        ],
        quota: NO_QUOTA,
        guestNetwork: null,
        encrypt: 'wireguard',
      });
      assert.deepEqual(repo.getLocal(db, 'vault'), { vxlan: false, bridge: false, bridgeIps: [], owned: [] });

      // The cleartext VPCs as 0.3.0's fixture has them; this host's link MTU on its member, no keys.
      const tenant = repo.getVpc(db, 'tenant');
      assert.deepEqual(tenant && { ...tenant }, {
        name: 'tenant',
        peerNetwork: '198.51.100.0/26',
        family: 6,
        mtu: 1400,
        firewall: true,
        members: [
          { node: 'rel1', underlay: '2001:db8::40', mtu: 9000 },
          { node: 'rel2', underlay: '2001:db8::41' },
          { node: 'rel3', underlay: '2001:db8::42' },
        ],
        pairs: [
          { a: 'rel1', b: 'rel2', vni: 100, slot: 0, addrA: '198.51.100.1', addrB: '198.51.100.2', prefix: 30 },
          { a: 'rel1', b: 'rel3', vni: 101, slot: 1, addrA: '198.51.100.5', addrB: '198.51.100.6', prefix: 30 },
          { a: 'rel2', b: 'rel3', vni: 102, slot: 2, addrA: '198.51.100.9', addrB: '198.51.100.10', prefix: 30 },
        ],
        quota: { jail_max: 4, vm_max: 2, vcpu_max: 8, ram_max: 4 * GiB, disk_max: 20 * GiB },
        guestNetwork: { network: '10.60.0.0/24', gateway: '10.60.0.1' },
        encrypt: 'none',
      });
      const backend = repo.getVpc(db, 'backend');
      assert.deepEqual(backend && { ...backend }, {
        name: 'backend',
        peerNetwork: '198.51.100.64/26',
        family: 4,
        mtu: null,
        firewall: false,
        members: [
          { node: 'rel1', underlay: '192.0.2.40', mtu: 9000 },
          { node: 'rel2', underlay: '192.0.2.41' },
        ],
        pairs: [{ a: 'rel1', b: 'rel2', vni: 103, slot: 0, addrA: '198.51.100.65', addrB: '198.51.100.66', prefix: 30 }],
        quota: NO_QUOTA,
        guestNetwork: null,
        encrypt: 'none',
      });
      const solo = repo.getVpc(db, 'solo');
      assert.deepEqual(solo && { ...solo }, { name: 'solo', peerNetwork: '198.51.100.128/26', family: 6, mtu: null, firewall: true, members: [{ node: 'rel1', underlay: '2001:db8::40', mtu: 9000 }], pairs: [], quota: NO_QUOTA, guestNetwork: { network: '2001:db8:61::/64', gateway: null }, encrypt: 'none' });
      assert.deepEqual(repo.getLocal(db, 'tenant'), { vxlan: true, bridge: true, bridgeIps: ['10.60.0.1/24', '2001:db8:60::1/64'], owned: ['vxlan100', 'vxlan101', 'tenant'] });
      assert.deepEqual(repo.getLocal(db, 'backend'), { vxlan: true, bridge: false, bridgeIps: [], owned: ['vxlan103'] });
      assert.deepEqual(repo.getMtuCaps(db, 'tenant'), new Map([['rel3', 1380]]));
      for (const v of repo.listVpcs(db)) assert.deepEqual(repo.getFdbRecord(db, v.name), { entries: [], neighbours: [] }, `${v.name}: nothing of meshvpc's on its bridge yet`);

      // Guests: as 0.3.0's fixture, and a container on the encrypted VPC.
      const web1 = { kind: 'jail', name: 'web1', interface: 'tenant', ip4Addr: '10.60.0.5/24', ip6Addr: null, guestId: null, hostIf: 'vj977588a87e', vnet: true, astart: true, extra: [{ vpc: 'backend', ip4Addr: '203.0.113.7/24', ip6Addr: null, hostIf: 'vj89e7d690be' }] };
      const db1 = { kind: 'jail', name: 'db1', interface: 'tenant', ip4Addr: '10.60.0.20/24', ip6Addr: '2001:db8:60::20/64', guestId: null, hostIf: 'vj150253099a', vnet: true, astart: false };
      const cache1 = { kind: 'jail', name: 'cache1', interface: 'solo', ip4Addr: null, ip6Addr: '2001:db8:61::1/64', guestId: null, hostIf: 'vj379faab9b6', vnet: true, astart: false };
      const sec1 = { kind: 'jail', name: 'sec1', interface: 'vault', ip4Addr: '10.62.0.1/24', ip6Addr: null, guestId: null, hostIf: 'vj3b3e1e1f65', vnet: true, astart: true };
      const vm1 = {
        kind: 'vm',
        name: 'vm1',
        interface: 'tenant',
        ip4Addr: '10.60.0.6/24',
        ip6Addr: null,
        guestId: null,
        hostIf: 'tapv7c34ae324b',
        astart: true,
        vm: { ramBytes: 512 * 2 ** 20, cpus: 2, accel: 'tcg', kernel: '/srv/vm/vmlinuz', initrd: '/srv/vm/initrd.img', disk: '/srv/vm/vm1.img', diskBytes: 65536 },
      };
      assert.deepEqual(repo.listGuests(db), [cache1, db1, sec1, vm1, web1]);
      assert.deepEqual(repo.listJails(db), [cache1, db1, sec1, web1]);
      assert.deepEqual(repo.getGuest(db, 'vm1'), vm1);
      assert.deepEqual(repo.getJail(db, 'sec1'), sec1);

      // What the other members last reported: kept (running unknown), but no member counts as heard from.
      const seen = (node: string, name: string, kind: 'jail' | 'vm', ip4Addr: string, ip6Addr: string | null, vcpus: number, ramBytes: number, diskBytes: number, vpc = 'tenant') => ({ name, node, kind, interface: vpc, ip4Addr, ip6Addr, running: false, vcpus, ramBytes, diskBytes });
      assert.deepEqual(repo.getSeen(db, 'tenant'), [
        seen('rel2', 'api2', 'jail', '10.60.0.2/24', null, 0, 0, 0),
        seen('rel2', 'vm2', 'vm', '10.60.0.3/24', null, 1, 256 * 2 ** 20, GiB),
        seen('rel3', 'db3', 'jail', '10.60.0.4/24', '2001:db8:60::4/64', 0, 0, 0),
      ]);
      assert.deepEqual(repo.getSeen(db, 'vault'), [seen('rel2', 'sec2', 'jail', '10.62.0.2/24', null, 0, 0, 0, 'vault')]);
      for (const v of ['tenant', 'vault']) assert.deepEqual(repo.heardFrom(db, v), new Set(), `${v}: a report from before 0.5 is not a full list`);
      assert.equal(repo.toldDigest(db, 'vault', 'rel2'), null);

      // rel2's lease, the lock 0.4.0 held when the file was copied.
      assert.deepEqual(db.prepare('SELECT vpc, holder, token, expires_ms FROM guest_lease').all(), [LEASE_040]);
      assert.deepEqual(repo.leaseHolder(db, 'tenant', 'another-token', LEASE_040.expires_ms - 1), { holder: 'rel2', expiresMs: LEASE_040.expires_ms });
      assert.equal(repo.leaseHolder(db, 'tenant', LEASE_040.token, LEASE_040.expires_ms - 1), null, 'its holder');
      assert.deepEqual(db.prepare('SELECT name, what, pid, token FROM lock').all(), [{ name: 'op:vault', what: 'vpc mode=deploy', pid: 4417, token: '28c4af8dc876d952081f1c487759e27f' }]);

      // The API tokens, and the token 0.4.0 handed out still authenticates.
      const tokens = listTokens(db);
      assert.deepEqual(tokens.map((t) => [t.name, t.role]), [['ops', 'admin'], ['ro-monitor', 'read']]);
      assert.equal(tokens[0]?.last_used, null);
      assert.match(tokens[1]?.last_used ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.deepEqual(db.prepare("SELECT hash FROM api_token WHERE name = 'ro-monitor'").all(), [{ hash: tokenHash(TOKEN_040) }]);
      assert.deepEqual(checkToken(db, TOKEN_040), { name: 'ro-monitor', role: 'read' });
      assert.equal(checkToken(db, `${TOKEN_040.slice(0, -1)}A`), null);
    } finally {
      db.close();
    }
  }, FIXTURE_040);
  assert.deepEqual(readFileSync(FIXTURE_040), fixtureBytes, 'the fixture itself is never written');
});

test('the CLI of this release shows what 0.4.0 stored', () => {
  const fixtureBytes = readFileSync(FIXTURE_040);
  withOldHome((home) => {
    const run = cli(home);
    // vpc mode=show reads the database only (vpc mode=list would ask tenant's members for their guests).
    const vault = run('vpc', 'mode=show', 'vpc_name=vault') as { members: { node: string; wgKey?: string; wgPort?: number; mtu?: number }[]; pairs: { sealSlot?: number }[]; encrypt: string; fdb?: string };
    assert.equal(vault.encrypt, 'wireguard');
    assert.deepEqual(vault.members.map((m) => [m.node, m.wgKey, m.wgPort, m.mtu]), [
      ['rel1', WG_040.rel1.wgKey, WG_040.rel1.wgPort, 9000],
      ['rel2', WG_040.rel2.wgKey, WG_040.rel2.wgPort, 1500],
      ['rel3', WG_040.rel3.wgKey, WG_040.rel3.wgPort, 1400],
    ]);
    assert.deepEqual(vault.pairs.map((p) => p.sealSlot), [1, 3, 5]);
    assert.equal(vault.fdb, undefined, 'no mode until a member names one (it learns meanwhile)');
    assert.deepEqual(run('jls', 'display=jname,interface,ip4_addr', '--json'), [
      { jname: 'cache1', interface: 'solo', ip4_addr: '0' },
      { jname: 'db1', interface: 'tenant', ip4_addr: '10.60.0.20/24' },
      { jname: 'sec1', interface: 'vault', ip4_addr: '10.62.0.1/24' },
      { jname: 'web1', interface: 'tenant,backend', ip4_addr: '10.60.0.5/24,203.0.113.7/24' },
    ]);
    assert.deepEqual((run('token', 'mode=list', '--json') as { name: string; role: string }[]).map((t) => [t.name, t.role]), [['ops', 'admin'], ['ro-monitor', 'read']]);
  }, FIXTURE_040);
  assert.deepEqual(readFileSync(FIXTURE_040), fixtureBytes, 'the fixture itself is never written');
});

test("an old database, migrated, stores and reads back members' link MTUs (and members without one)", () => {
  withOldHome((home) => {
    const db = openDb(home, 'write');
    assert.ok(db);
    try {
      const trio = repo.getVpc(db, 'trio');
      assert.ok(trio);
      const members = trio.members.map((m) => (m.node === 'rel2' ? m : { ...m, mtu: m.node === 'rel3' ? 1400 : 9000 }));
      db.transaction(() => repo.putVpc(db, { ...trio, members }))();
      assert.deepEqual(repo.getVpc(db, 'trio')?.members, [
        { node: 'rel1', underlay: '2001:db8::20', mtu: 9000 },
        { node: 'rel2', underlay: '2001:db8::21' },
        { node: 'rel3', underlay: '2001:db8::22', mtu: 1400 },
      ]);
      assert.deepEqual(repo.getVpc(db, 'trio')?.pairs, trio.pairs, 'the peer map is untouched');
    } finally {
      db.close();
    }
  }, FIXTURE_020);
});
