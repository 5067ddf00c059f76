/**
 * openDb on real files in a temp directory (no mounts: the full disk and the
 * read-only directory are in test/e2e/storage-faults.test.ts).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { dbPath, openDb, SCHEMA_VERSION } from '../../src/store/db.js';
import { StorageError} from '../../src/store/faults.js';
import { MIGRATIONS } from '../../src/store/schema.js';

function withHome(fn: (home: string, path: string) => void): void {
  const home = mkdtempSync(join(tmpdir(), 'meshvpc-db-'));
  try {
    fn(home, dbPath(home));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** A complete database at `path` (made the way initenv makes it), closed. */
function made(home: string): Buffer {
  openDb(home, 'create').close();
  return readFileSync(dbPath(home));
}

/** openDb must throw a StorageError with exactly this message, for every access. */
function refused(home: string, reason: string | RegExp): void {
  for (const access of ['read', 'write', 'create'] as const) {
    assert.throws(
      () => openDb(home, access),
      (e: unknown) =>
        e instanceof StorageError &&
        exitStatus(e.kind) === 5 &&
        (typeof reason === 'string' ? e.message === `database ${dbPath(home)}: ${reason}` : reason.test(e.message)),
      `${access}: ${typeof reason === 'string' ? reason : reason.source}`,
    );
  }
}

describe('openDb: a missing database', () => {
  test('read and write find none; nothing is created', () => {
    withHome((home, path) => {
      assert.equal(openDb(home, 'read'), null);
      assert.equal(openDb(home, 'write'), null);
      assert.deepEqual(readdirSync(home), []);
      assert.equal(existsSync(path), false);
    });
  });

  test('create makes a complete one, mode 600, and leaves no temporary file', () => {
    withHome((home, path) => {
      const db = openDb(join(home, 'sub'), 'create');
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        db.close();
      }
      assert.equal(statSync(dbPath(join(home, 'sub'))).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(join(home, 'sub')), ['meshvpc.sqlite']);
      assert.equal(existsSync(path), false);
    });
  });

  test('an existing database is opened, not made again', () => {
    withHome((home, path) => {
      const before = made(home);
      const db = openDb(home, 'create');
      db.close();
      assert.deepEqual(readFileSync(path), before);
    });
  });
});

describe('openDb: files that are not a usable meshvpc database are refused untouched', () => {
  /** [what, damage done to a good database, the reason expected (a RegExp: found by SQLite, not from the header)] */
  const cases: Array<[string, (good: Buffer) => Buffer, (good: Buffer) => string | RegExp]> = [
    ['zero-length', () => Buffer.alloc(0), () => 'empty file (0 bytes), not a meshvpc database: move it away to start afresh with meshvpc initenv'],
    ['random bytes', () => Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)), () => 'not a meshvpc database (file is not a database)'],
    ['truncated to whole pages', (good) => good.subarray(0, 8192), (good) => `corrupt (truncated: 8192 bytes, its header says ${good.length})`],
    ['truncated mid-page', (good) => good.subarray(0, 10000), () => 'corrupt (truncated: 10000 bytes is not a whole number of 4096-byte pages)'],
    ['a damaged page', (good) => Buffer.from(good).fill(0xa5, 3 * 4096, 3 * 4096 + 200), () => /^database .*: corrupt \(.*page 4\b.*\)$/],
  ];
  for (const [what, damage, reason] of cases) {
    test(what, () => {
      withHome((home, path) => {
        const good = made(home);
        writeFileSync(path, damage(good));
        const bytes = readFileSync(path);
        refused(home, reason(good));
        assert.deepEqual(readFileSync(path), bytes, 'bytes unchanged');
        const left = readdirSync(home).filter((f) => !(typeof reason(good) !== 'string' && /-(wal|shm)$/.test(f)));
        assert.deepEqual(left, ['meshvpc.sqlite'], 'nothing else made (refused from the header: not even -wal, -shm)');
      });
    });
  }

  test('a SQLite database that is not meshvpc\'s (user_version 0)', () => {
    withHome((home, path) => {
      const other = new Database(path);
      other.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY)');
      other.close();
      const bytes = readFileSync(path);
      refused(home, 'not a meshvpc database (no meshvpc schema in it)');
      assert.deepEqual(readFileSync(path), bytes);
    });
  });

  test('a newer schema in the file header: refused before SQLite opens it', () => {
    withHome((home, path) => {
      made(home);
      const db = new Database(path);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      const bytes = readFileSync(path);
      refused(home, `made by a newer meshvpc (schema version ${SCHEMA_VERSION + 1}; this meshvpc knows up to ${SCHEMA_VERSION}): use that meshvpc or a newer one`);
      assert.deepEqual(readFileSync(path), bytes);
      assert.deepEqual(readdirSync(home), ['meshvpc.sqlite'], 'SQLite never opened it (no -wal, no -shm)');
    });
  });

  test('a newer schema still in the WAL (main file older): refused by the check after opening', () => {
    withHome((home, path) => {
      made(home);
      const writer = new Database(path);
      try {
        writer.pragma('wal_autocheckpoint = 0');
        writer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
        assert.ok(statSync(`${path}-wal`).size > 0, 'the change sits in the WAL');
        assert.equal(readFileSync(path).readInt32BE(60), SCHEMA_VERSION, 'the main file still says the old version');
        const bytes = readFileSync(path);
        refused(home, `made by a newer meshvpc (schema version ${SCHEMA_VERSION + 1}; this meshvpc knows up to ${SCHEMA_VERSION}): use that meshvpc or a newer one`);
        assert.deepEqual(readFileSync(path), bytes);
      } finally {
        writer.close();
      }
    });
  });
});

describe('openDb: older schemas are upgraded', () => {
  /** A database as the first meshvpc release left it: migration 1 only. */
  function firstRelease(path: string): void {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(MIGRATIONS[0] as string);
    db.pragma('user_version = 1');
    db.close();
  }

  test('by a command that writes', () => {
    withHome((home, path) => {
      firstRelease(path);
      const db = openDb(home, 'write');
      assert.ok(db);
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
        assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'lock'").get());
      } finally {
        db.close();
      }
    });
  });

  test('by a listing too, which then sees the current schema', () => {
    withHome((home, path) => {
      firstRelease(path);
      const db = openDb(home, 'read');
      assert.ok(db);
      try {
        assert.doesNotThrow(() => db.prepare('SELECT firewall FROM vpc').all());
      } finally {
        db.close();
      }
    });
  });
});

describe('openDb: read-only listings', () => {
  test("'read' cannot write", () => {
    withHome((home) => {
      made(home);
      const db = openDb(home, 'read');
      assert.ok(db);
      try {
        assert.throws(() => db.exec("INSERT INTO self (id, nodename) VALUES (1, 'x')"), /readonly/);
      } finally {
        db.close();
      }
    });
  });

  test('a file truncated to nothing after use is still refused, never recreated', () => {
    withHome((home, path) => {
      made(home);
      truncateSync(path, 0);
      refused(home, /empty file \(0 bytes\)/);
      assert.equal(statSync(path).size, 0);
    });
  });
});
