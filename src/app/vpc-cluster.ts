/**
 * VPC modes that act on every member: sync, deploy (and join/leave, which are
 * a membership change followed by the same convergence), status, collapse,
 * destroy. Hosts are called concurrently with a bound; each host's outcome is
 * reported as an event as it ends, a failed host never stops the others, and
 * the result says whether every host converged.
 */
import { UserError, type ErrorDetail, type ErrorKind } from '../core/errors.js';
import * as v from '../core/validate.js';
import { allocatePeerMap, hashedVniStart } from '../core/peermap.js';
import type { NodeRecord, TunnelStatus, VpcDef, VpcWithMap } from '../core/types.js';
import { fanout, type Outcome } from '../cluster/fanout.js';
import { Peers } from '../cluster/peers.js';
import type { Hello, Layer } from '../cluster/protocol.js';
import { helloFacts, tunnelStatusFromWire, vpcFromWire } from '../cluster/wire.js';
import { VERSION } from '../core/version.js';
import { helloSeal } from '../cluster/wire.js';
import { selfSeal } from './seal.js';
import { checkSealName, type SealIdentity } from '../core/seal.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { accept, applyChanges, collapse, forget, hostFacts, layersChange, preflight, reconcileAccepted, status, type ApplyResult } from './vpc-local.js';
import { requireVpc } from './vpc-list.js';
import { plan } from '../core/planner.js';
import { observedFrom } from '../core/observed.js';
import { buildHostSpec, type HostSpec } from '../core/spec.js';
import { mtuSpread, withLinkMtus, type LinkMtus, type MtuSpread } from '../core/mtu-claims.js';
import { applyDigester, isCurrent, type AppliedState } from '../core/applied.js';

/**
 * A definition as a member reads it off the wire (addresses and numbers in
 * their checked form): what it remembers the digest of, so this host
 * computes the digest of the same thing.
 */
export const wireForm = (def: VpcWithMap): VpcWithMap => vpcFromWire(JSON.parse(JSON.stringify(def)));

/** The digest each member must report to be left alone; the definition is put in wire form once for all of them. */
export function applyDigests(def: VpcWithMap, layers: readonly Layer[]): (member: string) => string {
  let digest: ((member: string, layers: readonly string[]) => string) | null;
  try {
    digest = applyDigester(wireForm(def));
  } catch {
    // Not a definition a member would take: no member is current for it.
    digest = null;
  }
  return (member) => (digest === null ? '' : digest(member, layers));
}

export const DEFAULT_CONCURRENCY = 16;
const LAYERS: Layer[] = ['vxlan', 'bridge'];


/** The SSH records of a VPC's members other than this host. */
export function memberNodes(host: Host, vpc: VpcDef): NodeRecord[] {
  return vpc.members
    .filter((x) => x.node !== host.self.nodename)
    .map((x) => {
      const n = repo.getNode(host.db, x.node);
      if (!n) throw new UserError(`member ${x.node} of ${vpc.name} is not a known node here: add it with meshvpc node mode=add`);
      return n;
    });
}

const byName = (nodes: readonly NodeRecord[], name: string): NodeRecord => nodes.find((n) => n.name === name) as NodeRecord;

interface Gathered {
  readonly reach: Outcome<Hello>[];
  /** Every VXLAN id this VPC may not take, and where it is taken. */
  readonly used: Map<number, string>;
  /** Each host that answered (this one too) and its underlay link MTUs; null: too old to say. */
  readonly linkMtus: Map<string, LinkMtus | null>;
  /** What the last deploy applied on this host, and whether its links are intact (core/applied.ts). */
  readonly selfApplied: AppliedState | null;
}

