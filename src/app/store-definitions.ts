/**
 * A VPC's definition in the cluster's store (backend=etcd), as values go in
 * and come out: signed by its writer, a definition or a destroy's tombstone,
 * and the one way an unsigned definition of meshvpc 0.5 is signed again.
 */
import { UserError } from '../core/errors.js';
import type { VpcWithMap } from '../core/types.js';
import { vpcFromWire } from '../cluster/wire.js';
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';
import { vpcKey } from '../store/etcd/layout.js';
import { storeLocks } from '../store/etcd/lease-lock.js';
import { putIf, unchangedSince } from '../store/etcd/writes.js';
import { lockTimeoutMs } from '../store/lock.js';

/**
 * A VPC's key as the store holds it: a definition, or the tombstone a
 * destroy leaves (a deletion cannot be signed, so a VPC is destroyed by a
 * signed value, and a key that merely vanished says nothing). Signed by its
 * writer (store/etcd/signed.ts), whose name comes from its certificate; the
 * body is checked like a definition from a peer. Whether the writer may say
 * it is the reader's to decide (store-trust.ts).
 */
export type StoredDefinition =
  | { readonly kind: 'vpc'; readonly vpc: VpcWithMap; readonly by: string; readonly prev: number }
  /** vpc mode=collapse: the network down on every member, the definition kept (a deploy brings it up). */
  | { readonly kind: 'collapsed'; readonly vpc: VpcWithMap; readonly by: string; readonly prev: number }
  | { readonly kind: 'destroyed'; readonly by: string; readonly prev: number };

export const tombstone = (name: string): string => JSON.stringify({ destroyed: name });
export const collapsedBody = (vpc: VpcWithMap): string => JSON.stringify({ collapsed: vpc });

export function definitionIn(client: EtcdClient, kv: KeyValue, name: string): StoredDefinition {
  const bad = (why: string): never => {
    throw new UserError(`the definition of ${name} in the store is not believed: ${why}`);
  };
  let opened;
  try {
    opened = client.open(kv.key, kv.value);
  } catch (e) {
    return bad(e instanceof Error ? e.message : String(e));
  }
  let x: unknown;
  try {
    x = JSON.parse(opened.body);
  } catch {
    return bad('not JSON');
  }
  if (x !== null && typeof x === 'object' && 'destroyed' in x) {
    if ((x as { destroyed: unknown }).destroyed !== name) bad('a tombstone of another VPC');
    return { kind: 'destroyed', by: opened.by, prev: opened.prev };
  }
  const collapsed = x !== null && typeof x === 'object' && 'collapsed' in x;
  const vpc = vpcFromWire(collapsed ? (x as { collapsed: unknown }).collapsed : x);
  if (vpc.name !== name) bad(`key ${name} holds ${vpc.name}`);
  return { kind: collapsed ? 'collapsed' : 'vpc', vpc, by: opened.by, prev: opened.prev };
}

/** Whether two definitions make the same network (what cluster mode=migrate keeps as it is). */
export const sameNetwork = (a: VpcWithMap, b: VpcWithMap): boolean => {
  const shape = (x: VpcWithMap): string =>
    JSON.stringify([x.peerNetwork, x.family, x.mtu, x.firewall, x.members.map((m) => [m.node, m.underlay]), x.pairs.map((p) => [p.a, p.b, p.vni, p.slot, p.addrA, p.addrB, p.prefix])]);
  return shape(a) === shape(b);
};

/**
 * A definition written by meshvpc 0.5 (before values were signed) that this
 * host holds as it is: written again, signed by this host, under the VPC's
 * lock and only if the key is still what was read. Anything else unsigned is
 * left alone. Returns whether it was signed.
 */
export async function signAgain(client: EtcdClient, local: VpcWithMap, by: string): Promise<boolean> {
  const key = vpcKey(local.name);
  return storeLocks(client, by, lockTimeoutMs()).withLock(local.name, 'cluster mode=migrate', async () => {
    const current = await client.get(key);
    if (!current) return false;
    try {
      client.open(key, current.value);
      return false;
    } catch {
      // Not signed (or not readable as signed): it may be a 0.5 definition.
    }
    let old: VpcWithMap;
    try {
      old = vpcFromWire(JSON.parse(current.value));
    } catch {
      return false;
    }
    if (old.name !== local.name || !sameNetwork(old, local)) return false;
    return (await putIf(client, key, client.seal(key, JSON.stringify(old), current.modRevision), [unchangedSince(key, current.modRevision)])) !== null;
  });
}
