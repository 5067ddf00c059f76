/**
 * deploy, join and leave with backend=etcd: the host that runs them writes
 * the VPC's desired state into etcd and follows the members' agents until
 * each has applied it (or a time runs out); it calls no member itself.
 *
 * Allocation by etcd transactions: every VXLAN id the map takes anew is
 * created only if nobody holds it (`vni/N`, in chunks of at most 100 per
 * transaction), then the VPC is written only if its key is still at the
 * revision read. Two hosts defining VPCs at the same moment cannot both take
 * an id: the loser gives back what it took, reads again and allocates around
 * what the winner took.
 */
import { UserError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import * as v from '../core/validate.js';
import { allocatePeerMap, hashedVniStart } from '../core/peermap.js';
import type { VpcWithMap } from '../core/types.js';
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';
import { putIf, releaseVnis, takeVnis, unchangedSince } from '../store/etcd/writes.js';
import { collapsedBody, definitionIn, tombstone, type StoredDefinition } from './store-definitions.js';
import { ownBody, statusFromStore, STATUS_PREFIX, VNI_PREFIX, vpcKey, parseKey, type AppliedStatus } from '../store/etcd/layout.js';
import { storeLocks } from '../store/etcd/lease-lock.js';
import { withMemberSeals } from './store-seals.js';
import { lockTimeoutMs } from '../store/lock.js';
import type { ConvergeEvent, ConvergeResult, HostOutcome } from './vpc-cluster.js';

/** Attempts at the allocation transaction before giving up (each loses only to a concurrent writer). */
const ROUNDS = 20;
const POLL_MS = 250;

export interface StoreConvergeInput {
  readonly name: string;
  /** Throws unless this host believes what the store holds (its writer may say it): it is built on. */
  readonly trust: (stored: StoredDefinition) => void;
  /** The VPC as it should be, from what the store holds now (null: nothing yet); throws a refusal. */
  readonly next: (stored: VpcWithMap | null) => VpcWithMap;
  /** Members that are leaving: their agents take the VPC down and forget it. */
  readonly leaving: readonly string[];
  readonly dryrun: boolean;
  /** How long to follow the agents. */
  readonly timeoutMs: number;
  /** Who writes (this host's name) and what, as the VPC's lock in the store says while it is held. */
  readonly by: string;
  readonly what: string;
  /** vpc mode=collapse: written as collapsed (every member takes its network down, keeps the definition). */
  readonly collapsed?: boolean;
}

/** As definitionIn; an unsigned definition (meshvpc 0.5's) says how it is signed again. */
function definitionInOrHint(client: EtcdClient, kv: KeyValue, name: string): StoredDefinition {
  try {
    return definitionIn(client, kv, name);
  } catch (e) {
    if (e instanceof UserError && /: not signed/.test(e.message)) throw new UserError(`${e.message}; once every host runs meshvpc ${VERSION}, meshvpc cluster mode=migrate on a member signs it again`, e.kind);
    throw e;
  }
}

/** Write the VPC (allocating new pairs in the same transaction); returns what was written and its revision. */
export async function writeVpc(client: EtcdClient, input: Pick<StoreConvergeInput, 'name' | 'next' | 'dryrun' | 'trust' | 'collapsed'>, events: (e: ConvergeEvent) => void): Promise<{ vpc: VpcWithMap; revision: number }> {
  const name = input.name;
  for (let round = 1; ; round++) {
    const read = await client.range(vpcKey(name));
    const current = read.kvs[0] ?? null;
    const held = current ? definitionInOrHint(client, current, name) : null;
    if (held) input.trust(held);
    // A tombstone is a VPC no more: a deploy of that name defines a new one. A collapsed one is
    // built on (a deploy writes it back as it was: every member brings it up).
    const stored = held && held.kind !== 'destroyed' ? held.vpc : null;
    const kind = input.collapsed === true ? 'collapsed' : 'vpc';
    const wanted = input.next(stored);
    const sealed = wanted.encrypt === 'wireguard';
    if (sealed && !wanted.firewall) throw new UserError(`invalid encrypt=wireguard for ${name}: it has firewall=0, and an encrypted VPC needs the firewall`);
    const holders = new Map<number, string>();
    for (const kv of (await client.range(VNI_PREFIX, { prefix: true })).kvs) {
      const k = parseKey(kv.key);
      if (k?.kind === 'vni') holders.set(k.vni, kv.value);
    }
    const taken = new Set([...holders].filter(([, by]) => by !== name).map(([vni]) => vni));
    const pairs = allocatePeerMap({
      members: wanted.members.map((m) => m.node),
      network: v.network(wanted.peerNetwork, 'peer_network'),
      existing: wanted.pairs.filter((p) => !taken.has(p.vni)),
      takenVnis: taken,
      // After a lost round, start where a racing writer is unlikely to: derived from the name.
      ...(round > 1 ? { vniStart: hashedVniStart(name) } : {}),
      sealed,
    });
    // Each member's WireGuard key is its own word (seal/NODE), never what the writer holds.
    const vpc: VpcWithMap = await withMemberSeals(client, { ...wanted, pairs });
    if (input.dryrun) return { vpc, revision: current?.modRevision ?? 0 };
    // Nothing new: the agents are followed at the revision they already have (no rewrite, no re-apply everywhere).
    if (current && stored && held?.kind === kind && JSON.stringify(stored) === JSON.stringify(vpc)) return { vpc, revision: current.modRevision };
    const fresh = pairs.filter((p) => holders.get(p.vni) !== name).map((p) => p.vni);
    const freed = [...holders].filter(([vni, by]) => by === name && !pairs.some((p) => p.vni === vni)).map(([vni]) => vni);
    // The new ids first, each taken only if nobody holds it, then the VPC itself, only if it is
    // still what was read. A round that loses either gives back what it took.
    if (await takeVnis(client, name, fresh)) {
      // prev: the revision replaced; for a key that is not there, the store's revision at the read
      // (later than any definition an agent applied: a member defining it again after a deletion
      // is believed, an old creation written back is not).
      const key = vpcKey(name);
      const body = kind === 'collapsed' ? collapsedBody(vpc) : JSON.stringify(vpc);
      const revision = await putIf(client, key, client.seal(key, body, current?.modRevision ?? read.revision), [unchangedSince(key, current?.modRevision ?? 0)]);
      if (revision !== null) {
        // Ids the map no longer uses go, each only while it still says this VPC.
        await releaseVnis(client, name, freed);
        return { vpc, revision };
      }
      await releaseVnis(client, name, fresh);
    }
    if (round >= ROUNDS) throw new UserError(`${name}: the store kept changing under this allocation (${ROUNDS} rounds lost to other writers); try again`, 'busy');
    events({ type: 'reallocating', vpc: name, vnis: fresh, round });
    await new Promise((res) => setTimeout(res, 20 + Math.random() * 80 * round));
  }
}

/** Every member's agent's last word on the VPC (by node), read in one range of the status keys. */
async function statuses(client: EtcdClient, nodes: readonly string[], name: string): Promise<Map<string, AppliedStatus | null>> {
  const out = new Map<string, AppliedStatus | null>(nodes.map((n) => [n, null]));
  for (const kv of (await client.range(STATUS_PREFIX, { prefix: true })).kvs) {
    const k = parseKey(kv.key);
    if (k?.kind !== 'status' || k.vpc !== name || !out.has(k.node)) continue;
    try {
      out.set(k.node, statusFromStore(ownBody(client, kv, k.node), k));
    } catch {
      // Not signed by its node: an agent of meshvpc 0.5 (it signs nothing, and cannot read a
      // signed definition) is named with both versions; anything else says nothing.
      const older = olderStatus(client, kv, k);
      if (older) out.set(k.node, { ...older, ok: false, error: `its agent runs meshvpc ${older.version} (this host ${VERSION}), which neither signs what it writes nor reads signed definitions: upgrade it, then run meshvpc cluster mode=migrate on a member` });
    }
  }
  return out;
}

/** A status written unsigned by an agent of another version (meshvpc 0.5), or null. */
function olderStatus(client: EtcdClient, kv: KeyValue, key: { readonly node: string; readonly vpc: string }): AppliedStatus | null {
  try {
    client.open(kv.key, kv.value);
    return null;
  } catch {
    try {
      const s = statusFromStore(kv.value, key);
      return s.version !== VERSION ? s : null;
    } catch {
      return null;
    }
  }
}

/**
 * Hosts whose agent last wrote an unsigned status naming another version (meshvpc 0.5): such an
 * agent passes over a signed definition of a VPC it does not run yet without a word.
 */
async function olderAgents(client: EtcdClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kv of (await client.range(STATUS_PREFIX, { prefix: true })).kvs) {
    const k = parseKey(kv.key);
    const older = k?.kind === 'status' ? olderStatus(client, kv, k) : null;
    if (older) out.set(older.node, older.version);
  }
  return out;
}

