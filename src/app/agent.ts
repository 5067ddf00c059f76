/**
 * meshvpc agent (backend=etcd): this host's half of the control plane. It
 * reads the cluster's desired state from etcd, brings this host's VPCs in
 * line with it through the same planner and apply as every other path
 * (vpc-local.ts), takes the other members' guests for the control-plane FDB,
 * and writes what it applied under its own status key, which deploy, join
 * and leave follow.
 *
 * It never tears a working data plane down because it lost the store: an
 * unreachable etcd changes nothing here (tunnels, bridges and entries stay as
 * they are, traffic keeps flowing); the agent says `control plane
 * unreachable` and, once the store answers again, resumes its watch from the
 * revision after the last event it handled (or reads everything again when
 * that revision was compacted away). A restarted agent reads everything once
 * (a plan with nothing to do for what it already applied) and watches from
 * there: what changed while it was down is in what it reads.
 */
import { UserError } from '../core/errors.js';
import type { GuestOnHost, VpcWithMap } from '../core/types.js';
import { VERSION } from '../core/version.js';
import type { EtcdClient, KeyValue, WatchEvent } from '../store/etcd/client.js';
import { guestsOf, ownBody, parseKey, ROOT, STATUS_PREFIX, statusFromStore, statusKey, vpcKey, type AppliedStatus } from '../store/etcd/layout.js';
import * as repo from '../store/repo.js';
import { atomically } from '../store/tx.js';
import { definitionIn, sameNetwork, type StoredDefinition } from './store-definitions.js';
import { trustDefinition } from './store-trust.js';
import { accept, collapse, forget, preflight, reconcileAccepted, refreshFdb } from './vpc-local.js';
import { checkUnderlays } from '../core/authority.js';
import type { Host } from './host.js';
import { fdbReport } from './guest-reports.js';
import { guestsIn, publishGuests, unpublish } from './store-guests.js';
import { publishSeal, sealIn, sealsIn, withStoreSeals } from './store-seals.js';
import { checkUnderlaysSaid, nodeIn, nodesIn, publishNode, type NodeSaid } from './store-nodes.js';
import type { SealIdentity } from '../core/seal.js';

export type AgentEvent =
  | { readonly type: 'connected'; readonly revision: number }
  /** The store cannot be read: nothing here changes until it can. */
  | { readonly type: 'unreachable'; readonly why: string }
  /** Said before the kernel is touched: an agent killed after it left its change half made, which the next run completes. */
  | { readonly type: 'applying'; readonly vpc: string; readonly revision: number }
  | { readonly type: 'applied'; readonly vpc: string; readonly revision: number; readonly ok: boolean; readonly changes: number; readonly error: string | null }
  | { readonly type: 'guests'; readonly vpc: string; readonly members: number }
  | { readonly type: 'forgot'; readonly vpc: string }
  /** This host's own guest or bridge keys were changed by another writer and written again. */
  | { readonly type: 'republished'; readonly vpc: string }
  /** This host's WireGuard public key written to the store (at start, after a rotation, or over another writer's value). */
  | { readonly type: 'seal_published'; readonly key: string };

const firstLine = (e: unknown): string => (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e));
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((res) => {
    const t = setTimeout(res, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      res();
    }, { once: true });
  });

/**
 * The other members' guests on a VPC as the store holds them, each value
 * checked against its key; only of members whose agent has reported the VPC
 * (it writes its guests before its status): a member not heard of yet keeps
 * what this host knew of it (a cluster migrated from SSH push keeps its
 * reports until each agent has written its own).
 */
export function guestsFromStore(client: EtcdClient, vpc: VpcWithMap, kvs: readonly KeyValue[], self: string, reported: ReadonlySet<string>): Map<string, GuestOnHost[]> {
  const byNode = new Map<string, GuestOnHost[]>();
  for (const m of vpc.members) if (m.node !== self && reported.has(m.node)) byNode.set(m.node, []);
  for (const g of guestsIn(client, kvs, 'guest', vpc.name)) byNode.get(g.node)?.push(g);
  return byNode;
}