/** Ask every host who answers which VXLAN ids it cannot give this VPC (and learn who answers at all). */
async function gatherUsed(host: Host, peers: Peers, nodes: readonly NodeRecord[], name: string, limit: number): Promise<Gathered> {
  const reach = await fanout(nodes.map((n) => n.name), limit, async (key) => {
    const h = await peers.call<Hello>(byName(nodes, key), { op: 'hello', vpc: name });
    // Only what helloFacts checked is believed: a garbled `applied` reads as unknown.
    return { ...h, applied: undefined, ...helloFacts(h) };
  });
  const used = new Map<number, string>();
  const mine = await hostFacts(host, name);
  for (const u of mine.usedVnis) used.set(u.vni, `${u.by} on ${host.self.nodename}`);
  for (const r of reach) if (r.ok) for (const u of r.value.usedVnis ?? []) used.set(u.vni, `${u.by} on ${r.key}`);
  const linkMtus = new Map<string, LinkMtus | null>([[host.self.nodename, mine.linkMtu]]);
  for (const r of reach) if (r.ok) linkMtus.set(r.key, r.value.linkMtu ?? null);
  return { reach, used, linkMtus, selfApplied: mine.applied ?? null };
}

/**
 * An encrypted VPC's members carry their WireGuard keys and ports: each as
 * the member said it in the hello just answered (and remembered here, a host
 * speaking for itself), this host's own, or what was stored for a member that
 * did not answer. A member whose meshvpc has no WireGuard is refused, naming
 * both versions.
 */
export function withSealKeys(host: Host, vpc: VpcWithMap, reach: readonly Outcome<Hello>[], dryrun = false): VpcWithMap {
  if (vpc.encrypt !== 'wireguard') return vpc;
  const self = host.self.nodename;
  // What each member that answered said of itself, checked for every member before any of it is
  // remembered: a refusal changes nothing, whatever the members' order.
  const said = new Map<string, SealIdentity>();
  for (const m of vpc.members) {
    const r = reach.find((x) => x.key === m.node);
    if (m.node === self || !r?.ok) continue;
    const seal = helloSeal(r.value);
    if (!seal) {
      throw new UserError(`${vpc.name} is encrypted (encrypt=wireguard), and ${m.node} runs meshvpc ${r.value.version}, which has no WireGuard: upgrade ${m.node} to ${VERSION} first`, 'conflict');
    }
    said.set(m.node, seal);
  }
  const members = vpc.members.map((m) => {
    if (m.node === self) {
      const { key, port } = selfSeal(host);
      return { ...m, wgKey: key, wgPort: port };
    }
    const seal = said.get(m.node);
    if (seal) {
      // A dry run remembers nothing either.
      if (!dryrun && repo.getNode(host.db, m.node)) repo.putNodeSeal(host.db, m.node, seal.key, seal.port);
      return { ...m, wgKey: seal.key, wgPort: seal.port };
    }
    // Not answering: what it last said itself (its node record), else what its definition here holds.
    const known = repo.getNode(host.db, m.node);
    if (known?.wgKey && known.wgPort) return { ...m, wgKey: known.wgKey, wgPort: known.wgPort };
    return m.wgKey && m.wgPort ? m : { ...m, wgKey: null, wgPort: null };
  });
  return { ...vpc, members };
}

/**
 * `init_peers`: allocate (or extend) the peer map around the ids every
 * reachable member reports taken, and store it; existing pairs keep their ids
 * and addresses unless another VPC or interface holds their id somewhere.
 */
export interface AllocateResult {
  readonly vpc: VpcWithMap;
  /** Members that did not answer: their VXLAN ids are checked when the map is synced. */
  readonly unreachable: readonly { readonly host: string; readonly error: string }[];
}

export async function allocate(host: Host, vpc: VpcWithMap, dryrun: boolean): Promise<AllocateResult> {
  // In the article's flow a host may not know every member: ask those it knows.
  const nodes = vpc.members.flatMap((m) => (m.node === host.self.nodename ? [] : (repo.getNode(host.db, m.node) ?? [])));
  const peers = new Peers(host.home);
  try {
    const { reach, used, linkMtus } = await gatherUsed(host, peers, nodes, vpc.name, DEFAULT_CONCURRENCY);
    const a = allocateAround(withLinkMtus(withSealKeys(host, vpc, reach, dryrun), linkMtus), used, new Set(), false);
    if (!dryrun) accept(host, a.vpc, false, a.renumbered);
    return { vpc: a.vpc, unreachable: reach.flatMap((r) => (r.ok ? [] : [{ host: r.key, error: r.error }])) };
  } finally {
    peers.close();
  }
}

