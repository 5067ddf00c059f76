/**
 * A write transaction holds the write lock from its start: another process
 * cannot commit between what it read and what it writes, so a check inside
 * it still holds when its writes land, and it is never refused at once as
 * "database is locked" (SQLite's BUSY_SNAPSHOT in WAL mode) for having read
 * first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { atomically } from '../../src/store/tx.js';
import type { Db } from '../../src/store/db.js';

test('atomically: no other connection writes between its read and its write; a deferred transaction is where that bites', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshvpc-tx-'));
  try {
    const file = join(dir, 'x.sqlite');
    const a = new Database(file);
    a.pragma('journal_mode = WAL');
    a.exec('CREATE TABLE t (x INTEGER)');
    const b = new Database(file);
    b.pragma('busy_timeout = 0');
    // What a second process does meanwhile: here, at once, with no waiting.
    const other = (): void => void b.prepare('INSERT INTO t VALUES (9)').run();

    // The hazard: read, another process commits, then the write is refused at once.
    assert.throws(
      () =>
        a.transaction(() => {
          a.prepare('SELECT count(*) FROM t').get();
          other();
          a.prepare('INSERT INTO t VALUES (1)').run();
        })(),
      (e: Error & { code?: string }) => e.code === 'SQLITE_BUSY_SNAPSHOT',
    );

    // atomically: the other writer waits (here: is told busy), the read still holds, the write lands.
    const before = (a.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    atomically(a as unknown as Db, () => {
      const n = (a.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
      assert.throws(other, (e: Error & { code?: string }) => e.code === 'SQLITE_BUSY');
      a.prepare('INSERT INTO t VALUES (?)').run(n);
    });
    assert.equal((a.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, before + 1);
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
