/**
 * The `vpc` operations: every mode of CBSD's vpc, plus join/leave/apply/down/
 * status/show for a living cluster. Each takes checked input (catalog.ts) and
 * returns data; progress goes to the caller's sink.
 */
import type { Encryption } from '../core/seal.js';
import { tellMembersOf } from './guest-reports.js';
import { storeClient } from './store-backend.js';
import type { EtcdClient } from '../store/etcd/client.js';
import { trustedBy } from './store-trust.js';
import type { FdbMode } from '../core/fdb.js';
import { atomically } from '../store/tx.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { allocatePeerMap } from '../core/peermap.js';
import { givesPolicy, policyFrom, policyOf, POLICY_KEYS, type Policy, type PolicyInput } from './vpc-policy.js';
import { describeQuota, NO_QUOTA } from '../core/quota.js';
import type { Member, NodeRecord, TunnelStatus, VpcDef, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { withLock } from '../store/lock.js';
import type { Host } from './host.js';
import { down, forget, layersChange, preflight, reconcile, type ApplyResult } from './vpc-local.js';
import { requireVpc } from './vpc-list.js';
import {
  allocate,
  clusterStatus,
  converge,
  DEFAULT_CONCURRENCY,
  sync,
  teardownAll,
  type AllocateResult,
  type ConvergeEvent,
  type ConvergeResult,
  type HostOutcome,
  type SyncOutcome,
  type SyncResult,
  type TeardownEvent,
  type TeardownOutcome,
  type TeardownResult,
} from './vpc-cluster.js';
import { initRc, type InitRcResult } from './init-rc.js';
import { checkHostAddress, checkPeerNetwork, checkSegmentAddress, checkPeerNetworkAgainstOthers, checkPeerNetworkAgainstUnderlay } from '../core/addrules.js';
import type { Cidr } from '../core/validate.js';
import type { Peers } from '../cluster/peers.js';

/** What every `vpc` mode but list takes. */
export interface Named {
  readonly vpc_name: string;
  readonly dryrun?: boolean;
}

export interface Definition extends PolicyInput {
  readonly node_member?: 'all' | readonly string[];
  readonly peer_network?: string;
  readonly mtu?: number;
  readonly underlay?: 'v4' | 'v6';
  readonly firewall?: boolean;
  readonly encrypt?: Encryption;
  readonly fdb?: FdbMode;
}

/**
 * A cluster operation holds the VPC's lock on this host, so two of them on
 * one VPC take turns. `accepted` is told when the operation's checks have
 * passed, before it waits for the lock: what fails before that was a
 * refusal and changed nothing.
 */
function clusterLocked<T>(host: Host, name: string, what: string, dryrun: boolean | undefined, fn: () => Promise<T>, accepted?: (e: { type: 'accepted'; vpc: string }) => void): Promise<T> {
  accepted?.({ type: 'accepted', vpc: name });
  return dryrun ? fn() : withLock(host.db, `op:${name}`, what, fn);
}

/** Resolve node_member= into members with underlay addresses of one family. */
function resolveMembers(host: Host, spec: 'all' | readonly string[], underlay: 'v4' | 'v6' | undefined): { members: Member[]; family: 4 | 6 } {
  const nodes = repo.listNodes(host.db);
  const self = { name: host.self.nodename, ip4: host.self.ip4, ip6: host.self.ip6 };
  let chosen: { name: string; ip4: string | null; ip6: string | null }[];
  if (spec === 'all') {
    chosen = [self, ...nodes];
  } else {
    chosen = spec.map((ref) => {
      if (ref === self.name || ref === self.ip4 || ref === self.ip6) return self;
      const n = repo.findNode(host.db, ref);
      if (!n) throw new UserError(`unknown node_member ${v.shown(ref)}: known nodes are ${[self.name, ...nodes.map((x) => x.name)].join(', ')} (add it with meshvpc node mode=add)`, 'not_found');
      return n;
    });
    if (!chosen.includes(self)) throw new UserError(`node_member must include this host (${self.name}): a VPC is defined from one of its members`);
  }
  const family: 4 | 6 = underlay === 'v4' ? 4 : underlay === 'v6' ? 6 : chosen.every((c) => c.ip6) ? 6 : 4;
  const members = [...new Map(chosen.map((c) => [c.name, c])).values()].map((c) => {
    const addr = family === 6 ? c.ip6 : c.ip4;
    if (!addr) throw new UserError(`node ${c.name} has no IPv${family} address for an IPv${family} underlay`);
    return { node: c.name, underlay: addr };
  });
  return { members: members.sort((a, b) => (a.node < b.node ? -1 : 1)), family };
}

function defineVpc(host: Host, name: string, d: Definition): VpcDef {
  if (d.peer_network === undefined) throw new UserError('missing peer_network=: the network for tunnel endpoints, e.g. peer_network=10.100.0.0/24');
  const net = v.network(d.peer_network, 'peer_network');
  if (d.node_member === undefined) throw new UserError('missing node_member=: all, or a comma separated list of nodes');
  const { members, family } = resolveMembers(host, d.node_member, d.underlay);
  checkPeerNetwork(net);
  checkPeerNetworkAgainstUnderlay(net, members);
  checkPeerNetworkAgainstOthers(
    net,
    repo.listVpcs(host.db).filter((o) => o.name !== name).map((o) => ({ name: o.name, net: v.network(o.peerNetwork, 'peer_network') })),
  );
  const encrypt = d.encrypt ?? 'none';
  if (encrypt === 'wireguard' && d.firewall === false) {
    throw new UserError('invalid firewall=0 with encrypt=wireguard: an encrypted VPC needs the firewall (it drops cleartext VXLAN for the VPC and opens WireGuard to members only)');
  }
  // Fail now rather than at init_peers when the network cannot hold the pairs.
  allocatePeerMap({ members: members.map((x) => x.node), network: net, existing: [], takenVnis: new Set(), sealed: encrypt === 'wireguard' });
  const policy = policyFrom(d, { quota: NO_QUOTA, guestNetwork: null }, v.cidrText(net));
  return { name, peerNetwork: v.cidrText(net), family, mtu: d.mtu ?? null, firewall: d.firewall ?? true, members, ...policy, encrypt, fdb: d.fdb ?? 'control' };
}

export interface InitResult {
  readonly node: string;
  readonly dryrun: boolean;
  readonly vpc: VpcDef;
}

export async function init(host: Host, input: Named & Definition): Promise<InitResult> {
  const name = input.vpc_name;
  if (repo.getVpc(host.db, name)) throw new UserError(`VPC ${name} already exists on ${host.self.nodename} (meshvpc vpc mode=list)`, 'conflict');
  const def = defineVpc(host, name, input);
  // The names it will take here (the bridge) must be free or meshvpc's before it is stored.
  await preflight(host, { ...def, pairs: [] }, {});
  const exists = (): UserError => new UserError(`VPC ${name} already exists on ${host.self.nodename} (meshvpc vpc mode=list)`, 'conflict');
  // Asked again where it is stored: a server may be defining the same name twice at once.
  // (No lock row: a refused init writes nothing at all, not even on a full disk.)
  if (!input.dryrun) {
    atomically(host.db, () => {
      if (repo.getVpc(host.db, name)) throw exists();
      repo.putVpc(host.db, def);
    });
  }
  return { node: host.self.nodename, dryrun: input.dryrun ?? false, vpc: def };
}

export function initPeers(host: Host, input: Named): Promise<AllocateResult> {
  const vpc = requireVpc(host, input.vpc_name);
  return clusterLocked(host, vpc.name, 'vpc mode=init_peers', input.dryrun, () => allocate(host, vpc, input.dryrun ?? false));
}

export function syncVpc(host: Host, input: Named & { readonly force?: boolean }, events: (o: SyncOutcome) => void): Promise<SyncResult> {
  requireVpc(host, input.vpc_name);
  return clusterLocked(host, input.vpc_name, 'vpc mode=sync', input.dryrun, () => sync(host, input.vpc_name, input.force ?? false, input.dryrun ?? false, events));
}

export type LayerMode = 'init_vxlan' | 'init_bridge' | 'destroy_vxlan' | 'destroy_bridge' | 'apply' | 'down' | 'remove';

/** This host's own part: one layer on or off, reconcile, take down, forget. */
export async function local(host: Host, mode: LayerMode, input: Named & { readonly bridge_ips?: readonly Cidr[] }): Promise<ApplyResult> {
  const name = input.vpc_name;
  const vpc = requireVpc(host, name);
  const bridgeIps = input.bridge_ips?.map((c) => {
    checkSegmentAddress(checkHostAddress(c, 'bridge_ips'), 'bridge_ips', vpc);
    return v.cidrText(c);
  });
  const dryrun = input.dryrun ?? false;
  switch (mode) {
    case 'init_vxlan':
      return reconcile(host, name, layersChange(['vxlan']), dryrun);
    case 'init_bridge':
      return reconcile(host, name, { ...layersChange(['bridge']), ...(bridgeIps ? { bridgeIps } : {}) }, dryrun);
    case 'destroy_vxlan':
      return reconcile(host, name, { vxlan: false }, dryrun);
    case 'destroy_bridge':
      return reconcile(host, name, { bridge: false }, dryrun);
    case 'apply': {
      const applied = await reconcile(host, name, {}, dryrun);
      // Run by hand or at boot: every member hears this host's guests again and answers with
      // theirs, since changes made while this host was away did not reach it.
      if (!dryrun) await tellMembersOf(host, name, true);
      return applied;
    }
    case 'down':
      return down(host, name, dryrun);
    case 'remove':
      return forget(host, name, dryrun);
  }
}

export interface ClusterInput extends Named {
  readonly concurrency?: number;
}

/** deploy either defines a VPC (node_member=, peer_network=) or repeats an existing one's definition. */
function deployDefinition(host: Host, name: string, d: Definition): VpcWithMap {
  return definitionFor(host, name, d, repo.getVpc(host.db, name));
}

/** The definition a deploy asks for, against what is stored (here, or in the cluster's store). */
function definitionFor(host: Host, name: string, d: Definition, stored: VpcWithMap | null): VpcWithMap {
  if (!stored && d.peer_network === undefined) {
    throw new UserError(`no VPC named ${name} here: give node_member= and peer_network= to define it, or run mode=init first`, 'not_found');
  }
  // A new definition is checked in full here, before the lock is written.
  if (!stored) return { ...defineVpc(host, name, d), pairs: [] };
  const asked = d.peer_network !== undefined ? defineVpc(host, name, d) : null;
  const same = (x: VpcDef): boolean =>
    x.peerNetwork === stored.peerNetwork && x.family === stored.family && x.mtu === stored.mtu && x.firewall === stored.firewall &&
    (x.encrypt ?? 'none') === (stored.encrypt ?? 'none') &&
    (d.fdb === undefined || d.fdb === (stored.fdb ?? 'learn')) &&
    x.members.map((m) => m.node).join() === stored.members.map((m) => m.node).join();
  if (asked && !same(asked)) {
    throw new UserError(`${name} already exists with another definition (meshvpc vpc mode=list); change members with mode=join/leave, or destroy it first`, 'conflict');
  }
  if (givesPolicy(d) && JSON.stringify(policyFrom(d, policyOf(stored), stored.peerNetwork)) !== JSON.stringify(policyOf(stored))) {
    throw new UserError(`${name} already exists with other quotas or guest network (${describeQuota(policyOf(stored).quota)}); change them with meshvpc vpc mode=set vpc_name=${name} ...`, 'conflict');
  }
  return stored;
}

export interface SetResult {
  readonly vpc: string;
  readonly dryrun: boolean;
  readonly before: Policy;
  readonly after: Policy;
  readonly encryptBefore: Encryption;
  readonly encryptAfter: Encryption;
  /** Every other member's outcome; an older member that keeps no policy is named. */
  readonly hosts: readonly SyncOutcome[];
  readonly ok: boolean;
}

/** A member's part in a set that changed encryption (a convergence), told as a sync outcome. */
const asSynced = (h: HostOutcome): SyncOutcome => ({ host: h.host, ok: h.ok, result: h.ok ? `applied, ${h.changes ?? 0} change${h.changes === 1 ? '' : 's'}` : null, error: h.error, kind: h.kind, seconds: h.seconds });

/**
 * vpc mode=set: change the policy here, then on every member (each accepts it
 * from a member only). A change of encryption re-allocates the seal blocks
 * and re-applies every member (a convergence, as deploy), since each
 * tunnel's endpoints move into or out of WireGuard.
 */
export async function setPolicy(host: Host, input: Named & PolicyInput & { readonly force?: boolean; readonly encrypt?: Encryption }, events: (o: SyncOutcome) => void): Promise<SetResult> {
  const name = input.vpc_name;
  const store = await storeClient(host);
  if (store) {
    try {
      return await setInStore(host, store, input, events);
    } finally {
      store.close();
    }
  }
  const check = (): { vpc: VpcWithMap; after: Policy; encrypt: Encryption } => {
    const vpc = requireVpc(host, name);
    if (!vpc.members.some((m) => m.node === host.self.nodename)) throw new UserError(`${host.self.nodename} is not a member of ${name}: only a member may change it`, 'conflict');
    if (!givesPolicy(input) && input.encrypt === undefined) throw new UserError(`vpc mode=set needs something to change: ${[...POLICY_KEYS, 'encrypt'].map((k) => `${k}=`).join(', ')}`);
    const encrypt = input.encrypt ?? vpc.encrypt ?? 'none';
    if (encrypt === 'wireguard' && !vpc.firewall) throw new UserError(`invalid encrypt=wireguard for ${name}: it has firewall=0, and an encrypted VPC needs the firewall`);
    // The network must hold a second block per pair before anything changes.
    if (encrypt === 'wireguard') allocatePeerMap({ members: vpc.members.map((m) => m.node), network: v.network(vpc.peerNetwork, 'peer_network'), existing: vpc.pairs, takenVnis: repo.vnisOutside(host.db, name), sealed: true });
    return { vpc, after: givesPolicy(input) ? policyFrom(input, policyOf(vpc), vpc.peerNetwork) : policyOf(vpc), encrypt };
  };
  const first = check();
  const encryptBefore = first.vpc.encrypt ?? 'none';
  if (input.dryrun) return ({ vpc: name, dryrun: true, before: policyOf(first.vpc), after: first.after, encryptBefore, encryptAfter: first.encrypt, hosts: [], ok: true });
  return clusterLocked(host, name, 'vpc mode=set', false, async () => {
    const { vpc, after, encrypt } = check();
    const before = vpc.encrypt ?? 'none';
    const base = { vpc: name, dryrun: false, before: policyOf(vpc), after, encryptBefore: before, encryptAfter: encrypt };
    if (encrypt !== before) {
      // Stored here by the convergence's own apply, after every member answered with a key: a
      // refusal (an older member, say) leaves the VPC as it was.
      const next = { ...vpc, ...after, encrypt };
      const self = host.self.nodename;
      const result = await converge(host, next, { dryrun: false, limit: DEFAULT_CONCURRENCY, leaving: [], policy: true }, (e) => {
        if (e.type === 'host' && e.outcome.host !== self) events(asSynced(e.outcome));
      });
      return { ...base, hosts: result.hosts.filter((h) => h.host !== self).map(asSynced), ok: result.ok };
    }
    atomically(host.db, () => repo.putVpc(host.db, { ...vpc, ...after }));
    const synced = await sync(host, name, input.force ?? false, false, events, true);
    return { ...base, hosts: synced.hosts, ok: synced.ok };
  });
}

/**
 * vpc mode=set with backend=etcd: the new quotas or guest network go into the
 * store's definition (under the VPC's lock, so no admission decides on the
 * old one after it is written); the members' agents take it, and this
 * follows them as deploy does.
 */
async function setInStore(host: Host, store: EtcdClient, input: Named & PolicyInput & { readonly encrypt?: Encryption }, events: (o: SyncOutcome) => void): Promise<SetResult> {
  const name = input.vpc_name;
  const self = host.self.nodename;
  if (!givesPolicy(input) && input.encrypt === undefined) throw new UserError(`vpc mode=set needs something to change: ${[...POLICY_KEYS, 'encrypt'].map((k) => `${k}=`).join(', ')}`);
  let before: VpcWithMap | null = null;
  const next = (stored: VpcWithMap | null): VpcWithMap => {
    if (!stored) throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
    if (!stored.members.some((m) => m.node === self)) throw new UserError(`${self} is not a member of ${name}: only a member may change it`, 'conflict');
    const encrypt = input.encrypt ?? stored.encrypt ?? 'none';
    if (encrypt === 'wireguard' && !stored.firewall) throw new UserError(`invalid encrypt=wireguard for ${name}: it has firewall=0, and an encrypted VPC needs the firewall`);
    before = stored;
    // A change of encryption is a new peer map (a seal block per pair, or none): the store's
    // allocation makes it, and every member's agent moves its tunnels into or out of WireGuard.
    return { ...stored, ...(givesPolicy(input) ? policyFrom(input, policyOf(stored), stored.peerNetwork) : {}), encrypt };
  };
  const { convergeInStore, convergeTimeoutMs } = await import('./store-converge.js');
  const result = await convergeInStore(store, { name, next, leaving: [], dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: self, what: 'vpc mode=set', trust: trustedBy(host, name) }, (e) => {
    if (e.type === 'host' && e.outcome.host !== self) events(asSynced(e.outcome));
  });
  const was = before as VpcWithMap | null;
  if (!was) throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
  const encrypt = was.encrypt ?? 'none';
  const hosts = result.hosts.filter((h) => h.host !== self);
  const mine = result.hosts.find((h) => h.host === self);
  const after = givesPolicy(input) ? policyFrom(input, policyOf(was), was.peerNetwork) : policyOf(was);
  return { vpc: name, dryrun: result.dryrun, before: policyOf(was), after, encryptBefore: encrypt, encryptAfter: input.encrypt ?? encrypt, hosts: hosts.map(asSynced), ok: result.ok && (mine?.ok ?? true) };
}

export async function deploy(host: Host, input: ClusterInput & Definition & { readonly full?: boolean }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  const name = input.vpc_name;
  const store = await storeClient(host);
  if (store) {
    // backend=etcd: the desired state goes into the store; the members' agents apply it.
    const { convergeInStore, convergeTimeoutMs } = await import('./store-converge.js');
    events({ type: 'accepted', vpc: name });
    try {
      return await convergeInStore(store, { name, next: (stored) => definitionFor(host, name, input, stored), leaving: [], dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: host.self.nodename, what: 'vpc mode=deploy', trust: trustedBy(host, name) }, events);
    } finally {
      store.close();
    }
  }
  deployDefinition(host, name, input);
  return await clusterLocked(host, name, 'vpc mode=deploy', input.dryrun, async () => {
    // Read again under the lock: a deploy that ran meanwhile may have stored it.
    const stored = repo.getVpc(host.db, name);
    const vpc = stored ?? deployDefinition(host, name, input);
    // A new VPC is stored only once every member has checked it (converge does both).
    const newTo = new Set(stored === null ? vpc.members.map((m) => m.node) : []);
    return converge(host, vpc, { dryrun: input.dryrun ?? false, limit: input.concurrency ?? DEFAULT_CONCURRENCY, leaving: [], newTo, full: input.full ?? false }, events);
  }, events);
}

/**
 * join: add hosts to a running VPC; only their pairs are allocated and only
 * their tunnels created. leave: remove hosts; their pairs are freed, their
 * tunnels removed on every other member, and they forget the VPC.
 */
interface MemberChange {
  readonly next: VpcWithMap;
  readonly leaving: NodeRecord[];
}

/** The VPC after a join or leave; every refusal (unknown node, not a member, too small) happens here. */
function memberChange(host: Host, vpc: VpcWithMap, mode: 'join' | 'leave', refs: readonly string[]): MemberChange {
  const name = vpc.name;
  const self = host.self.nodename;
  const nodes = refs.map((ref) => {
    if (ref === self || ref === host.self.ip4 || ref === host.self.ip6) return null;
    const n = repo.findNode(host.db, ref);
    if (!n) throw new UserError(`unknown node ${v.shown(ref)}: add it first with meshvpc node mode=add node=ADDRESS`, 'not_found');
    return n;
  });
  const names = nodes.map((n) => n?.name ?? self);
  let members: Member[];
  if (mode === 'join') {
    const already = names.filter((n) => vpc.members.some((m) => m.node === n));
    if (already.length > 0) throw new UserError(`${already.join(', ')} already ${already.length === 1 ? 'is a member' : 'are members'} of ${name}`, 'conflict');
    const added = nodes.map((n) => {
      const addr = n ? (vpc.family === 6 ? n.ip6 : n.ip4) : vpc.family === 6 ? host.self.ip6 : host.self.ip4;
      if (!addr) throw new UserError(`node ${n?.name ?? self} has no IPv${vpc.family} address for ${name}'s IPv${vpc.family} underlay`);
      return { node: n?.name ?? self, underlay: addr };
    });
    members = [...vpc.members, ...added].sort((x, y) => (x.node < y.node ? -1 : 1));
  } else {
    const missing = names.filter((n) => !vpc.members.some((m) => m.node === n));
    if (missing.length > 0) throw new UserError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not a member of ${name}`);
    members = vpc.members.filter((m) => !names.includes(m.node));
  }
  // Capacity is checked before anything is stored.
  allocatePeerMap({ members: members.map((m) => m.node), network: v.network(vpc.peerNetwork, 'peer_network'), existing: vpc.pairs, takenVnis: repo.vnisOutside(host.db, name), sealed: vpc.encrypt === 'wireguard' });
  return { next: { ...vpc, members }, leaving: mode === 'leave' ? nodes.filter((n) => n !== null) : [] };
}

async function changeMembers(host: Host, name: string, mode: 'join' | 'leave', refs: readonly string[], input: ClusterInput, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  const before = requireVpc(host, name);
  const { next, leaving } = memberChange(host, before, mode, refs);
  // Joining hosts check the VPC before anyone stores the new membership; this
  // host stores it when it applies (or forgets it, if it is the one leaving).
  const newTo = new Set(next.members.map((m) => m.node).filter((n) => !before.members.some((m) => m.node === n)));
  return converge(host, next, { dryrun: input.dryrun ?? false, limit: input.concurrency ?? DEFAULT_CONCURRENCY, leaving, newTo, verb: mode }, events);
}

export async function members(host: Host, mode: 'join' | 'leave', input: ClusterInput & { readonly node: readonly string[] }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  const name = input.vpc_name;
  const store = await storeClient(host);
  if (store) {
    const { convergeInStore, convergeTimeoutMs } = await import('./store-converge.js');
    let leaving: string[] = [];
    const next = (stored: VpcWithMap | null): VpcWithMap => {
      if (!stored) throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
      const changed = memberChange(host, stored, mode, input.node).next;
      leaving = stored.members.map((m) => m.node).filter((n) => !changed.members.some((m) => m.node === n));
      return changed;
    };
    events({ type: 'accepted', vpc: name });
    // `leaving` is known once the store's copy was read: the transaction's first step.
    const input2 = { name, next, get leaving(): string[] { return leaving; }, dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: host.self.nodename, what: `vpc mode=${mode}`, trust: trustedBy(host, name) };
    try {
      return await convergeInStore(store, input2, events);
    } finally {
      store.close();
    }
  }
  // A refusal (unknown node, not a member) comes before the lock is written.
  memberChange(host, requireVpc(host, name), mode, input.node);
  return await clusterLocked(host, name, `vpc mode=${mode}`, input.dryrun, () => changeMembers(host, name, mode, input.node, input, events), events);
}

/** Take a host out of a VPC (for node mode=remove), holding the VPC's cluster lock. */
export function leaveVpc(host: Host, name: string, node: string, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  return members(host, 'leave', { vpc_name: name, node: [node] }, events);
}

export interface HostStatus {
  readonly node: string;
  readonly ok: boolean;
  readonly error: string | null;
  readonly tunnels: readonly TunnelStatus[];
}

export interface StatusResult {
  readonly vpc: string;
  /** Every host answered and every tunnel is present and up. */
  readonly ok: boolean;
  readonly hosts: readonly HostStatus[];
}

export async function status(host: Host, input: Named, pool?: Peers): Promise<StatusResult> {
  const results = await clusterStatus(host, input.vpc_name, pool);
  const hosts = results.map((r): HostStatus => (r.ok ? { node: r.key, ok: true, error: null, tunnels: r.value } : { node: r.key, ok: false, error: r.error, tunnels: [] }));
  return { vpc: input.vpc_name, ok: hosts.every((h) => h.ok && h.tunnels.every((t) => t.present && t.up)), hosts };
}

export async function teardown(host: Host, mode: 'collapse' | 'destroy', input: Named & { readonly force?: boolean }, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
  const store = await storeClient(host);
  if (store) {
    if (input.dryrun) throw new UserError(`vpc mode=${mode} dryrun=1 is not available with backend=etcd yet`);
    if (mode === 'collapse') {
      try {
        return await collapseInStore(host, store, input.vpc_name, events);
      } finally {
        store.close();
      }
    }
    const { destroyInStore, convergeTimeoutMs } = await import('./store-converge.js');
    const started = Date.now();
    const self = host.self.nodename;
    events({ type: 'checking', vpc: input.vpc_name, peers: 0 });
    const r = await destroyInStore(store, input.vpc_name, convergeTimeoutMs(), self, trustedBy(host, input.vpc_name)).finally(() => store.close());
    const secs = Number(((Date.now() - started) / 1000).toFixed(2));
    const hosts = r.members.filter((m) => m !== self).map((m) => ({ host: m, ok: r.gone.includes(m), error: r.gone.includes(m) ? null : 'its agent did not take the VPC down in time (it does when it runs)', changes: null, seconds: secs }));
    for (const o of hosts) events({ type: 'torn_down', outcome: o });
    return { vpc: input.vpc_name, mode, ok: r.pending.length === 0, dryrun: false, hosts, self: { node: self, ops: [], commands: [], applied: true }, done: r.gone.length, members: r.members.length };
  }
  requireVpc(host, input.vpc_name);
  return await clusterLocked(host, input.vpc_name, `vpc mode=${mode}`, input.dryrun, () => teardownAll(host, input.vpc_name, mode, input.force ?? false, input.dryrun ?? false, events), events);
}

/**
 * collapse with backend=etcd: the definition is written back as collapsed
 * (under the VPC's lock, as any change); every member's agent takes its
 * network down and keeps the definition, which this follows as deploy does.
 * A later deploy writes it back as it was, and the agents bring it up.
 */
async function collapseInStore(host: Host, store: EtcdClient, name: string, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
  const { convergeInStore, convergeTimeoutMs } = await import('./store-converge.js');
  const self = host.self.nodename;
  events({ type: 'checking', vpc: name, peers: 0 });
  const next = (stored: VpcWithMap | null): VpcWithMap => {
    if (!stored) throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
    if (!stored.members.some((m) => m.node === self)) throw new UserError(`${self} is not a member of ${name}: only a member may collapse it`, 'conflict');
    return stored;
  };
  const r = await convergeInStore(store, { name, next, leaving: [], dryrun: false, timeoutMs: convergeTimeoutMs(), by: self, what: 'vpc mode=collapse', trust: trustedBy(host, name), collapsed: true }, () => undefined);
  const outcome = (h: HostOutcome): TeardownOutcome => ({ host: h.host, ok: h.ok, error: h.error, changes: h.changes, seconds: Number(h.seconds.toFixed(2)) });
  const hosts = r.hosts.filter((h) => h.host !== self).map(outcome);
  for (const o of hosts) events({ type: 'torn_down', outcome: o });
  const mine = r.hosts.find((h) => h.host === self);
  return { vpc: name, mode: 'collapse', ok: r.ok, dryrun: false, hosts, self: { node: self, ops: [], commands: [], applied: mine?.ok ?? false }, done: r.hosts.filter((h) => h.ok).length, members: r.members };
}

export function bootFiles(host: Host, input: Named): Promise<InitRcResult> {
  return initRc(host, input.vpc_name, input.dryrun ?? false);
}