/** A peer map and the old ids of the pairs it moved (the members may accept that change). */
interface Allocation {
  readonly vpc: VpcWithMap;
  readonly renumbered: readonly number[];
}

/**
 * Cluster-wide allocation (the embedded backend's scheme). The initiator
 * gathers every member's taken VXLAN ids (other VPCs, foreign interfaces) and
 * allocates around all of them; pairs that hold an id taken elsewhere are
 * moved (they cannot have worked on that host). Each member re-checks inside
 * its own transaction when it accepts the map, so of two VPCs racing for one
 * id a member takes only one; the loser sees the refusal, re-gathers and
 * re-allocates just those pairs (`lost`) from a start derived from the VPC
 * and the pair (`hashed`), so two losers do not pick the same id again.
 */
function allocateAround(vpc: VpcWithMap, used: ReadonlyMap<number, string>, lost: ReadonlySet<number>, hashed: boolean): Allocation {
  const kept = vpc.pairs.filter((p) => !used.has(p.vni) && !lost.has(p.vni));
  const pairs = allocatePeerMap({
    members: vpc.members.map((x) => x.node),
    network: v.network(vpc.peerNetwork, 'peer_network'),
    existing: kept,
    takenVnis: new Set([...used.keys(), ...lost]),
    ...(hashed ? { vniStart: hashedVniStart(vpc.name) } : {}),
    sealed: vpc.encrypt === 'wireguard',
  });
  return { vpc: { ...vpc, pairs }, renumbered: vpc.pairs.filter((p) => !kept.includes(p)).map((p) => p.vni) };
}

/**
 * Ids the refusals say another VPC took first: a conflict carries the id as
 * detail. A 0.1 peer sends only the text ("VXLAN id 106 of b13 is already
 * used by a23 on host2"), which is read for that case alone.
 */
export function lostVnis(name: string, failures: readonly { readonly error: string; readonly kind?: ErrorKind; readonly detail?: ErrorDetail }[]): Set<number> {
  const legacy = new RegExp(`VXLAN id (\\d+) of ${name} is already used by`);
  return new Set(
    failures.flatMap((f) => {
      if (f.kind === 'conflict' && typeof f.detail?.vni === 'number') return [f.detail.vni];
      const m = f.kind === undefined || f.kind === 'failed' ? legacy.exec(f.error) : null;
      return m ? [Number(m[1])] : [];
    }),
  );
}

/** What every host's outcome reports, whatever the operation: who, whether it worked, why not, how long. */
export function reported<T>(o: Outcome<T>): { host: string; ok: boolean; error: string | null; kind: ErrorKind | null; seconds: number } {
  return { host: o.key, ok: o.ok, error: o.ok ? null : o.error, kind: o.ok ? null : (o.kind ?? 'failed'), seconds: o.ms / 1000 };
}

/** One peer's answer to `sync`: what it did with the definition, or why it refused. */
export interface SyncOutcome {
  readonly host: string;
  readonly ok: boolean;
  /** created, updated or unchanged. */
  readonly result: string | null;
  readonly error: string | null;
  readonly kind: ErrorKind | null;
  readonly seconds: number;
}

/** What `sync` did, as data (`--json` prints it). */
export interface SyncResult {
  readonly vpc: string;
  readonly pairs: number;
  readonly dryrun: boolean;
  /** The members it was (or, dry, would be) sent to. */
  readonly peers: readonly string[];
  readonly hosts: readonly SyncOutcome[];
  readonly synced: number;
  readonly ok: boolean;
}

/**
 * Send this host's definition and map of a VPC to every member; each peer's
 * outcome goes to `events` as it ends. `policy`: the quotas or guest network
 * changed (vpc mode=set), which members accept although theirs differ; a
 * member too old to keep them is reported as not synced, naming both versions.
 */
