/**
 * Transactions, the store's way: the application layer says what must
 * happen together, the store decides how (better-sqlite3 transactions here;
 * the etcd backend's transactions are in store/etcd/writes.ts).
 *
 * Every write transaction takes the write lock when it begins (BEGIN
 * IMMEDIATE). A deferred one that reads first and writes later is refused at
 * once in WAL mode ("database is locked", SQLITE_BUSY_SNAPSHOT) when another
 * process committed in between, and the busy timeout cannot wait that out:
 * ten containers created at once on one host met exactly that.
 */
import type { Db } from './db.js';

/** Run `fn` as one transaction: all of its writes or none, and what it read still true when they land. */
export function atomically<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/**
 * The same transaction, named where the checks inside `fn` are the point
 * (two processes accepting a map at once must not both see an id as free).
 */
export const exclusively = atomically;
