/**
 * Upgrades lose nothing: a database made by meshvpc 0.1.0 (test/fixtures/db-0.1.0.sqlite,
 * written by that release's own code: initenv, vpc init/init_peers, jcreate, and its repo
 * functions for a 3-member VPC with nodes) opens with this release, migrates forward, and
 * every row it held reads back the same.
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

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'db-0.1.0.sqlite');

function withOldHome<T>(fn: (home: string) => T): T {
  const home = mkdtempSync(join(tmpdir(), 'mvmigrate-'));
  try {
    copyFileSync(FIXTURE, join(home, 'meshvpc.sqlite'));
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
      assert.deepEqual(vpc1 && { ...vpc1 }, { name: 'vpc1', peerNetwork: '198.51.100.0/26', family: 6, mtu: null, firewall: false, members: [{ node: 'old1', underlay: '2001:db8::10' }], pairs: [], quota: { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null }, guestNetwork: null });
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

test('the CLI of this release lists what 0.1.0 stored', () => {
  withOldHome((home) => {
    const run = (...args: string[]): unknown => {
      const r = spawnSync(process.execPath, [join(root, 'bin', 'meshvpc.js'), ...args], { env: { ...process.env, MESHVPC_HOME: home }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    assert.deepEqual((run('vpc', 'mode=list', '--json') as { name: string; pairs: number }[]).map((v) => [v.name, v.pairs]), [['vpc1', 0], ['vpc2', 3]]);
    assert.deepEqual((run('jls', '--json') as { jname: string; ip4_addr: string }[]).map((j) => [j.jname, j.ip4_addr]), [['db1', '0'], ['web1', '203.0.113.5/24']]);
  });
});
