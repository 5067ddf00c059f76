/**
 * The ClusterStore port (design.md, store/ports.ts): the cluster's state as
 * the operations change and read it, with one implementation per backend:
 *
 * - embedded (cluster-store-embedded.ts): each host's SQLite holds the
 *   cluster's state, changed by SSH push from the host that runs the
 *   operation (converge, a lease on an arbiter member for admissions);
 * - etcd (cluster-store-etcd.ts): etcd holds it, changed by transactions
 *   (store/etcd/writes.ts) under lease locks, and each host's agent applies
 *   it; an operation writes and follows the agents.
 *
 * The operations (vpc.ts, guest-guard.ts, vpc-list.ts, guest-reports.ts)
 * open the store once and call it: which backend a host has is decided here
 * only. The pure parts (definitions, allocation, admission decisions,
 * trust) are shared by both implementations.
 */
import type { GuestOnHost, VpcWithMap } from '../core/types.js';
import type { Host } from './host.js';
import type { Admission, Admitted } from './guest-guard.js';
import type { ConvergeEvent, ConvergeResult, SyncOutcome, TeardownEvent, TeardownResult } from './vpc-cluster.js';
import type { ClusterInput, Definition, Named, SetInput, SetResult } from './vpc.js';
import { storeClient } from './store-backend.js';

export interface ClusterStore {
  readonly backend: 'embedded' | 'etcd';
  /** vpc mode=deploy: define or repeat a VPC on its members. */
  deploy(input: ClusterInput & Definition & { readonly full?: boolean }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult>;
  /** vpc mode=join|leave. */
  members(mode: 'join' | 'leave', input: ClusterInput & { readonly node: readonly string[] }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult>;
  /** vpc mode=set: quotas, guest network, encryption. */
  setPolicy(input: SetInput, events: (o: SyncOutcome) => void): Promise<SetResult>;
  /** vpc mode=collapse|destroy. */
  teardown(mode: 'collapse' | 'destroy', input: Named & { readonly force?: boolean }, events: (e: TeardownEvent) => void): Promise<TeardownResult>;
  /** A guest onto a VPC with a quota or guest network: counted cluster-wide, decided, then `record`ed here. */
  admit<T>(a: Admission, record: (addr: Admitted) => Promise<T> | T): Promise<T>;
  /** Every guest counted on `vpc` (`here`: this host's own), and the members whose count is a stale report. */
  counted(vpc: VpcWithMap, here: readonly GuestOnHost[]): Promise<{ guests: GuestOnHost[]; stale: string[] }>;
  /** This host's guests on `vpcs` changed: the cluster hears of it; what could not be told is returned. */
  guestsChanged(vpcs: readonly string[]): Promise<string[]>;
  /** Connections it opened (SSH, etcd) closed; never throws. */
  close(): Promise<void>;
}

/** This host's cluster store: etcd when `cluster mode=init backend=etcd` ran here, else embedded. */
export async function openClusterStore(host: Host): Promise<ClusterStore> {
  const client = await storeClient(host);
  if (client) return new (await import('./cluster-store-etcd.js')).EtcdStore(host, client);
  return new (await import('./cluster-store-embedded.js')).EmbeddedStore(host);
}

/** Run `fn` with this host's cluster store, closed however it ends. */
export async function withClusterStore<T>(host: Host, fn: (store: ClusterStore) => Promise<T>): Promise<T> {
  const store = await openClusterStore(host);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