/** Write the desired state, then follow every agent until it applied that revision (or left), or the time runs out. */
export async function convergeInStore(client: EtcdClient, input: StoreConvergeInput, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  const started = Date.now();
  // Under the VPC's lock: no admission (store-admit.ts) decides on a definition being replaced.
  const { vpc, revision } = input.dryrun ? await writeVpc(client, input, events) : await storeLocks(client, input.by, lockTimeoutMs()).withLock(input.name, input.what, () => writeVpc(client, input, events));
  const members = vpc.members.map((m) => m.node);
  // current: the agents apply what the store says; no member is left alone here (core/applied.ts is the SSH-push backend's).
  const base = { vpc: vpc.name, dryrun: input.dryrun, members: members.length, leaving: input.leaving.length, mtu: null, current: [] };
  if (input.dryrun) {
    return { ...base, converged: 0, leftCleanly: 0, changes: 0, seconds: (Date.now() - started) / 1000, timing: { connectMs: 0, checkMs: null, applyMs: 0 }, hosts: [], ok: true };
  }
  const applyStart = Date.now();
  const done = new Map<string, HostOutcome>();
  const deadline = Date.now() + input.timeoutMs;
  const everyone = [...members, ...input.leaving];
  for (const m of everyone) events({ type: 'applying', host: m });
  while (done.size < everyone.length && Date.now() < deadline) {
    const now = await statuses(client, everyone.filter((n) => !done.has(n)), vpc.name).catch(() => new Map<string, AppliedStatus | null>());
    for (const [node, s] of now) {
      const leaving = input.leaving.includes(node);
      const finished = leaving ? s === null || s.revision >= revision : s !== null && s.revision >= revision;
      if (!finished) continue;
      const outcome: HostOutcome = {
        host: node,
        role: leaving ? 'leaving' : 'member',
        dryrun: false,
        ok: leaving ? s === null || s.ok : (s?.ok ?? false),
        changes: s?.changes ?? 0,
        error: s && !s.ok ? s.error : null,
        kind: s && !s.ok ? 'failed' : null,
        seconds: (Date.now() - applyStart) / 1000,
      };
      done.set(node, outcome);
      events({ type: 'host', outcome });
    }
    if (done.size < everyone.length) await new Promise((res) => setTimeout(res, POLL_MS));
  }
  const older = done.size < everyone.length ? await olderAgents(client).catch(() => new Map<string, string>()) : new Map<string, string>();
  for (const node of everyone) {
    if (done.has(node)) continue;
    const version = older.get(node);
    const outcome: HostOutcome = {
      host: node,
      role: input.leaving.includes(node) ? 'leaving' : 'member',
      dryrun: false,
      ok: false,
      changes: null,
      error:
        version !== undefined
          ? `its agent did not report revision ${revision}: it runs meshvpc ${version} (this host ${VERSION}), which cannot read a signed definition: upgrade it; the change is stored and it applies it then`
          : `its agent did not report revision ${revision} within ${Math.round(input.timeoutMs / 1000)}s (is meshvpc agent running there?); the change is stored and it applies it when it runs`,
      kind: 'unreachable',
      seconds: (Date.now() - applyStart) / 1000,
    };
    done.set(node, outcome);
    events({ type: 'host', outcome });
  }
  const hosts = everyone.map((n) => done.get(n) as HostOutcome);
  const converged = hosts.filter((h) => h.role === 'member' && h.ok).length;
  const leftCleanly = hosts.filter((h) => h.role === 'leaving' && h.ok).length;
  return {
    ...base,
    converged,
    leftCleanly,
    changes: hosts.reduce((n, h) => n + (h.changes ?? 0), 0),
    seconds: (Date.now() - started) / 1000,
    timing: { connectMs: 0, checkMs: null, applyMs: Date.now() - applyStart },
    hosts,
    ok: converged === members.length && leftCleanly === input.leaving.length,
  };
}

