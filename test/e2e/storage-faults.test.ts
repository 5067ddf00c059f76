/**
 * Storage faults, through the real CLI: a full disk (a small tmpfs), a
 * read-only state directory (a read-only bind mount; chmod does not stop
 * root), and database files that are empty, random, truncated or from a newer
 * meshvpc. Each fault is one line naming the file and the cause, exit status
 * 5, and the database's bytes are unchanged. Mounts happen inside a private
 * mount namespace (unshare -m) and vanish with it; no network namespace is
 * made and no network is touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/store/db.js';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';

const STORAGE_EXIT = exitStatus('storage');
import { cli, contents, inMountNamespace, mountPoints, withTemp, type Run } from './cli-helpers.js';

const INIT = ['initenv', 'nodename=h1', 'nodeip=192.0.2.1'];
/** Each VPC its own /26: two VPCs on one host may not share tunnel address space. */
const DEFINE = (name: string): string[] => ['vpc', 'mode=init', `vpc_name=${name}`, 'node_member=all', `peer_network=198.51.100.${64 * (Number(name.slice(1)) - 1)}/26`];
/** Pure listings: they must work wherever the database can be read. */
const LISTINGS: string[][] = [
  ['vpc', 'mode=list', '--json'],
  ['node', 'mode=list', '--json'],
  ['jls', '--json'],
  ['vpc', 'mode=status', 'vpc_name=v1', '--json'],
];
/** Commands that write (none of them reaches the network): each must be refused the same way. */
const WRITERS: string[][] = [DEFINE('v2'), INIT, ['jcreate', 'jname=j1', 'interface=v1', 'vnet=1']];

function fault(r: Run, db: string, reason: string, what: string): void {
  assert.equal(r.stderr, `meshvpc: database ${db}: ${reason}\n`, `${what}: the one-line error`);
  assert.equal(r.code, STORAGE_EXIT, `${what}: exit status`);
  assert.equal(r.stdout, '', `${what}: prints nothing`);
}