export class Agent {
  /** The definition revision this agent last applied, per VPC. */
  private readonly applied = new Map<string, number>();
  /** The members' WireGuard identities it was applied with, per encrypted VPC (a change is applied again). */
  private readonly appliedSeals = new Map<string, string>();
  /** Every host's WireGuard identity, as that host itself wrote it in the store. */
  private seals = new Map<string, SealIdentity>();
  /** Every host's addresses, platform and version, as that host itself wrote them. */
  private nodes = new Map<string, NodeSaid>();
  /** The store revision of each host's own value believed (seal/, node/, by key): a value replacing an older one is an old one written back. */
  private readonly believedAt = new Map<string, number>();
  /** The revision of the last definition believed per VPC: a value replacing an older one is a replay. */
  private readonly floor = new Map<string, number>();
  /** VPCs this agent runs whose key vanished (said once). */
  private readonly vanished = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  /** VPCs a batch could not settle: settled again with the next one. */
  private readonly retry = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: Host,
    private readonly client: EtcdClient,
    private readonly events: (e: AgentEvent) => void,
  ) {}

  private get self(): string {
    return this.host.self.nodename;
  }

  /** Run until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let snapshot;
      try {
        snapshot = await this.client.range(ROOT, { prefix: true });
      } catch (e) {
        this.events({ type: 'unreachable', why: firstLine(e) });
        await sleep(1000, signal);
        continue;
      }
      this.events({ type: 'connected', revision: snapshot.revision });
      this.seals = sealsIn(this.client, snapshot.kvs);
      this.nodes = nodesIn(this.client, snapshot.kvs);
      for (const kv of snapshot.kvs) {
        const k = parseKey(kv.key);
        if ((k?.kind === 'seal' && this.seals.has(k.node)) || (k?.kind === 'node' && this.nodes.has(k.node))) this.believedAt.set(kv.key, Math.max(kv.modRevision, this.believedAt.get(kv.key) ?? 0));
      }
      await this.sayOwnWords();
      const names = new Set([...repo.agentVpcs(this.host.db)]);
      for (const kv of snapshot.kvs) {
        const k = parseKey(kv.key);
        if (k?.kind === 'vpc' || k?.kind === 'guest') names.add(k.vpc);
      }
      const byVpc = groupByVpc(this.client, snapshot.kvs);
      this.seedFloors(snapshot.kvs);
      for (const name of [...names].sort()) {
        const mine = byVpc.get(name) ?? { vpc: null, guests: [], reported: new Set<string>() };
        await this.settleSafely(name, () => this.settle(name, mine.vpc, mine.guests, mine.reported));
      }
      const fatal = await this.follow(snapshot.revision + 1, signal);
      await this.queue;
      if (!fatal) return;
    }
  }

  /** Watch from `from` on; resolves null when stopped, or the error when the watch cannot go on (compaction). */
  private follow(from: number, signal: AbortSignal): Promise<UserError | null> {
    return new Promise((resolve) => {
      const watch = this.client.watch(ROOT, {
        prefix: true,
        fromRevision: from,
        onEvents: (events) => {
          this.queue = this.queue.then(() => this.handle(events)).catch((e: unknown) => this.events({ type: 'unreachable', why: firstLine(e) }));
        },
        onState: (state, why) => this.events(state === 'connected' ? { type: 'connected', revision: watch.nextRevision() - 1 } : { type: 'unreachable', why: why ?? 'the store does not answer' }),
        onFatal: (e) => {
          watch.close();
          resolve(e);
        },
      });
      signal.addEventListener('abort', () => {
        watch.close();
        resolve(null);
      }, { once: true });
    });
  }

  /**
   * A batch of changes: each VPC it touches is settled against the store as
   * it is now. Only what concerns this host: its own guest keys and status
   * are its own writes, and other members' statuses matter only for a VPC
   * it runs with fdb=control. A VPC that could not be settled (the store went away mid-way,
   * an apply threw) is kept and settled again with the next batch.
   */
  private async handle(events: readonly WatchEvent[]): Promise<void> {
    const names = new Set<string>(this.retry);
    this.retry.clear();
    // Other members' guests and statuses matter only to a VPC this agent runs with fdb=control.
    const takes = new Set(repo.agentVpcs(this.host.db).filter((n) => repo.getVpc(this.host.db, n)?.fdb === 'control'));
    // This host's own guest and bridge keys changed by someone else (deleted, or a value it did
    // not sign): written again from what this host has, so nobody can speak for it for long.
    const mine = new Set<string>();
    let ownWords = false;
    for (const e of events) {
      const k = parseKey(e.key);
      if (k?.kind === 'seal' || k?.kind === 'node') {
        // Its own key: whatever was written there (another's value, its own older one), it says
        // its current word again if that is not what the store holds.
        if (k.node === this.self) ownWords = true;
        else if (k.kind === 'seal') for (const vpc of this.sealChanged(k.node, e)) names.add(vpc);
        else this.nodeChanged(k.node, e);
      }
      if (k?.kind === 'vpc') names.add(k.vpc);
      else if ((k?.kind === 'guest' || k?.kind === 'status') && k.node !== this.self && takes.has(k.vpc)) names.add(k.vpc);
      if ((k?.kind === 'guest' || k?.kind === 'bridge') && k.node === this.self && !(e.type === 'put' && this.signedByMe(e))) mine.add(k.vpc);
    }
    if (ownWords) await this.sayOwnWords();
    // Every member's status, read once for the batch (not once per VPC settled).
    let statuses: Promise<readonly KeyValue[]> | null = null;
    for (const name of [...names].sort()) {
      await this.settleSafely(name, async () => {
        statuses ??= this.client.range(STATUS_PREFIX, { prefix: true }).then((r) => r.kvs);
        const [kv, guests, all] = await Promise.all([this.client.get(vpcKey(name)), this.client.range(guestsOf(name), { prefix: true }), statuses]);
        await this.settle(name, kv, guests.kvs, reportersOf(this.client, all, name));
      });
    }
    for (const name of [...mine].sort()) {
      if (!repo.agentVpcs(this.host.db).includes(name)) continue;
      await this.settleSafely(name, async () => {
        await publishGuests(this.host, this.client, name, await fdbReport(this.host, name));
        this.events({ type: 'republished', vpc: name });
      });
    }
  }

  /** This host's addresses and WireGuard identity in the store, each written again when it is not exactly its own word. */
  private async sayOwnWords(): Promise<void> {
    try {
      await publishNode(this.host, this.client);
      const key = await publishSeal(this.host, this.client);
      if (key) this.events({ type: 'seal_published', key });
    } catch (e) {
      this.events({ type: 'unreachable', why: `this host's own values could not be written to the store: ${firstLine(e)}` });
    }
  }

  /** Whether a host's own value at `e` is newer than the one believed (else said once, and ignored). */
  private fresh(what: string, prev: number, e: WatchEvent): boolean {
    const floor = this.believedAt.get(e.key) ?? 0;
    if (prev < floor) {
      this.events({ type: 'unreachable', why: `${what} in the store is not believed: its value replaces revision ${prev}, older than revision ${floor} believed here (an old one written back)` });
      return false;
    }
    this.believedAt.set(e.key, e.modRevision);
    return true;
  }

  /** Another host's addresses changed in the store (its own word only). */
  private nodeChanged(node: string, e: WatchEvent): void {
    const said = e.type === 'put' ? nodeIn(this.client, e) : null;
    if (said && this.fresh(`${node}'s addresses`, said.prev, e)) this.nodes.set(node, said.said);
  }

  /**
   * Another host's identity changed in the store: the encrypted VPCs this
   * agent runs with it as a member. Only that host's own signed word changes
   * it; a value it did not sign, or a deletion, says nothing (the host writes
   * its own again), so nobody takes a member's tunnel away by writing there.
   */
  private sealChanged(node: string, e: WatchEvent): string[] {
    const said = e.type === 'put' ? sealIn(this.client, e) : null;
    if (!said || !this.fresh(`${node}'s WireGuard key`, said.prev, e)) return [];
    this.seals.set(node, said.seal);
    return repo.agentVpcs(this.host.db).filter((n) => {
      const vpc = repo.getVpc(this.host.db, n);
      return vpc?.encrypt === 'wireguard' && vpc.members.some((m) => m.node === node);
    });
  }

  /** The other members' identities `vpc` would be applied with now. */
  private sealsFor(vpc: VpcWithMap): string {
    if (vpc.encrypt !== 'wireguard') return '';
    return JSON.stringify(vpc.members.filter((m) => m.node !== this.self).map((m) => [m.node, this.seals.get(m.node) ?? null]));
  }

  private signedByMe(e: WatchEvent): boolean {
    try {
      return this.client.open(e.key, e.value).by === this.self;
    } catch {
      return false;
    }
  }

  /** Settle one VPC; a failure is told and the VPC kept for the next batch (or a retry shortly). */
  private async settleSafely(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.retry.add(name);
      this.events({ type: 'unreachable', why: `${name}: ${firstLine(e)} (tried again shortly)` });
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.queue = this.queue.then(() => this.handle([])).catch(() => undefined);
        }, RETRY_MS);
        this.retryTimer.unref();
      }
    }
  }

  /** Bring one VPC here in line with the store's `kv` (null: not there) and its guests. */
  private async settle(name: string, kv: KeyValue | null, guestKvs: readonly KeyValue[], reported: ReadonlySet<string>): Promise<void> {
    const host = this.host;
    let held: StoredDefinition | null = null;
    let invalid: string | null = null;
    if (kv) {
      try {
        held = definitionIn(this.client, kv, name);
      } catch (e) {
        invalid = firstLine(e);
      }
    }
    const vpc = held && held.kind !== 'destroyed' ? held.vpc : null;
    const member = vpc?.members.some((m) => m.node === this.self) ?? false;
    const runs = repo.agentVpcs(host.db).includes(name);
    if (kv && held && (member || runs || repo.getVpc(host.db, name))) {
      // Believed only for what its writer may say, and never an older one written back.
      try {
        trustDefinition(host, name, held);
        const floor = this.floor.get(name) ?? 0;
        // A new value (not the one believed last) must replace the one believed or a later one.
        if (kv.modRevision !== floor && held.prev < floor) throw new UserError(`the definition of ${name} in the store is not believed: ${held.by}'s value replaces revision ${held.prev}, older than revision ${floor} this host applied (an old value written back)`, 'conflict');
      } catch (e) {
        invalid = firstLine(e);
      }
    }
    if (kv && invalid) {
      // Said once per revision, and only by a host that runs the VPC (it cannot tell whether it
      // is a member of a value it cannot believe); its network for the VPC stays as it is.
      if (runs && this.applied.get(name) !== kv.modRevision) {
        await this.report({ node: this.self, vpc: name, revision: kv.modRevision, ok: false, changes: 0, error: invalid, version: VERSION });
        this.applied.set(name, kv.modRevision);
      }
      return;
    }
    if (kv) {
      this.floor.set(name, kv.modRevision);
      this.vanished.delete(name);
    }
    if (kv && vpc && member && held?.kind === 'collapsed') {
      if (this.applied.get(name) !== kv.modRevision) await this.collapseHere(vpc, kv.modRevision);
      return;
    }
    if (kv && vpc && member) {
      if (this.applied.get(name) !== kv.modRevision || this.appliedSeals.get(name) !== this.sealsFor(vpc)) await this.apply(vpc, kv.modRevision);
      if (repo.agentVpcs(host.db).includes(name)) await this.takeGuests(vpc, guestKvs, reported);
      return;
    }
    if (!kv) {
      // A key that vanished says nothing (a deletion cannot be signed; a member destroys a VPC
      // with a signed tombstone): the network stays, and the agent says so once.
      if (runs && !this.vanished.has(name)) {
        this.vanished.add(name);
        this.events({ type: 'unreachable', why: `${name}: its definition left the store without a member's word (deleted by hand?); its network here is left as it is (meshvpc vpc mode=remove vpc_name=${name} takes it down)` });
      }
      return;
    }
    // Destroyed by a member, or this host is no longer a member: only a VPC the agent brought here goes.
    if (runs) {
      if (repo.getVpc(host.db, name)) await forget(host, name);
      atomically(host.db, () => repo.dropAgentVpc(host.db, name));
      this.applied.delete(name);
      await unpublish(host, this.client, name);
      await this.client.delete(statusKey(this.self, name));
      this.events({ type: 'forgot', vpc: name });
    }
  }

  /**
   * The revision this host last applied of each VPC, from its own signed
   * status keys: after a restart, an older definition written back is still
   * refused.
   */
  private seedFloors(kvs: readonly KeyValue[]): void {
    for (const kv of kvs) {
      const k = parseKey(kv.key);
      if (k?.kind !== 'status' || k.node !== this.self) continue;
      try {
        const s = statusFromStore(ownBody(this.client, kv, this.self), k);
        if (s.revision > (this.floor.get(k.vpc) ?? 0)) this.floor.set(k.vpc, s.revision);
      } catch {
        // Not this host's own word: no floor from it.
      }
    }
  }

  private async apply(stored: VpcWithMap, revision: number): Promise<void> {
    const host = this.host;
    const change = { vxlan: true, bridge: true };
    let status: AppliedStatus;
    const seals = this.sealsFor(stored);
    this.events({ type: 'applying', vpc: stored.name, revision });
    try {
      // Each member's WireGuard key from its own word, never from the definition's writer.
      const vpc = withStoreSeals(host, stored, this.seals);
      // What this host believes of any definition, whoever wrote it: members at the addresses it
      // knows them by (a value pointing a member's tunnel elsewhere is refused), and preflight: no
      // foreign interface under one of its names, no overlap with this host's subnets, no VXLAN id
      // another VPC here holds.
      checkUnderlays(vpc, host.self, repo.listNodes(host.db));
      // A member this host has no record of: its endpoint must be an address it gave itself.
      checkUnderlaysSaid(vpc, this.self, this.nodes, host);
      await preflight(host, vpc, change);
      const runs = repo.agentVpcs(host.db).includes(vpc.name);
      const here = repo.getVpc(host.db, vpc.name);
      // A VPC of the same name that this agent did not bring is adopted only as it is (cluster
      // mode=migrate wrote it from this very definition); any other is not the store's to change.
      if (!runs && here && !sameNetwork(here, vpc)) throw new UserError(`${vpc.name} exists on ${this.self} with another definition, not brought by this agent: it is left as it is`, 'conflict');
      // The store is the authority on what the agent brought: it replaces what this host held.
      accept(host, vpc, true);
      atomically(host.db, () => repo.addAgentVpc(host.db, vpc.name));
      const r = await reconcileAccepted(host, vpc.name, change, false);
      // This host's own guests on it, written before the status that tells the others to take them.
      await publishGuests(host, this.client, vpc.name, await fdbReport(host, vpc.name));
      status = { node: this.self, vpc: vpc.name, revision, ok: true, changes: r.ops.length, error: null, version: VERSION };
    } catch (e) {
      status = { node: this.self, vpc: stored.name, revision, ok: false, changes: 0, error: firstLine(e), version: VERSION };
    }
    // Only once the status is written: a failed write leaves the revision to be applied and told again.
    await this.report(status);
    this.applied.set(stored.name, revision);
    this.appliedSeals.set(stored.name, seals);
  }

  /** vpc mode=collapse: this host's network for the VPC goes down (only what meshvpc made), its definition stays. */
  private async collapseHere(vpc: VpcWithMap, revision: number): Promise<void> {
    this.events({ type: 'applying', vpc: vpc.name, revision });
    let status: AppliedStatus;
    try {
      // Only a VPC this agent brought here: one it never ran has no network here to take down.
      const runs = repo.agentVpcs(this.host.db).includes(vpc.name);
      if (runs) accept(this.host, vpc, true);
      const r = runs ? await collapse(this.host, vpc.name) : { ops: [] };
      status = { node: this.self, vpc: vpc.name, revision, ok: true, changes: r.ops.length, error: null, version: VERSION };
    } catch (e) {
      status = { node: this.self, vpc: vpc.name, revision, ok: false, changes: 0, error: firstLine(e), version: VERSION };
    }
    await this.report(status);
    this.applied.set(vpc.name, revision);
  }

  private async report(status: AppliedStatus): Promise<void> {
    this.events({ type: 'applied', vpc: status.vpc, revision: status.revision, ok: status.ok, changes: status.changes, error: status.error });
    const key = statusKey(status.node, status.vpc);
    await this.client.put(key, this.client.seal(key, JSON.stringify(status)));
  }

  /** The other members' guests, as they wrote them, for the control-plane FDB. */
  private async takeGuests(vpc: VpcWithMap, guestKvs: readonly KeyValue[], reported: ReadonlySet<string>): Promise<void> {
    if ((vpc.fdb ?? 'learn') !== 'control') return;
    const byNode = guestsFromStore(this.client, vpc, guestKvs, this.self, reported);
    // Only what changed is written: the same list taken again (another member's status woke this
    // agent) leaves the rows, and when they were seen, as they are.
    const same = (node: string, guests: readonly GuestOnHost[]): boolean => {
      const key = (gs: readonly GuestOnHost[]): string =>
        JSON.stringify(gs.map((g) => [g.name, g.kind, g.ip4Addr, g.ip6Addr, g.running, g.vcpus, g.ramBytes, g.diskBytes]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)));
      return key(repo.getSeen(this.host.db, vpc.name, node)) === key(guests);
    };
    atomically(this.host.db, () => {
      const heard = repo.heardFrom(this.host.db, vpc.name);
      for (const [node, guests] of byNode) if (!heard.has(node) || !same(node, guests)) repo.putSeen(this.host.db, vpc.name, node, guests);
    });
    await refreshFdb(this.host, vpc.name);
    this.events({ type: 'guests', vpc: vpc.name, members: byNode.size });
  }
}

