/**
 * The store's ports: what the application layer needs of where state lives,
 * each with an implementation per backend. A new backend is a new module
 * behind these, not edits across the operations.
 *
 * - Host-local facts (this host's keys, guests, what it applied, observed
 *   kernel state) live in the host's own SQLite on every backend (`repo.ts`):
 *   the rule, so that port has one implementation.
 * - `Locks` below: two implementations, this host's SQLite (`hostLocks`,
 *   store/lock.ts: between processes of one host) and the cluster's etcd
 *   (`storeLocks`, store/etcd/lease-lock.ts: between hosts, on leases).
 * - The cluster's state (definitions, peer maps, guests, quotas, allocations)
 *   is the `ClusterStore` port (app/cluster-store.ts), with the embedded
 *   implementation (SQLite per host, changed by SSH push) and the etcd one.
 *   It lives in app/ because each implementation reports an operation's
 *   progress as events and the embedded one replicates by SSH, which store/
 *   may not import; every etcd transaction stays in store/etcd/writes.ts.
 */

/**
 * Named locks, each acquisition with a token of its own (never "my pid"), so
 * one long-lived process cannot take the same lock twice. `fn` gets what the
 * implementation holds: nothing for SQLite; for etcd, the compare a write
 * made under the lock adds to its transaction (a lock lost to a pause then
 * writes nothing).
 */
export interface Locks<Held = void> {
  /** Run `fn` holding `name` (doing `what`); a `busy` refusal naming the holder when it is not free in time. */
  withLock<T>(name: string, what: string, fn: (held: Held) => Promise<T>): Promise<T>;
}