/**
 * destroy with backend=etcd: the VPC and the VXLAN ids it held leave the
 * store in one transaction; each member's agent takes the network down,
 * forgets the VPC and deletes its status, which this follows.
 */
export async function destroyInStore(client: EtcdClient, name: string, timeoutMs: number, by: string, trust: (stored: StoredDefinition) => void): Promise<{ removed: boolean; members: string[]; gone: string[]; pending: string[] }> {
  const vpc = await storeLocks(client, by, lockTimeoutMs()).withLock(name, 'vpc mode=destroy', () => removeVpc(client, name, trust));
  const members = vpc.members.map((m) => m.node);
  const deadline = Date.now() + timeoutMs;
  let pending = members;
  while (pending.length > 0 && Date.now() < deadline) {
    const now = await statuses(client, pending, name).catch(() => null);
    if (now) pending = pending.filter((n) => now.get(n) !== null);
    if (pending.length > 0) await new Promise((res) => setTimeout(res, POLL_MS));
  }
  return { removed: true, members, gone: members.filter((m) => !pending.includes(m)), pending };
}

/** The VPC's key becomes its tombstone (signed: a member destroyed it), then the VXLAN ids it held go; what was removed. */
async function removeVpc(client: EtcdClient, name: string, trust: (stored: StoredDefinition) => void): Promise<VpcWithMap> {
  const current = await client.get(vpcKey(name));
  const held = current ? definitionIn(client, current, name) : null;
  if (!current || !held || held.kind === 'destroyed') throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
  trust(held);
  const vpc = held.vpc;
  const key = vpcKey(name);
  if ((await putIf(client, key, client.seal(key, tombstone(name), current.modRevision), [unchangedSince(key, current.modRevision)])) === null) throw new UserError(`${name} changed in the store while it was being destroyed; try again`, 'busy');
  // Then its ids: only those the store says are this VPC's (a definition cannot free another's).
  const ids = (await client.range(VNI_PREFIX, { prefix: true })).kvs.flatMap((kv) => {
    const k = parseKey(kv.key);
    return kv.value === name && k?.kind === 'vni' ? [k.vni] : [];
  });
  await releaseVnis(client, name, ids);
  return vpc;
}

/** How long deploy, join, leave and destroy follow the agents (MESHVPC_CONVERGE_TIMEOUT_MS, default 60 s). */
export const convergeTimeoutMs = (): number => Number(process.env.MESHVPC_CONVERGE_TIMEOUT_MS) || 60_000;
