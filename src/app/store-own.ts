/**
 * A host's own values in the cluster's store (backend=etcd: `seal/NODE`,
 * `node/NODE`): each written only by that host, signed with the revision it
 * replaces, and believed only from it.
 */
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';

/**
 * Write `body` under `key` as `self`'s own word when the store does not hold
 * exactly that (another writer's value, or an older one of its own), signed
 * with the revision it replaces: an old value written back is told apart by
 * that. Whether it wrote.
 */
export async function sayOwn(client: EtcdClient, key: string, self: string, body: string): Promise<boolean> {
  const current = await client.get(key);
  if (current) {
    try {
      const o = client.open(key, current.value);
      if (o.by === self && o.body === body) return false;
    } catch {
      // Not this host's own word: written again below.
    }
  }
  await client.put(key, client.seal(key, body, current?.modRevision ?? 0));
  return true;
}

/** The values in `kvs` that `read` believes, by node. */
export function believedIn<T>(kvs: readonly KeyValue[], read: (kv: KeyValue) => { node: string; value: T } | null): Map<string, T> {
  const out = new Map<string, T>();
  for (const kv of kvs) {
    const r = read(kv);
    if (r) out.set(r.node, r.value);
  }
  return out;
}
