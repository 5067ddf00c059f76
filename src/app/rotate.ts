/**
 * `vpc mode=rotate_keys`: a new WireGuard key for this host, taken into use
 * with no lost packets on running flows. The order is what makes it lossless:
 *
 * 1. This host writes the new private key and gives it to its link at once.
 *    Its open sessions stay valid for receiving; new sessions are made with
 *    the new key, so what it sends waits in WireGuard's per-peer queue (a
 *    handshake in progress), nothing is dropped.
 * 2. Every encrypted VPC it is in is deployed again from here: each peer hears
 *    the new key from this host itself and swaps the old peer for the new one
 *    in one `wg set` (old removed, new added with the same addresses). Its
 *    next packet to this host starts a handshake that succeeds, and both
 *    queues flush.
 *
 * Packets in between are delayed by at most the time the peers take to
 * apply, not lost. (Swapping on the peers first would drop this host's
 * packets still sent with the old key: a peer accepts them only from the
 * peer entry that holds their source address.)
 */
import { UserError } from '../core/errors.js';
import { wgKey } from '../core/seal.js';
import { newWgKeyPair, wgKeyFile, writeWgKey } from '../cluster/wg-keys.js';
import { readFileSync } from 'node:fs';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { withLock } from '../store/lock.js';
import { activeVpcs, reconcileSeal, selfSeal } from './seal.js';
import { converge, DEFAULT_CONCURRENCY, type ConvergeEvent, type ConvergeResult } from './vpc-cluster.js';
import type { VpcWithMap } from '../core/types.js';
import type { EtcdClient } from '../store/etcd/client.js';
import { sealKey } from '../store/etcd/layout.js';
import { storeClient } from './store-backend.js';
import { followSeal, publishSeal, type SealTaken } from './store-seals.js';

export interface RotateResult {
  readonly node: string;
  readonly dryrun: boolean;
  readonly before: string;
  /** The new public key (null for a dry run). */
  readonly after: string | null;
  /** Each encrypted VPC's convergence with the new key (SSH push). */
  readonly vpcs: readonly ConvergeResult[];
  /** backend=etcd: the new key went into the store, and each member's agent applied its VPCs again. */
  readonly agents: readonly SealTaken[] | null;
  readonly ok: boolean;
}

export async function rotateKeys(host: Host, input: { readonly dryrun?: boolean }, events: (e: ConvergeEvent) => void): Promise<RotateResult> {
  const self = host.self.nodename;
  const encrypted = repo.listVpcs(host.db).filter((v) => v.encrypt === 'wireguard' && v.members.some((m) => m.node === self));
  const before = selfSeal(host).key;
  const store = await storeClient(host);
  if (store) {
    try {
      return await rotateInStore(host, store, encrypted, before, input.dryrun ?? false);
    } finally {
      store.close();
    }
  }
  // Every peer must be reachable from here to hear the new key from this host: checked before the key changes.
  for (const v of encrypted) {
    const unknown = v.members.filter((m) => m.node !== self && !repo.getNode(host.db, m.node)).map((m) => m.node);
    if (unknown.length > 0) {
      throw new UserError(
        `cannot rotate ${self}'s WireGuard key: ${unknown.join(', ')} (${v.name}) ${unknown.length === 1 ? 'is' : 'are'} not a known node here, so ${self} cannot give ${unknown.length === 1 ? 'it' : 'them'} the new key; add ${unknown.length === 1 ? 'it' : 'them'} with meshvpc node mode=add first (nothing was changed)`,
        'conflict',
      );
    }
  }
  if (input.dryrun) return { node: self, dryrun: true, before, after: null, vpcs: [], agents: null, ok: true };
  return withLock(host.db, 'wireguard:rotate', 'vpc mode=rotate_keys', async () => {
    const { publicKey } = await newKeyHere(host);
    const vpcs: ConvergeResult[] = [];
    for (const v of encrypted) {
      vpcs.push(
        await withLock(host.db, `op:${v.name}`, 'vpc mode=rotate_keys', () =>
          converge(host, repo.getVpc(host.db, v.name) ?? v, { dryrun: false, limit: DEFAULT_CONCURRENCY, leaving: [] }, events),
        ),
      );
    }
    return { node: self, dryrun: false, before, after: publicKey, vpcs, agents: null, ok: vpcs.every((c) => c.ok) };
  });
}

/** Take a new key here: written, given to this host's link (see the order above), or put back as it was. */
async function newKeyHere(host: Host): Promise<{ old: string; publicKey: string }> {
  const old = readFileSync(wgKeyFile(host.home), 'utf8').trim();
  const pair = newWgKeyPair();
  writeWgKey(host.home, pair.privateKey);
  try {
    await reconcileSeal(host, activeVpcs(host), false);
  } catch (e) {
    // The file goes back to the old key; if the link took the new one before a later step failed,
    // the next apply gives it the file's key again (its public key no longer matches).
    writeWgKey(host.home, wgKey(old, 'private key'));
    throw e;
  }
  return { old, publicKey: pair.publicKey };
}

/**
 * With backend=etcd the peers hear the new key from the store: this host
 * writes it under its own seal key (signed), and every member's agent applies
 * the encrypted VPCs it shares with this host again, which this follows. A
 * store that does not take it puts the old key back here.
 */
async function rotateInStore(host: Host, store: EtcdClient, encrypted: readonly VpcWithMap[], before: string, dryrun: boolean): Promise<RotateResult> {
  const self = host.self.nodename;
  // The store must answer before the key changes: the peers hear it only from there.
  await store.get(sealKey(self));
  if (dryrun) return { node: self, dryrun: true, before, after: null, vpcs: [], agents: null, ok: true };
  return withLock(host.db, 'wireguard:rotate', 'vpc mode=rotate_keys', async () => {
    const { old, publicKey } = await newKeyHere(host);
    let revision: number;
    try {
      await publishSeal(host, store);
      revision = (await store.get(sealKey(self)))?.modRevision ?? 0;
    } catch (e) {
      writeWgKey(host.home, wgKey(old, 'private key'));
      await reconcileSeal(host, activeVpcs(host), false).catch(() => undefined);
      // The put may have landed before the failure: the store says the old key again (best effort;
      // this host's agent does it too as soon as it sees its key changed).
      await publishSeal(host, store).catch(() => undefined);
      throw new UserError(`the new WireGuard key of ${self} could not be written to the cluster's store (${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)}); the old key is back in use`, 'unreachable');
    }
    const { convergeTimeoutMs } = await import('./store-converge.js');
    // Only the VPCs whose tunnels are up here: a collapsed one is applied again by nobody.
    const up = new Set(activeVpcs(host).map((v) => v.name));
    const agents = await followSeal(store, encrypted.filter((v) => up.has(v.name)), self, revision, convergeTimeoutMs());
    return { node: self, dryrun: false, before, after: publicKey, vpcs: [], agents, ok: agents.every((a) => a.ok) };
  });
}

/** Refuse what rotation cannot do before anything changes. */
export function checkRotate(host: Host, node: string | undefined): void {
  if (node !== undefined && node !== host.self.nodename && node !== host.self.ip4 && node !== host.self.ip6) {
    throw new UserError(`invalid node ${node}: a host rotates only its own key; run meshvpc vpc mode=rotate_keys on ${node} itself`);
  }
}