/** How soon a VPC that could not be settled is tried again when no other change comes. */
const RETRY_MS = 2000;

/** A snapshot of the store by VPC: its definition, its guests, and which members' agents reported it. */
function groupByVpc(client: EtcdClient, kvs: readonly KeyValue[]): Map<string, { vpc: KeyValue | null; guests: KeyValue[]; reported: Set<string> }> {
  const out = new Map<string, { vpc: KeyValue | null; guests: KeyValue[]; reported: Set<string> }>();
  const of = (name: string): { vpc: KeyValue | null; guests: KeyValue[]; reported: Set<string> } => {
    let x = out.get(name);
    if (!x) out.set(name, (x = { vpc: null, guests: [], reported: new Set() }));
    return x;
  };
  for (const kv of kvs) {
    const k = parseKey(kv.key);
    if (k?.kind === 'vpc') of(k.vpc).vpc = kv;
    else if (k?.kind === 'guest') of(k.vpc).guests.push(kv);
    else if (k?.kind === 'status' && appliedBy(client, kv, k)) of(k.vpc).reported.add(k.node);
  }
  return out;
}

/**
 * Whether `kv` is `node`'s own word (it signed it) that it applied the VPC: only then has it
 * written its guests (before its status). A failed apply, or a status it did not sign, says
 * nothing of its guests: what was known of them stays.
 */
function appliedBy(client: EtcdClient, kv: KeyValue, key: { readonly node: string; readonly vpc: string }): boolean {
  try {
    return statusFromStore(ownBody(client, kv, key.node), key).ok;
  } catch {
    return false;
  }
}

/** Members whose agent has reported `vpc` (a status key), from a range of the store. */
function reportersOf(client: EtcdClient, kvs: readonly KeyValue[], vpc: string): Set<string> {
  const out = new Set<string>();
  for (const kv of kvs) {
    const k = parseKey(kv.key);
    if (k?.kind === 'status' && k.vpc === vpc && appliedBy(client, kv, k)) out.add(k.node);
  }
  return out;
}