export async function sync(host: Host, name: string, force: boolean, dryrun: boolean, events: (o: SyncOutcome) => void = () => undefined, policy = false): Promise<SyncResult> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  const base = { vpc: name, pairs: vpc.pairs.length, dryrun, peers: nodes.map((n) => n.name) };
  if (dryrun) return { ...base, hosts: [], synced: 0, ok: true };
  const peers = new Peers(host.home);
  const outcome = (o: Outcome<{ result: string; version?: unknown }>): SyncOutcome => {
    if (o.ok && policy && typeof o.value.version !== 'string') {
      return { ...reported(o), ok: false, result: null, kind: 'conflict', error: `${o.key} runs an older meshvpc than ${VERSION} (before 0.3.0), which keeps no quotas or guest network: upgrade it` };
    }
    return { ...reported(o), result: o.ok ? o.value.result : null };
  };
  try {
    const results = await fanout(
      nodes.map((n) => n.name),
      DEFAULT_CONCURRENCY,
      (key) => peers.call<{ result: string; version?: unknown }>(byName(nodes, key), { op: 'vpc_put', vpc, force, ...(policy ? { policy } : {}) }),
      (o) => events(outcome(o)),
    );
    const hosts = results.map(outcome);
    const synced = hosts.filter((h) => h.ok).length;
    return { ...base, hosts, synced, ok: synced === hosts.length };
  } finally {
    peers.close();
  }
}

export interface ConvergeOptions {
  readonly dryrun: boolean;
  readonly limit: number;
  /**
   * Hosts that do not hold the VPC yet (all members of a new VPC, the hosts
   * joining): each checks it before anything is stored anywhere.
   */
  readonly newTo?: ReadonlySet<string>;
  /** What the refusal says it could not do (deploy, join). */
  readonly verb?: string;
  /** Hosts that were members and are leaving: their network for the VPC is taken down and forgotten. */
  readonly leaving: readonly NodeRecord[];
  /** vpc mode=set changed what only it may (encryption): members accept the difference. */
  readonly policy?: boolean;
  /** Apply every member, even those that report they already have exactly this (deploy full=1). */
  readonly full?: boolean;
}

/** Progress of a convergence, one event per thing that happened, in order. */
export type ConvergeEvent =
  | { readonly type: 'accepted'; readonly vpc: string }
  | { readonly type: 'checking'; readonly vpc: string; readonly peers: number }
  | { readonly type: 'connected'; readonly host: string; readonly version: string }
  | { readonly type: 'unreachable'; readonly host: string; readonly error: string }
  | { readonly type: 'applying'; readonly host: string }
  | { readonly type: 'older_peer'; readonly host: string; readonly version: string; readonly ours: string }
  | { readonly type: 'host'; readonly outcome: HostOutcome }
  | { readonly type: 'reallocating'; readonly vpc: string; readonly vnis: readonly number[]; readonly round: number }
  /** A host made its WireGuard link with wireguard-go: far slower than the kernel's (bench/RESULTS.md). */
  | { readonly type: 'userspace_wireguard'; readonly host: string }
  /** The members' underlay links differ: the segment takes the smallest (core/mtu-claims.ts). */
  | ({ readonly type: 'mtu_differs' } & MtuSpread)
  | { readonly type: 'dryrun_command'; readonly host: string; readonly argv: readonly string[] };

/** One host's part in a convergence. */
export interface HostOutcome {
  readonly host: string;
  /** member: brought to the VPC; leaving: took it down and forgot it. */
  readonly role: 'member' | 'leaving';
  readonly dryrun: boolean;
  readonly ok: boolean;
  readonly changes: number | null;
  readonly error: string | null;
  readonly kind: ErrorKind | null;
  readonly seconds: number;
  /**
   * Left alone as current: it reported (in this deploy's hello) that it last
   * applied exactly what it would be sent, and that its links are as that
   * apply left them (core/applied.ts). Absent: applied (or failed).
   */
  readonly current?: true;
}

