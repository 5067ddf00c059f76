/**
 * The `vpc` operations: every mode of CBSD's vpc, plus join/leave/apply/down/
 * status/show for a living cluster. Each takes checked input (catalog.ts) and
 * returns data; progress goes to the caller's sink.
 */
import type { Encryption } from '../core/seal.js';
import { tellMembersOf } from './guest-reports.js';
import { withClusterStore } from './cluster-store.js';
import type { FdbMode } from '../core/fdb.js';
import { atomically } from '../store/tx.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { allocatePeerMap } from '../core/peermap.js';
import { givesPolicy, policyFrom, policyOf, POLICY_KEYS, type Policy, type PolicyInput } from './vpc-policy.js';
import { describeQuota, NO_QUOTA } from '../core/quota.js';
import type { Member, NodeRecord, TunnelStatus, VpcDef, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { hostLocks } from '../store/lock.js';
import type { Host } from './host.js';
import { down, forget, layersChange, preflight, reconcile, type ApplyResult } from './vpc-local.js';
import { requireVpc } from './vpc-list.js';
import {
  allocate,
  clusterStatus,
  sync,
  type AllocateResult,
  type ConvergeEvent,
  type ConvergeResult,
  type HostOutcome,
  type SyncOutcome,
  type SyncResult,
  type TeardownEvent,
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
export function clusterLocked<T>(host: Host, name: string, what: string, dryrun: boolean | undefined, fn: () => Promise<T>, accepted?: (e: { type: 'accepted'; vpc: string }) => void): Promise<T> {
  accepted?.({ type: 'accepted', vpc: name });
  return dryrun ? fn() : hostLocks(host.db).withLock(`op:${name}`, what, fn);
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
export function deployDefinition(host: Host, name: string, d: Definition): VpcWithMap {
  return definitionFor(host, name, d, repo.getVpc(host.db, name));
}

/** The definition a deploy asks for, against what is stored (here, or in the cluster's store). */
export function definitionFor(host: Host, name: string, d: Definition, stored: VpcWithMap | null): VpcWithMap {
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
export const asSynced = (h: HostOutcome): SyncOutcome => ({ host: h.host, ok: h.ok, result: h.ok ? `applied, ${h.changes ?? 0} change${h.changes === 1 ? '' : 's'}` : null, error: h.error, kind: h.kind, seconds: h.seconds });

/** What vpc mode=set takes. */
export type SetInput = Named & PolicyInput & { readonly force?: boolean; readonly encrypt?: Encryption };

/** What vpc mode=set refuses on either backend before anything changes; the encryption it asks for. */
export function checkSet(input: SetInput, vpc: VpcWithMap, self: string): Encryption {
  if (!vpc.members.some((m) => m.node === self)) throw new UserError(`${self} is not a member of ${vpc.name}: only a member may change it`, 'conflict');
  if (!givesPolicy(input) && input.encrypt === undefined) throw new UserError(`vpc mode=set needs something to change: ${[...POLICY_KEYS, 'encrypt'].map((k) => `${k}=`).join(', ')}`);
  const encrypt = input.encrypt ?? vpc.encrypt ?? 'none';
  if (encrypt === 'wireguard' && !vpc.firewall) throw new UserError(`invalid encrypt=wireguard for ${vpc.name}: it has firewall=0, and an encrypted VPC needs the firewall`);
  return encrypt;
}

/** vpc mode=set: quotas, guest network or encryption, on every member (cluster-store-*.ts). */
export function setPolicy(host: Host, input: SetInput, events: (o: SyncOutcome) => void): Promise<SetResult> {
  return withClusterStore(host, (store) => store.setPolicy(input, events));
}

/** vpc mode=deploy: define a VPC (or repeat an existing one's definition) on every member (cluster-store-*.ts). */
export function deploy(host: Host, input: ClusterInput & Definition & { readonly full?: boolean }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  return withClusterStore(host, (store) => store.deploy(input, events));
}

/** A join or leave: the VPC after it, and the hosts leaving. */
interface MemberChange {
  readonly next: VpcWithMap;
  readonly leaving: NodeRecord[];
}

/** The VPC after a join or leave; every refusal (unknown node, not a member, too small) happens here. */
export function memberChange(host: Host, vpc: VpcWithMap, mode: 'join' | 'leave', refs: readonly string[]): MemberChange {
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

/** vpc mode=join|leave (cluster-store-*.ts). */
export function members(host: Host, mode: 'join' | 'leave', input: ClusterInput & { readonly node: readonly string[] }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
  return withClusterStore(host, (store) => store.members(mode, input, events));
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

/** vpc mode=collapse|destroy (cluster-store-*.ts). */
export function teardown(host: Host, mode: 'collapse' | 'destroy', input: Named & { readonly force?: boolean }, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
  return withClusterStore(host, (store) => store.teardown(mode, input, events));
}

export function bootFiles(host: Host, input: Named): Promise<InitRcResult> {
  return initRc(host, input.vpc_name, input.dryrun ?? false);
}

