/** A host's own guests in the cluster's store (backend=etcd): written under its own keys only. */
import type { GuestOnHost } from '../core/types.js';
import type { EtcdClient } from '../store/etcd/client.js';
import { guestsOf, parseKey } from '../store/etcd/layout.js';
import type { Host } from './host.js';

/** This host's guests on `vpc`, written under its own keys; what was there and is gone is deleted. */
export async function publishGuests(host: Host, client: EtcdClient, vpc: string, mine: readonly GuestOnHost[]): Promise<void> {
  const self = host.self.nodename;
  const there = await client.range(guestsOf(vpc, self), { prefix: true });
  const keep = new Map(mine.map((g) => [g.name, JSON.stringify(g)]));
  for (const kv of there.kvs) {
    const k = parseKey(kv.key);
    if (k?.kind === 'guest' && !keep.has(k.name)) await client.delete(kv.key);
  }
  // Only what changed: each put wakes every agent of the cluster.
  const had = new Map(there.kvs.map((kv) => [kv.key, kv.value]));
  for (const [name, value] of keep) if (had.get(`${guestsOf(vpc, self)}${name}`) !== value) await client.put(`${guestsOf(vpc, self)}${name}`, value);
}
