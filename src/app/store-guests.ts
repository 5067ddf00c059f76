/**
 * A host's own guests in the cluster's store (backend=etcd), written under
 * its own keys only: the guests it runs (for the other members' FDB and
 * counts), its bridge addresses on the VPC (never handed to a guest), and the
 * claims its admissions wrote (store-admit.ts), of which it removes those
 * whose guest is gone or was never made.
 */
import type { GuestOnHost } from '../core/types.js';
import { guestsFromWire } from '../cluster/wire.js';
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';
import { bridgeKey, claimsOf, guestKey, guestsOf, ownBody, parseKey } from '../store/etcd/layout.js';
import { heldElsewhere } from '../store/lock.js';
import { deleteIfUnchanged } from '../store/etcd/writes.js';
import * as repo from '../store/repo.js';
import { guestOnVpcs } from '../core/guests.js';
import { uniqueGuests } from '../core/admission.js';
import type { Host } from './host.js';

/** Guests being admitted by this process (VPC/NAME): their claim stands before the guest is recorded. */
const inFlight = new Set<string>();

/** Mark an admission under way in this process; returns the unmark. */
export function admitting(vpc: string, name: string): () => void {
  const k = `${vpc}/${name}`;
  inFlight.add(k);
  return () => void inFlight.delete(k);
}

/** The guests (or claims) of `vpc` in a range of the store, each signed by the node its key names and checked against its key; any other is nobody's. */
export function guestsIn(client: EtcdClient, kvs: readonly KeyValue[], kind: 'guest' | 'claim', vpc: string): GuestOnHost[] {
  return kvs.flatMap((kv) => {
    const k = parseKey(kv.key);
    if (k?.kind !== kind || k.vpc !== vpc) return [];
    try {
      const [g] = guestsFromWire({ guests: [JSON.parse(ownBody(client, kv, k.node)) as unknown] }, k.node, vpc).guests;
      return g && g.name === k.name ? [g] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Every guest the store counts on `vpc`: claims first (a guest admitted and
 * not yet written by its host counts by its claim), then what each member
 * wrote of its guests (a guest from before any claim: a VPC given a quota
 * later, or moved in from SSH push). `here` (this host's own, from its
 * database) comes between: it is more recent than what this host wrote.
 */
export async function countedInStore(client: EtcdClient, vpc: string, here: readonly GuestOnHost[] = []): Promise<GuestOnHost[]> {
  const [claims, reports] = await Promise.all([client.range(claimsOf(vpc), { prefix: true }), client.range(guestsOf(vpc), { prefix: true })]);
  return uniqueGuests([guestsIn(client, claims.kvs, 'claim', vpc), here, guestsIn(client, reports.kvs, 'guest', vpc)]);
}

/** This host's guests on `vpc`, written under its own keys; what was there and is gone is deleted. */
export async function publishGuests(host: Host, client: EtcdClient, vpc: string, mine: readonly GuestOnHost[]): Promise<void> {
  const self = host.self.nodename;
  const [there, claims, bridge] = await Promise.all([client.range(guestsOf(vpc, self), { prefix: true }), client.range(claimsOf(vpc, self), { prefix: true }), client.get(bridgeKey(vpc, self))]);
  const keep = new Map(mine.map((g) => [g.name, JSON.stringify(g)]));
  // What this host wrote before, as it said it (a value it did not sign is rewritten).
  const body = (kv: KeyValue): string | null => {
    try {
      return ownBody(client, kv, self);
    } catch {
      return null;
    }
  };
  for (const kv of there.kvs) {
    const k = parseKey(kv.key);
    if (k?.kind === 'guest' && !keep.has(k.name)) await client.delete(kv.key);
  }
  // Only what changed: each put wakes every agent of the cluster.
  const had = new Map(there.kvs.map((kv) => [kv.key, body(kv)]));
  for (const [name, value] of keep) {
    const key = guestKey(vpc, self, name);
    if (had.get(key) !== value) await client.put(key, client.seal(key, value));
  }

  const bridgeIps = JSON.stringify(repo.getLocal(host.db, vpc).bridgeIps);
  if (bridgeIps === '[]') {
    if (bridge) await client.delete(bridgeKey(vpc, self));
  } else if (!bridge || body(bridge) !== bridgeIps) await client.put(bridgeKey(vpc, self), client.seal(bridgeKey(vpc, self), bridgeIps));

  // A claim stays while its guest is recorded here, or is being made (by this process, or by
  // another one on this host that holds the guest's lock); any other claim of this host is spent.
  const recorded = new Set(repo.listGuests(host.db).flatMap((g) => guestOnVpcs(self, g, false)).filter((g) => g.interface === vpc).map((g) => g.name));
  for (const kv of claims.kvs) {
    const k = parseKey(kv.key);
    if (k?.kind !== 'claim' || recorded.has(k.name) || inFlight.has(`${vpc}/${k.name}`) || heldElsewhere(host.db, `jail:${k.name}`)) continue;
    await deleteIfUnchanged(client, kv.key, kv.modRevision);
  }
}

/** This host's keys for a VPC it no longer runs (it left, or the VPC was destroyed): its guests, claims and bridge. */
export async function unpublish(host: Host, client: EtcdClient, vpc: string): Promise<void> {
  const self = host.self.nodename;
  await client.delete(guestsOf(vpc, self), { prefix: true });
  await client.delete(claimsOf(vpc, self), { prefix: true });
  await client.delete(bridgeKey(vpc, self));
}
