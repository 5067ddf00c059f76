/**
 * Named locks in the host's database, so two changes of one VPC never run at
 * once, whether they come from two meshvpc processes or from one long-lived
 * process (a server running two requests). Each acquisition has a token of
 * its own: the holder is a token, not a pid, so the same process cannot take
 * a lock twice. A lock whose process died (SIGKILL, crash) is taken over: its
 * pid no longer exists.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.js';
import type { Db } from './db.js';
import type { Locks } from './ports.js';

const POLL_MS = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Holder {
  readonly pid: number;
  readonly what: string;
  readonly since: string;
}

function tryAcquire(db: Db, name: string, what: string, token: string): Holder | null {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT pid, what, acquired_at FROM lock WHERE name = ?').get(name) as { pid: number; what: string; acquired_at: string } | undefined;
      if (row && alive(row.pid)) return { pid: row.pid, what: row.what, since: row.acquired_at };
      db.prepare(
        `INSERT INTO lock (name, pid, what, token) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET pid = excluded.pid, what = excluded.what, token = excluded.token, acquired_at = datetime('now')`,
      ).run(name, process.pid, what, token);
      return null;
    })
    .immediate();
}

export function lockTimeoutMs(): number {
  return Number(process.env.MESHVPC_LOCK_TIMEOUT_MS) || 60_000;
}

/** Run `fn` holding the lock; wait up to the timeout for another holder, then fail clearly. */
export async function withLock<T>(db: Db, name: string, what: string, fn: () => Promise<T>): Promise<T> {
  const token = randomBytes(16).toString('hex');
  const deadline = Date.now() + lockTimeoutMs();
  for (;;) {
    const holder = tryAcquire(db, name, what, token);
    if (!holder) break;
    if (Date.now() >= deadline) {
      const who = holder.pid === process.pid ? 'another operation of this process' : `pid ${holder.pid}`;
      throw new UserError(`${name} is busy: ${who} (${holder.what}) has held it since ${holder.since} UTC; try again later`, 'busy');
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    db.prepare('DELETE FROM lock WHERE name = ? AND token = ?').run(name, token);
  }
}

/** The Locks port on this host's database: between the processes of one host. */
export const hostLocks = (db: Db): Locks => ({ withLock: (name, what, fn) => withLock(db, name, what, () => fn()) });

/** Whether another live process holds `name` (a guest being made there, say). */
export function heldElsewhere(db: Db, name: string): boolean {
  const row = db.prepare('SELECT pid FROM lock WHERE name = ?').get(name) as { pid: number } | undefined;
  return row !== undefined && row.pid !== process.pid && alive(row.pid);
}

/**
 * Locks recorded under this process's own pid. A process just started holds
 * none, so any such row was left by an earlier process that had the same pid
 * (a server restarted as PID 1 in a container, say) and would otherwise look
 * held for ever. Returns how many were cleared.
 */
export function clearInheritedLocks(db: Db): number {
  return db.prepare('DELETE FROM lock WHERE pid = ?').run(process.pid).changes;
}