function ok(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

/** The names of the VPCs `vpc mode=list --json` printed. */
const vpcNames = (out: string): string[] => (JSON.parse(out) as { name: string }[]).map((v) => v.name);

/** A state directory with an initialised host and VPC v1, every command closed (no -wal, no -shm left). */
function initialised(home: string): void {
  ok(cli(home, INIT), 'initenv');
  ok(cli(home, DEFINE('v1')), 'vpc mode=init');
  // wireguard/: the WireGuard key initenv makes (encrypt=wireguard).
  assert.deepEqual(readdirSync(home).sort(), ['id_ed25519', 'id_ed25519.pub', 'meshvpc.sqlite', 'wireguard']);
}

/** A state directory `home` and a results directory `out` beside it, in a temp directory removed afterwards. */
function withDirs(fn: (home: string, out: string) => void): void {
  withTemp((dir) => {
    const home = join(dir, 'home');
    const out = join(dir, 'out');
    mkdirSync(home);
    mkdirSync(out);
    fn(home, out);
    assert.equal(mountPoints().includes(home), false, 'no mount is left outside the namespace');
  });
}

test('full disk: writes fail naming the file and "disk full", the database is unchanged, listings still work', { timeout: 120_000 }, () => {
  withDirs((home, out) => {
    const db = join(home, 'meshvpc.sqlite');
    const fill = 'dd if=/dev/zero of="$H/fill" bs=4k 2>/dev/null || true';
    const [init, define, full1, full2, full3, list, full4, debug, later, listLater] = inMountNamespace(home, out, [
      // 384 KiB holds the database (about 112 KiB, the WAL while it is written), the keys and the 32 KiB wal-index.
      'mount -t tmpfs -o size=384k meshvpc-test "$H"',
      INIT,
      DEFINE('v1'),
      `cp "$H/meshvpc.sqlite" "$OUT/before"; ${fill}; test "$(df -k "$H" | awk 'NR == 2 { print $4 }')" = 0`,
      // No space at all: SQLite cannot even make its wal-index and says only "disk I/O error".
      ...WRITERS,
      ['vpc', 'mode=list', '--json'],
      // Room for the wal-index but not for the change: SQLITE_FULL when the transaction commits.
      `cp "$H/meshvpc.sqlite" "$OUT/after-open"; rm -f "$H/meshvpc.sqlite-shm" "$H/meshvpc.sqlite-wal" "$H/fill"; ${fill}; truncate -s -48k "$H/fill"`,
      DEFINE('v3'),
      'export MESHVPC_DEBUG=1',
      DEFINE('v3'),
      `unset MESHVPC_DEBUG; cp "$H/meshvpc.sqlite" "$OUT/after-commit"; rm "$H/fill"`,
      // With space again, the same command works: nothing was left half done.
      DEFINE('v3'),
      ['vpc', 'mode=list', '--json'],
    ]);
    ok(init as Run, 'initenv');
    ok(define as Run, 'vpc mode=init v1');
    fault(full1 as Run, db, 'disk full', 'vpc mode=init on a full disk');
    fault(full2 as Run, db, 'disk full', 'initenv on a full disk');
    fault(full3 as Run, db, 'disk full', 'jcreate on a full disk');
    assert.deepEqual(vpcNames(ok(list as Run, 'vpc mode=list on a full disk')), ['v1']);
    fault(full4 as Run, db, 'disk full', 'vpc mode=init with room for the wal-index only');
    assert.match((debug as Run).stderr, new RegExp(`^meshvpc: database ${db}: disk full\nSqliteError: database or disk is full\n`), 'that one was SQLITE_FULL at commit');
    const before = readFileSync(join(out, 'before'));
    assert.deepEqual(readFileSync(join(out, 'after-open')), before, 'database unchanged by the refused opens');
    assert.deepEqual(readFileSync(join(out, 'after-commit')), before, 'database unchanged by the failed commit');
    ok(later as Run, 'vpc mode=init once there is space');
    assert.deepEqual(vpcNames(ok(listLater as Run, 'vpc mode=list')), ['v1', 'v3']);
  });
});

test('full disk at initenv: no database (not even an empty one) is left behind', { timeout: 60_000 }, () => {
  withDirs((home, out) => {
    const db = join(home, 'meshvpc.sqlite');
    const [first, second] = inMountNamespace(home, out, [
      // 64 KiB cannot hold a new database (76 KiB).
      'mount -t tmpfs -o size=64k meshvpc-test "$H"',
      INIT,
      INIT,
      'ls -A "$H" >"$OUT/left"',
    ]);
    fault(first as Run, db, 'disk full', 'initenv');
    fault(second as Run, db, 'disk full', 'initenv again (not "empty file": nothing half made was left)');
    assert.equal(readFileSync(join(out, 'left'), 'utf8'), '', 'no database, temporary file or key left');
  });
});

test('read-only state directory: listings work, writes fail naming the file and "read-only file system", nothing changes', { timeout: 120_000 }, () => {
  withDirs((home, out) => {
    const db = join(home, 'meshvpc.sqlite');
    initialised(home);
    const readOnly = 'mount --bind "$H" "$H"; mount -o remount,bind,ro "$H"; if touch "$H/probe" 2>/dev/null; then exit 91; fi';
    // First with no -shm beside the database (as every writing command leaves it), which SQLite cannot make here.
    const before = contents(home);
    const clean = inMountNamespace(home, out, [readOnly, ...LISTINGS, ...WRITERS]);
    clean.slice(0, LISTINGS.length).forEach((r, i) => ok(r, `${LISTINGS[i]?.join(' ')} on a read-only directory`));
    assert.deepEqual(vpcNames((clean[0] as Run).stdout), ['v1']);
    assert.deepEqual(JSON.parse((clean[2] as Run).stdout), []);
    clean.slice(LISTINGS.length).forEach((r, i) => fault(r, db, 'read-only file system', `${WRITERS[i]?.join(' ')} on a read-only directory`));
    assert.deepEqual(contents(home), before, 'every file unchanged, none added');

    // Then with the -wal and -shm a listing leaves behind: SQLite reads through them.
    ok(cli(home, ['vpc', 'mode=list']), 'a listing before the mount');
    assert.deepEqual(readdirSync(home).filter((f) => f.startsWith('meshvpc.sqlite-')).sort(), ['meshvpc.sqlite-shm', 'meshvpc.sqlite-wal']);
    const withShm = contents(home);
    const again = inMountNamespace(home, out, [readOnly, LISTINGS[0] as string[], WRITERS[0] as string[]]);
    assert.deepEqual(vpcNames(ok(again[0] as Run, 'vpc mode=list with -shm present')), ['v1']);
    fault(again[1] as Run, db, 'read-only file system', 'vpc mode=init with -shm present');
    assert.deepEqual(contents(home), withShm);
  });
});

/** [what, the damage done to a good database file, the reason expected] */
const BAD_FILES: Array<[string, (good: Buffer, path: string) => void, (good: Buffer) => string]> = [
  ['a zero-length file', (_, p) => writeFileSync(p, ''), () => 'empty file (0 bytes), not a meshvpc database: move it away to start afresh with meshvpc initenv'],
  ['random bytes', (_, p) => writeFileSync(p, Buffer.from(Array.from({ length: 16384 }, (_x, i) => (i * 7919 + 13) % 256))), () => 'not a meshvpc database (file is not a database)'],
  ['a file truncated to whole pages', (good, p) => writeFileSync(p, good.subarray(0, 40960)), (good) => `corrupt (truncated: 40960 bytes, its header says ${good.length})`],
  ['a file truncated mid-page', (good, p) => writeFileSync(p, good.subarray(0, 40000)), () => 'corrupt (truncated: 40000 bytes is not a whole number of 4096-byte pages)'],
  [
    'a database from a newer meshvpc',
    (_, p) => {
      const d = new Database(p);
      d.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      d.close();
    },
    () => `made by a newer meshvpc (schema version ${SCHEMA_VERSION + 1}; this meshvpc knows up to ${SCHEMA_VERSION}): use that meshvpc or a newer one`,
  ],
];

for (const [what, damage, reason] of BAD_FILES) {
  test(`${what} is refused by every command, never replaced or modified`, { timeout: 60_000 }, () => {
    withTemp((dir) => {
      const home = join(dir, 'home');
      const db = join(home, 'meshvpc.sqlite');
      initialised(home);
      const good = readFileSync(db);
      damage(good, db);
      const before = contents(home);
      for (const args of [...LISTINGS, ...WRITERS]) {
        fault(cli(home, args), db, reason(good), `${args.join(' ')} on ${what}`);
        // After each command: SQLite never opened the file, so not even a -wal or -shm appeared.
        assert.deepEqual(contents(home), before, `${args.join(' ')}: every file unchanged, none added`);
      }
    });
  });
}
