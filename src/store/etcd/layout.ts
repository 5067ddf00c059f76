/**
 * Where a cluster with backend=etcd keeps its desired state: one prefix,
 * versioned, a key per thing one writer owns, so each write is one key and
 * every reader can tell from the key alone what a value claims to be.
 *
 *   /meshvpc/v1/vpc/NAME              a VPC's definition and peer map (JSON, as on the SSH wire)
 *   /meshvpc/v1/vni/N                 which VPC holds VXLAN id N cluster-wide (taken in the same txn)
 *   /meshvpc/v1/guest/VPC/NODE/NAME   a guest of NODE on VPC, written by NODE itself
 *   /meshvpc/v1/status/NODE/VPC       what NODE's agent last applied of VPC, written by that agent
 *   /meshvpc/v1/claim/VPC/NODE/NAME   a guest NODE was admitted to VPC (quota and addresses), written in
 *                                     the admission's transaction, before the guest exists
 *   /meshvpc/v1/bridge/VPC/NODE       NODE's own addresses on VPC's bridge (never a guest's), written by NODE
 *   /meshvpc/v1/lock/VPC              who holds VPC's lock: on a lease, so it goes when its holder dies
 *   /meshvpc/v1/seal/NODE             NODE's WireGuard public key and port (encrypt=wireguard), written by NODE
 *   /meshvpc/v1/node/NODE             NODE's own underlay addresses, platform and meshvpc version, written by NODE
 *
 * Values are checked on the way in as strictly as a peer's request (cluster/wire.ts): etcd is
 * shared by every host of the cluster, and a value is believed only for what its key allows.
 */
import { UserError } from '../../core/errors.js';
import * as v from '../../core/validate.js';
import { VNI_MAX, VNI_MIN } from '../../core/peermap.js';
import type { EtcdClient } from './client.js';

export const ROOT = '/meshvpc/v1/';
export const VPC_PREFIX = `${ROOT}vpc/`;
export const VNI_PREFIX = `${ROOT}vni/`;
export const GUEST_PREFIX = `${ROOT}guest/`;
export const STATUS_PREFIX = `${ROOT}status/`;
export const CLAIM_PREFIX = `${ROOT}claim/`;
export const BRIDGE_PREFIX = `${ROOT}bridge/`;
export const LOCK_PREFIX = `${ROOT}lock/`;
export const SEAL_PREFIX = `${ROOT}seal/`;
export const NODE_PREFIX = `${ROOT}node/`;

export const vpcKey = (name: string): string => `${VPC_PREFIX}${name}`;
export const vniKey = (vni: number): string => `${VNI_PREFIX}${vni}`;
export const guestKey = (vpc: string, node: string, name: string): string => `${GUEST_PREFIX}${vpc}/${node}/${name}`;
export const guestsOf = (vpc: string, node?: string): string => `${GUEST_PREFIX}${vpc}/${node === undefined ? '' : `${node}/`}`;
export const statusKey = (node: string, vpc: string): string => `${STATUS_PREFIX}${node}/${vpc}`;
export const claimKey = (vpc: string, node: string, name: string): string => `${CLAIM_PREFIX}${vpc}/${node}/${name}`;
export const claimsOf = (vpc: string, node?: string): string => `${CLAIM_PREFIX}${vpc}/${node === undefined ? '' : `${node}/`}`;
export const bridgeKey = (vpc: string, node: string): string => `${BRIDGE_PREFIX}${vpc}/${node}`;
export const bridgesOf = (vpc: string): string => `${BRIDGE_PREFIX}${vpc}/`;
export const lockKey = (vpc: string): string => `${LOCK_PREFIX}${vpc}`;
export const sealKey = (node: string): string => `${SEAL_PREFIX}${node}`;
export const nodeKey = (node: string): string => `${NODE_PREFIX}${node}`;

export type StoreKey =
  | { readonly kind: 'vpc'; readonly vpc: string }
  | { readonly kind: 'vni'; readonly vni: number }
  | { readonly kind: 'guest'; readonly vpc: string; readonly node: string; readonly name: string }
  | { readonly kind: 'status'; readonly node: string; readonly vpc: string }
  | { readonly kind: 'claim'; readonly vpc: string; readonly node: string; readonly name: string }
  | { readonly kind: 'bridge'; readonly vpc: string; readonly node: string }
  | { readonly kind: 'lock'; readonly vpc: string }
  | { readonly kind: 'seal'; readonly node: string }
  | { readonly kind: 'node'; readonly node: string };