/** What `deploy`, `join` and `leave` did, as data (`--json` prints it). */
export interface ConvergeResult {
  readonly vpc: string;
  readonly dryrun: boolean;
  readonly members: number;
  readonly converged: number;
  readonly leaving: number;
  readonly leftCleanly: number;
  readonly changes: number;
  readonly seconds: number;
  readonly timing: { readonly connectMs: number; readonly checkMs: number | null; readonly applyMs: number };
  /** Every host's last outcome (after any re-allocation round). */
  readonly hosts: readonly HostOutcome[];
  /** Members left alone as current (their outcomes say current: true), by name. */
  readonly current: readonly string[];
  /** The members' underlay links differ (also sent as the event mtu_differs); null when they do not. */
  readonly mtu: MtuSpread | null;
  /** Everything converged and every leaving host cleaned up. */
  readonly ok: boolean;
}

const hostOutcome = (o: Outcome<ApplyResult>, role: HostOutcome['role'], dryrun: boolean): HostOutcome => ({
  ...reported(o),
  role,
  dryrun,
  changes: o.ok ? applyChanges(o.value) : null,
});

/**
 * Bring every member to the VPC as this host holds it: check who answers and
 * which VXLAN ids they hold, allocate the map around those (only new pairs),
 * have hosts new to the VPC check it, then have every member accept the map
 * and apply it, concurrently and in one request each, while leaving hosts
 * forget it. Used by deploy, join and leave; a second run changes nothing.
 * Progress goes to `events`; nothing is printed here.
 */
