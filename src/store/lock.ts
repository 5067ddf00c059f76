/**
 * Named locks in the host's database, so two meshvpc processes never change
 * the same VPC at once. A lock held by a process that died (SIGKILL, crash)
 * is taken over: its pid no longer exists.
 */
import { UserError } from '../core/errors.js';
import type { Db } from './db.js';

const POLL_MS = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryAcquire(db: Db, name: string, what: string): { pid: number; what: string; since: string } | null {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT pid, what, acquired_at FROM lock WHERE name = ?').get(name) as { pid: number; what: string; acquired_at: string } | undefined;
      if (row && row.pid !== process.pid && alive(row.pid)) return { pid: row.pid, what: row.what, since: row.acquired_at };
      db.prepare(
        `INSERT INTO lock (name, pid, what) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, what = excluded.what, acquired_at = datetime('now')`,
      ).run(name, process.pid, what);
      return null;
    })
    .immediate();
}

export function lockTimeoutMs(): number {
  return Number(process.env.MESHVPC_LOCK_TIMEOUT_MS) || 60_000;
}

/** Run `fn` holding the lock; wait up to the timeout for another holder, then fail clearly. */
export async function withLock<T>(db: Db, name: string, what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + lockTimeoutMs();
  for (;;) {
    const holder = tryAcquire(db, name, what);
    if (!holder) break;
    if (Date.now() >= deadline) {
      throw new UserError(`${name} is busy: pid ${holder.pid} (${holder.what}) has held it since ${holder.since} UTC; try again later`, 4);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    db.prepare('DELETE FROM lock WHERE name = ? AND pid = ?').run(name, process.pid);
  }
}