/** What a key stands for, every part checked; null for anything that is not meshvpc's layout. */
export function parseKey(key: string): StoreKey | null {
  if (!key.startsWith(ROOT)) return null;
  const parts = key.slice(ROOT.length).split('/');
  try {
    switch (parts[0]) {
      case 'vpc':
        return parts.length === 2 ? { kind: 'vpc', vpc: v.vpcName(parts[1] ?? '', 'vpc') } : null;
      case 'vni': {
        const n = Number(parts[1]);
        return parts.length === 2 && /^\d{1,8}$/.test(parts[1] ?? '') && n >= VNI_MIN && n <= VNI_MAX ? { kind: 'vni', vni: n } : null;
      }
      case 'guest':
        return parts.length === 4 ? { kind: 'guest', vpc: v.vpcName(parts[1] ?? '', 'vpc'), node: v.nodeName(parts[2] ?? '', 'node'), name: v.jailName(parts[3] ?? '', 'jname') } : null;
      case 'status':
        return parts.length === 3 ? { kind: 'status', node: v.nodeName(parts[1] ?? '', 'node'), vpc: v.vpcName(parts[2] ?? '', 'vpc') } : null;
      case 'claim':
        return parts.length === 4 ? { kind: 'claim', vpc: v.vpcName(parts[1] ?? '', 'vpc'), node: v.nodeName(parts[2] ?? '', 'node'), name: v.jailName(parts[3] ?? '', 'jname') } : null;
      case 'bridge':
        return parts.length === 3 ? { kind: 'bridge', vpc: v.vpcName(parts[1] ?? '', 'vpc'), node: v.nodeName(parts[2] ?? '', 'node') } : null;
      case 'lock':
        return parts.length === 2 ? { kind: 'lock', vpc: v.vpcName(parts[1] ?? '', 'vpc') } : null;
      case 'seal':
        return parts.length === 2 ? { kind: 'seal', node: v.nodeName(parts[1] ?? '', 'node') } : null;
      case 'node':
        return parts.length === 2 ? { kind: 'node', node: v.nodeName(parts[1] ?? '', 'node') } : null;
      default:
        return null;
    }
  } catch (e) {
    if (e instanceof UserError) return null;
    throw e;
  }
}

/**
 * The body of a value a host writes under its own keys (guest, claim, status,
 * bridge, seal, node): believed only when that host signed it. A host speaks for itself.
 */
export function ownBody(client: EtcdClient, kv: { readonly key: string; readonly value: string }, node: string): string {
  const o = client.open(kv.key, kv.value);
  if (o.by !== node) throw new UserError(`${kv.key} is ${node}'s, but ${o.by} wrote it`);
  return o.body;
}

/** What an agent reports after applying a VPC (or failing to). */
export interface AppliedStatus {
  readonly node: string;
  readonly vpc: string;
  /** The store revision of the definition it applied. */
  readonly revision: number;
  readonly ok: boolean;
  readonly changes: number;
  readonly error: string | null;
  /** The agent's meshvpc version: two versions in one cluster are named in a refusal. */
  readonly version: string;
}

/** A status value read back, checked: it must be about the key's node and VPC. */
export function statusFromStore(raw: string, key: { readonly node: string; readonly vpc: string }): AppliedStatus {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new UserError(`bad status of ${key.node} for ${key.vpc} in the store: not JSON`);
  }
  if (o === null || typeof o !== 'object' || o.node !== key.node || o.vpc !== key.vpc) throw new UserError(`bad status of ${key.node} for ${key.vpc} in the store: it is about something else`);
  const int = (x: unknown, what: string): number => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new UserError(`bad status of ${key.node} for ${key.vpc} in the store: ${what}`);
    return x;
  };
  const text = (x: unknown): string | null => (typeof x === 'string' ? x.replace(/[^\x20-\x7e]/g, '?').slice(0, 300) : null);
  return {
    node: key.node,
    vpc: key.vpc,
    revision: int(o.revision, 'revision'),
    ok: o.ok === true,
    changes: int(o.changes, 'changes'),
    error: text(o.error),
    version: text(o.version) ?? 'unknown',
  };
}
