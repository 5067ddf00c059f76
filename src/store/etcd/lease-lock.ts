/**
 * A VPC's lock with backend=etcd: a key on a lease, so it goes when its
 * holder dies (a killed process stops renewing it, and etcd deletes the key
 * when the lease runs out), never a lock held for ever by a dead host.
 *
 * A lease can also run out under a holder that lives (a pause longer than its
 * time to live): a holder therefore never trusts its lock for a write, it
 * makes the write's transaction compare the lock key's value with its own
 * (`guard`), so a write under a lost lock does not happen.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import type { Compare, EtcdClient } from './client.js';
import type { Locks } from '../ports.js';
import { lockKey } from './layout.js';

/** Short, so a dead holder frees the VPC soon; renewed three times per period while held. */
export const LOCK_TTL_SECONDS = 10;
const POLL_MS = 100;

export interface StoreLock {
  /** The compare a write made under this lock adds to its transaction. */
  readonly guard: Compare;
  /** Give it back (revoking the lease deletes the key); a lock already lost is given back too. */
  release(): Promise<void>;
}

interface Holder {
  readonly node: string;
  readonly what: string;
  readonly token: string;
}

const holderOf = (raw: string): Holder | null => {
  try {
    const o = JSON.parse(raw) as Record<string, unknown>;
    return typeof o.node === 'string' && typeof o.what === 'string' && typeof o.token === 'string' ? { node: o.node, what: o.what, token: o.token } : null;
  } catch {
    return null;
  }
};

/** What a busy refusal says of a holder: printable and short, whatever the store holds. */
const said = (x: string): string => x.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);

/**
 * Take `key` for `node` (doing `what`), waiting up to `waitMs` for another
 * holder to give it back or die; a busy refusal names the holder.
 */
export async function lockInStore(client: EtcdClient, key: string, node: string, what: string, waitMs: number): Promise<StoreLock> {
  const token = randomBytes(12).toString('hex');
  const value = JSON.stringify({ node, what, token });
  const lease = await client.grant(LOCK_TTL_SECONDS);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      if (await client.create(key, value, { lease: lease.id })) break;
      const now = await client.get(key);
      if (Date.now() >= deadline) {
        const h = now ? holderOf(now.value) : null;
        throw new UserError(`${key.split('/').pop() ?? key} is busy: ${h ? `${said(h.node)} (${said(h.what)})` : 'another host'} holds its lock in the cluster's store; try again later`, 'busy');
      }
      await new Promise((r) => setTimeout(r, POLL_MS + Math.random() * POLL_MS));
    }
  } catch (e) {
    await client.revoke(lease.id).catch(() => undefined);
    throw e;
  }
  // Renewed while held; a renewal that fails leaves the guard to refuse the write.
  const timer = setInterval(() => void client.keepAlive(lease.id).catch(() => undefined), (LOCK_TTL_SECONDS * 1000) / 3);
  timer.unref();
  return {
    guard: { key, target: 'value', result: 'equal', operand: value },
    release: async () => {
      clearInterval(timer);
      await client.revoke(lease.id).catch(() => undefined);
    },
  };
}

/** Run `fn` holding `key`; given back however `fn` ends. */
export async function withStoreLock<T>(client: EtcdClient, key: string, node: string, what: string, waitMs: number, fn: (lock: StoreLock) => Promise<T>): Promise<T> {
  const lock = await lockInStore(client, key, node, what, waitMs);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/** The Locks port in the cluster's store: a VPC's lock (`lock/NAME`) between hosts, taken as `node`. */
export const storeLocks = (client: EtcdClient, node: string, waitMs: number): Locks<StoreLock> => ({
  withLock: (name, what, fn) => withStoreLock(client, lockKey(name), node, what, waitMs, fn),
});