export async function converge(host: Host, initial: VpcWithMap, opts: ConvergeOptions, events: (e: ConvergeEvent) => void = () => undefined): Promise<ConvergeResult> {
  const started = Date.now();
  const name = initial.name;
  const selfMember = initial.members.some((m) => m.node === host.self.nodename);
  const nodes = memberNodes(host, initial);
  const everyone = [...nodes, ...opts.leaving];
  const peers = new Peers(host.home);
  const timing: Record<string, number> = {};
  const phase = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timing[label] = Date.now() - t;
    }
  };
  try {
    events({ type: 'checking', vpc: name, peers: everyone.length });
    const gather = (): Promise<Gathered> => gatherUsed(host, peers, everyone, name, opts.limit);
    const first = await phase('connect', gather);
    for (const o of first.reach) events(o.ok ? { type: 'connected', host: o.key, version: o.value.version } : { type: 'unreachable', host: o.key, error: o.error });
    // An older peer interoperates, but cannot say which ids it holds or what is in the way, or accept a renumbered pair.
    const older = new Set(first.reach.flatMap((o) => (o.ok && o.value.usedVnis === undefined ? [o.key] : [])));
    for (const o of first.reach) {
      if (older.has(o.key) && o.ok) events({ type: 'older_peer', host: o.key, version: o.value.version, ours: VERSION });
    }
    const answered = (n: NodeRecord): boolean => first.reach.some((r) => r.key === n.name && r.ok);
    // Each member's link MTU as it just said: every host sizes its tunnels to that member by it.
    const keyed = withLinkMtus(withSealKeys(host, initial, first.reach, opts.dryrun), first.linkMtus);
    const spread = mtuSpread(keyed);
    if (spread) events({ type: 'mtu_differs', ...spread });
    let alloc = await phase('init_peers', async () => allocateAround(keyed, first.used, new Set(), false));
    const synced = nodes.filter(answered);
    const leavers = opts.leaving.filter(answered);
    const self = host.self.nodename;
    const toCheck = opts.newTo ?? new Set<string>();
    if (toCheck.size > 0 && !opts.dryrun) await phase('check', () => checkNewHosts(host, alloc.vpc, toCheck, first.reach, opts.verb ?? 'deploy'));
    // Ids another VPC took since we gathered: gather again and move just those pairs.
    const moveOff = async (lost: ReadonlySet<number>): Promise<void> => {
      const next = allocateAround(alloc.vpc, (await gather()).used, lost, true);
      alloc = { vpc: next.vpc, renumbered: [...new Set([...alloc.renumbered, ...next.renumbered])] };
    };
    const targets = [...(selfMember ? [self] : []), ...synced.map((n) => n.name), ...leavers.map((n) => n.name)];
    // What each member reported it last applied (this host's own from its own look at the kernel).
    const said = new Map<string, AppliedState | null>([[self, first.selfApplied], ...first.reach.map((r): [string, AppliedState | null] => [r.key, r.ok ? (r.value.applied ?? null) : null])]);
    /**
     * Members that already have exactly what this allocation would send them
     * (core/applied.ts): left alone. Never when anything but the definition
     * itself changes hands (a renumbering, a policy change), for hosts that
     * check the VPC as new, for leaving hosts, for an encrypted VPC (its
     * WireGuard peers are not in the links' fingerprint), for a VPC with
     * fdb=control (its FDB and neighbour entries are not in it either, and an
     * apply is also when a member tells the others its guests again, the
     * repair of a report that did not get through), or with full=1.
     */
    const currentOf = (a: Allocation): Set<string> => {
      if (opts.full || opts.policy || a.renumbered.length > 0 || (a.vpc.encrypt ?? 'none') !== 'none' || (a.vpc.fdb ?? 'learn') === 'control') return new Set();
      const digests = applyDigests(a.vpc, LAYERS);
      return new Set(targets.filter((key) => !toCheck.has(key) && !leavers.some((n) => n.name === key) && isCurrent(said.get(key), digests(key))));
    };
    let skipped = new Set<string>();
    const applyAll = async (a: Allocation): Promise<Outcome<ApplyResult>[]> => {
      skipped = currentOf(a);
      const left = [...skipped].map((key): Outcome<ApplyResult> => ({ key, ok: true, value: { node: key, ops: [], commands: [], applied: !opts.dryrun }, ms: 0 }));
      for (const o of left) events({ type: 'host', outcome: { ...hostOutcome(o, 'member', opts.dryrun), current: true } });
      const applied = await fanout(
        targets.filter((key) => !skipped.has(key)),
        opts.limit,
        async (key): Promise<ApplyResult> => {
          events({ type: 'applying', host: key });
          if (key === self) {
            // Checked before anything was stored (checkNewHosts) or already stored here: no second check.
            if (!opts.dryrun) accept(host, a.vpc, false, a.renumbered, opts.policy ?? false);
            // Remembered as a member remembers what it is sent: in the form the wire gives it.
            return reconcileAccepted(host, name, layersChange(LAYERS), opts.dryrun, a.vpc, { definition: wireForm(a.vpc), layers: LAYERS });
          }
          const leaver = leavers.find((n) => n.name === key);
          if (leaver) return opts.dryrun ? { node: key, ops: [], commands: [], applied: false } : peers.call<ApplyResult>(leaver, { op: 'vpc_forget', vpc: name });
          // The definition rides along: each peer accepts and applies it in one remote process.
          return peers.call<ApplyResult>(byName(nodes, key), {
            op: 'vpc_apply', vpc: name, layers: LAYERS, dryrun: opts.dryrun, definition: a.vpc,
            ...(a.renumbered.length > 0 ? { renumber: a.renumbered } : {}),
            ...(opts.policy ? { policy: true } : {}),
          });
        },
        (o) => events({ type: 'host', outcome: hostOutcome(o, leavers.some((n) => n.name === o.key) ? 'leaving' : 'member', opts.dryrun) }),
      );
      // In the order of targets, as before.
      return targets.flatMap((key) => [...left, ...applied].filter((o) => o.key === key));
    };
    let applied = await phase('apply', () => applyAll(alloc));
    for (let round = 1; round <= MAX_REALLOCATIONS && !opts.dryrun; round++) {
      const lost = lostVnis(name, applied.flatMap((r) => (r.ok ? [] : [r])));
      if (lost.size === 0) break;
      events({ type: 'reallocating', vpc: name, vnis: [...lost], round });
      await moveOff(lost);
      applied = await applyAll(alloc);
    }
    if (opts.dryrun) for (const r of applied) if (r.ok) for (const c of r.value.commands) events({ type: 'dryrun_command', host: r.key, argv: c });
    // Only this exact value is believed from a peer's answer: it names nothing but the host that said it.
    for (const r of applied) if (r.ok && r.value.sealImpl === 'wireguard-go') events({ type: 'userspace_wireguard', host: r.key });
    const hosts = applied.map((o): HostOutcome => ({ ...hostOutcome(o, leavers.some((n) => n.name === o.key) ? 'leaving' : 'member', opts.dryrun), ...(skipped.has(o.key) ? { current: true as const } : {}) }));
    if (!selfMember && !opts.dryrun) {
      // This host is the one leaving: it told the others, now it forgets.
      const t = Date.now();
      const mine = await forget(host, name);
      const outcome = hostOutcome({ key: self, ok: true, value: mine, ms: Date.now() - t }, 'leaving', false);
      events({ type: 'host', outcome });
      hosts.push(outcome);
    }
    const members = nodes.length + (selfMember ? 1 : 0);
    const converged = hosts.filter((h) => h.ok && h.role === 'member').length;
    const leftCleanly = hosts.filter((h) => h.ok && h.role === 'leaving' && h.host !== self).length;
    return {
      vpc: name,
      dryrun: opts.dryrun,
      members,
      converged,
      leaving: opts.leaving.length,
      leftCleanly,
      changes: hosts.reduce((n, h) => n + (h.role === 'member' || h.host !== self ? (h.changes ?? 0) : 0), 0),
      seconds: (Date.now() - started) / 1000,
      timing: { connectMs: timing.connect ?? 0, checkMs: timing.check ?? null, applyMs: timing.apply ?? 0 },
      hosts,
      current: hosts.filter((h) => h.current === true).map((h) => h.host),
      mtu: spread,
      ok: converged === members && leftCleanly === opts.leaving.length,
    };
  } finally {
    peers.close();
  }
}

