/** Token-owned locks: one process cannot take a lock twice; a dead holder's lock is taken over; every exit releases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/store/db.js';
import { withLock } from '../../src/store/lock.js';
import type { UserError } from '../../src/core/errors.js';

function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'mvlock-'));
  const db = openDb(home, 'create');
  return fn(db).finally(() => {
    db.close();
    rmSync(home, { recursive: true, force: true });
  });
}

function withTimeout<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const old = process.env.MESHVPC_LOCK_TIMEOUT_MS;
  process.env.MESHVPC_LOCK_TIMEOUT_MS = String(ms);
  return fn().finally(() => {
    if (old === undefined) delete process.env.MESHVPC_LOCK_TIMEOUT_MS;
    else process.env.MESHVPC_LOCK_TIMEOUT_MS = old;
  });
}

const held = (db: Db, name: string): number => (db.prepare('SELECT COUNT(*) AS n FROM lock WHERE name = ?').get(name) as { n: number }).n;

test('two operations of one process on one lock run one after the other', () =>
  withDb(async (db) => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withLock(db, 'op:vpc1', 'first', async () => {
      log.push('first in');
      await gate;
      log.push('first out');
    });
    const second = withLock(db, 'op:vpc1', 'second', async () => {
      log.push('second in');
    });
    await new Promise((r) => setTimeout(r, 350));
    assert.deepEqual(log, ['first in'], 'the second waits while the first holds the lock');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(log, ['first in', 'first out', 'second in']);
    assert.equal(held(db, 'op:vpc1'), 0, 'released');
  }));

test('a lock held by another operation of this process times out with a clear busy error', () =>
  withDb((db) =>
    withTimeout(250, async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = withLock(db, 'op:vpc1', 'vpc mode=deploy', () => gate);
      await assert.rejects(
        withLock(db, 'op:vpc1', 'vpc mode=join', async () => assert.fail('must not run')),
        (e: UserError) =>
          /^op:vpc1 is busy: another operation of this process \(vpc mode=deploy\) has held it since .* UTC; try again later$/.test(e.message) && exitStatus(e.kind) === 4,
      );
      release();
      await first;
    }),
  ));

test('a lock left by a dead process is taken over; a failing operation still releases', () =>
  withDb(async (db) => {
    const dead = spawnSync('true').pid;
    assert.ok(dead);
    db.prepare('INSERT INTO lock (name, pid, what, token) VALUES (?, ?, ?, ?)').run('op:vpc1', dead, 'vpc mode=deploy', 'stale');
    await withTimeout(200, () => withLock(db, 'op:vpc1', 'vpc mode=deploy', async () => assert.equal(held(db, 'op:vpc1'), 1)));
    await assert.rejects(withLock(db, 'op:vpc1', 'x', async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(held(db, 'op:vpc1'), 0);
  }));
