/**
 * Transactions, the store's way: the application layer says what must
 * happen together, the store decides how (better-sqlite3 transactions today,
 * an etcd transaction behind the same functions later).
 */
import type { Db } from './db.js';

/** Run `fn` as one transaction: all of its writes or none. */
export function atomically<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)();
}

/**
 * As `atomically`, but the write lock is taken first (BEGIN IMMEDIATE), so
 * checks made inside `fn` still hold when its writes land: two processes
 * accepting a map at once do not both see an id as free.
 */
export function exclusively<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