/** Races between deploys of different VPCs settle in one round; more means something else is wrong. */
const MAX_REALLOCATIONS = 3;

/**
 * A VPC is checked for every host new to it that answered (names free,
 * addresses sane) before any host stores it: a refusal anywhere leaves no
 * trace anywhere. This host plans for itself; for a peer it plans the peer's
 * part of the VPC against the links the peer reported with its hello (the
 * same planner, so the same refusals), which costs no round trip of its own.
 * Each peer checks again for itself when it applies.
 */
async function checkNewHosts(host: Host, vpc: VpcWithMap, newTo: ReadonlySet<string>, reach: readonly Outcome<Hello>[], verb: string): Promise<void> {
  const self = host.self.nodename;
  const refused: string[] = [];
  const isMember = (n: string): boolean => vpc.members.some((m) => m.node === n);
  if (newTo.has(self) && isMember(self)) {
    await preflight(host, vpc, layersChange(LAYERS)).catch((e: unknown) => {
      // A VXLAN id another VPC took here since the ids were gathered (two deploys at once) is no
      // refusal of this definition: the apply meets it again and the pairs are moved off it.
      if (e instanceof UserError && e.kind === 'conflict' && typeof e.detail?.vni === 'number') return;
      refused.push(`${self}: ${e instanceof Error ? e.message : String(e)}`);
    });
  }
  for (const r of reach) {
    // A 0.1 peer reports no links: it checks when it applies.
    if (!r.ok || !r.value.links || !newTo.has(r.key) || !isMember(r.key)) continue;
    try {
      const observed = observedFrom(r.value.links);
      if (vpc.encrypt === 'wireguard') checkSealName(observed);
      plan(peerSpec(vpc, r.key), observed);
    } catch (e) {
      refused.push(`${r.key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (refused.length > 0) throw new UserError(`cannot ${verb} ${vpc.name}: ${refused.join('; ')}; nothing was stored on any host`);
}

/** A peer's part of a VPC, both layers on, as far as this host can know it (MTUs aside, which only tune). */
function peerSpec(vpc: VpcWithMap, node: string): HostSpec {
  return buildHostSpec({
    vpc: vpc.name,
    self: node,
    pairs: vpc.pairs,
    family: vpc.family,
    underlay: new Map(vpc.members.map((m) => [m.node, m.underlay])),
    underlayMtu: new Map(),
    mtu: vpc.mtu,
    layers: { vxlan: true, bridge: true },
    bridgeIps: [],
    owned: [],
    peerNetwork: vpc.peerNetwork,
    encrypt: vpc.encrypt ?? 'none',
  });
}

/** Every member's tunnels. `pool`: connections the caller keeps open between calls (the server). */
export async function clusterStatus(host: Host, name: string, pool?: Peers): Promise<Outcome<TunnelStatus[]>[]> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  const peers = pool ?? new Peers(host.home);
  try {
    return await fanout([host.self.nodename, ...nodes.map((n) => n.name)], DEFAULT_CONCURRENCY, (key) =>
      key === host.self.nodename ? status(host, name) : peers.call<unknown>(byName(nodes, key), { op: 'vpc_status', vpc: name }).then((x) => tunnelStatusFromWire(x, key, vpc.pairs)),
    );
  } finally {
    if (!pool) peers.close();
  }
}

/** What a collapse or destroy did on one host. */
export interface TeardownOutcome {
  readonly host: string;
  readonly ok: boolean;
  readonly error: string | null;
  /** How many interfaces changed there. */
  readonly changes: number | null;
  readonly seconds: number;
}

/** Progress of a collapse or destroy: its start, then each other member as it answers. */
export type TeardownEvent =
  | { readonly type: 'accepted'; readonly vpc: string }
  | { readonly type: 'checking'; readonly vpc: string; readonly peers: number }
  | { readonly type: 'torn_down'; readonly outcome: TeardownOutcome };

export interface TeardownResult {
  readonly vpc: string;
  readonly mode: 'collapse' | 'destroy';
  readonly ok: boolean;
  readonly dryrun: boolean;
  /** Every other member, as it answered (or did not). */
  readonly hosts: readonly TeardownOutcome[];
  /** This host's own part, with the commands it ran (or would run). */
  readonly self: ApplyResult;
  readonly done: number;
  readonly members: number;
}

export async function teardownAll(
  host: Host,
  name: string,
  mode: 'collapse' | 'destroy',
  force: boolean,
  dryrun: boolean,
  events: (e: TeardownEvent) => void = () => undefined,
): Promise<TeardownResult> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  const peers = new Peers(host.home);
  // Said before anything can change: whatever fails after it is a failure of the operation, not a refusal.
  events({ type: 'checking', vpc: name, peers: nodes.length });
  try {
    const reach = await fanout(nodes.map((n) => n.name), DEFAULT_CONCURRENCY, (key) => peers.call(byName(nodes, key), { op: 'hello' }));
    const missing = reach.filter((r) => !r.ok);
    if (missing.length > 0 && !force) {
      throw new UserError(`cannot ${mode} ${name}: ${missing.map((r) => `${r.key} is unreachable`).join(', ')}; nothing was changed (force=1 goes ahead without them)`, 'unreachable');
    }
    const op = mode === 'collapse' ? 'vpc_collapse' : 'vpc_forget';
    const reachable = nodes.filter((n) => !missing.some((r) => r.key === n.name));
    const outcome = (o: Outcome<ApplyResult>): TeardownOutcome => ({
      host: o.key,
      ok: o.ok,
      error: o.ok ? null : o.error,
      changes: o.ok ? applyChanges(o.value) : null,
      seconds: Number((o.ms / 1000).toFixed(2)),
    });
    const results = dryrun
      ? []
      : await fanout(reachable.map((n) => n.name), DEFAULT_CONCURRENCY, (key) => peers.call<ApplyResult>(byName(nodes, key), { op, vpc: name }), (o) => events({ type: 'torn_down', outcome: outcome(o) }));
    const mine = mode === 'collapse' ? await collapse(host, name, dryrun) : await forget(host, name, dryrun);
    const failed = results.filter((r) => !r.ok).length + missing.length;
    const hosts = [...missing.map((r) => outcome(r as Outcome<ApplyResult>)), ...results.map(outcome)];
    return { vpc: name, mode, ok: failed === 0, dryrun, hosts, self: mine, done: nodes.length + 1 - failed, members: nodes.length + 1 };
  } finally {
    peers.close();
  }
}
