/**
 * What one host does for a VPC, whether the request came from its own CLI or
 * from a peer over SSH: accept a definition, reconcile its interfaces with it,
 * report status, forget it.
 */
import { policyOf } from './vpc-policy.js';
import { applyDigest, appliedState, linkFingerprint, type AppliedState } from '../core/applied.js';
import { describeQuota } from '../core/quota.js';
import { nicsOf } from '../core/guests.js';
import { atomically, exclusively } from '../store/tx.js';
import { UserError } from '../core/errors.js';
import { plan, planTeardown } from '../core/planner.js';
import { buildHostSpec, guestAlias, specNames, tunnelNameVni, type HostSpec } from '../core/spec.js';
import { pairKey, type Pair } from '../core/peermap.js';
import type { Op } from '../core/ops.js';
import type { TunnelStatus, VpcLocal, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { requireVpc } from './vpc-list.js';
import type { Layer } from '../cluster/protocol.js';
import { withLock } from '../store/lock.js';
import { firewallPolicy } from '../core/firewall.js';
import { checkPeerNetworkAgainstOthers } from '../core/addrules.js';
import { network } from '../core/validate.js';
import type { UsedVni } from '../cluster/protocol.js';
import type { Observed, ObservedLink } from '../core/observed.js';
import { activeVpcs, reconcileSeal, sealState, selfSeal } from './seal.js';
import { checkSealName, WG_IFNAME } from '../core/seal.js';
import { VXLAN_OVERHEAD } from '../core/mtu.js';
import { hostLinkMtus, linkMtuOf, type LinkMtus } from '../core/mtu-claims.js';
import { reconcileFdb, type FdbApplied } from './fdb.js';
import type { PortFlags } from '../core/fdb.js';


export interface ApplyResult {
  readonly node: string;
  readonly ops: readonly Op[];
  readonly commands: readonly string[][];
  readonly applied: boolean;
  /** The implementation of a WireGuard link this apply made (the deployer warns about userspace). */
  readonly sealImpl?: string | null;
  /** Control-plane FDB entries, neighbours and port flags set or removed (fdb=control); absent from a 0.4 host. */
  readonly fdbOps?: number;
  /** Why the control-plane FDB could not be brought in line (the network was); the next change or apply tries again. */
  readonly fdbError?: string;
}

export { applyChanges } from '../core/ops.js';

/** `observed`: the kernel as the caller just read it (for this host's own underlay link). */
/** `mtus`: measure the path MTUs (false: names and addresses only, which is all the control-plane FDB reads). */
async function desiredSpec(host: Host, vpc: VpcWithMap, local: VpcLocal, observed: Observed, mtus = true): Promise<HostSpec> {
  const self = host.self.nodename;
  const isMember = vpc.members.some((m) => m.node === self);
  const underlay = new Map(vpc.members.map((m) => [m.node, m.underlay]));
  const layers = isMember ? local : { vxlan: false, bridge: false };
  const underlayMtu = new Map<string, number>();
  if (mtus && layers.vxlan && vpc.mtu === null) {
    const peers = vpc.pairs.flatMap((p) => (p.a === self ? [p.b] : p.b === self ? [p.a] : []));
    // All at once where the driver can (one process for 63 routes instead of 63).
    const addrs = peers.flatMap((peer) => underlay.get(peer) ?? []);
    const known = host.driver.underlayMtus ? await host.driver.underlayMtus(addrs) : new Map<string, number>();
    await Promise.all(
      peers.map(async (peer) => {
        const addr = underlay.get(peer);
        if (addr) underlayMtu.set(peer, known.get(addr) ?? (await host.driver.underlayMtu(addr)));
      }),
    );
  }
  return buildHostSpec({
    vpc: vpc.name,
    self,
    pairs: vpc.pairs,
    family: vpc.family,
    underlay,
    underlayMtu,
    mtu: vpc.mtu,
    mtuCaps: sealedCaps(vpc, repo.getMtuCaps(host.db, vpc.name), observed),
    // What each peer's link takes in, and this host's own link: routes see neither (core/mtu-claims.ts).
    ownLinkMtu: linkMtuOf(observed.values(), underlay.get(self) ?? ''),
    peerLinkMtu: new Map(vpc.members.flatMap((m) => (m.mtu === undefined ? [] : [[m.node, m.mtu] as const]))),
    layers,
    bridgeIps: local.bridgeIps,
    owned: local.owned,
    // Every guest's port on this VPC's bridge (containers' pairs, VMs' taps): rejoined when the bridge is rebuilt.
    guests: repo.listGuests(host.db).flatMap((g) => nicsOf(g).filter((n) => n.vpc === vpc.name).map((n) => ({ name: n.hostIf, alias: guestAlias(g.name) }))),
    peerNetwork: vpc.peerNetwork,
    encrypt: vpc.encrypt ?? 'none',
  });
}

/**
 * A sealed tunnel's packets cross the one WireGuard link, whose MTU is the
 * smallest over all its peers (and both underlay families): no tunnel of an
 * encrypted VPC may claim more than that link carries.
 */
function sealedCaps(vpc: VpcWithMap, caps: ReadonlyMap<string, number>, observed: Observed): ReadonlyMap<string, number> {
  if (vpc.encrypt !== 'wireguard') return caps;
  const link = observed.get(WG_IFNAME);
  if (!link) return caps;
  const most = link.mtu - VXLAN_OVERHEAD[vpc.peerNetwork.includes(':') ? 6 : 4];
  const out = new Map(caps);
  for (const p of vpc.pairs) for (const peer of [p.a, p.b]) out.set(peer, Math.min(out.get(peer) ?? Number.POSITIVE_INFINITY, most));
  return out;
}

/**
 * Host-wide: accept VXLAN only as the (peer address, VXLAN id) pairs of this
 * host's tunnels. `about`: one VPC as it is about to be (its definition and
 * whether its tunnels are on), for the rules an encrypted VPC needs before
 * its tunnels exist.
 */
export async function refreshFirewall(host: Host, about?: { readonly vpc: VpcWithMap; readonly vxlan: boolean }): Promise<void> {
  const fw = host.driver.firewall;
  if (!fw) return;
  const vpcs = [
    ...repo.listVpcs(host.db).filter((def) => def.name !== about?.vpc.name).map((def) => ({ def, active: repo.getLocal(host.db, def.name).vxlan })),
    ...(about ? [{ def: about.vpc, active: about.vxlan }] : []),
  ];
  const policy = firewallPolicy(host.self.nodename, vpcs, selfSeal(host).port);
  try {
    await fw.apply(policy);
  } catch (e) {
    // No nft binary and nothing to enforce: there is nothing to remove either.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !policy.enforce && policy.sealed.length === 0) return;
    throw e;
  }
}

const applyLock = (name: string): string => `apply:${name}`;

/**
 * Reconcile this host's interfaces for a VPC with what it asked for. `change`
 * alters the request first (layers on or off, bridge addresses); dryrun plans
 * and changes nothing, not even the request.
 */
export async function reconcile(host: Host, name: string, change: Partial<VpcLocal> = {}, dryrun = false): Promise<ApplyResult> {
  // Plan once before the lock too: a refusal (a foreign name, an overlap) then writes not even a lock row.
  if (!dryrun) await reconcileLocked(host, name, change, true);
  return reconcileAccepted(host, name, change, dryrun);
}

/**
 * Reconcile a definition whose checks already ran (preflight before it was
 * accepted), or dry-run one this host has not stored (`offered`: a first
 * deploy with dryrun=1).
 */
export function reconcileAccepted(host: Host, name: string, change: Partial<VpcLocal>, dryrun: boolean, offered?: VpcWithMap, deployed?: Deployed): Promise<ApplyResult> {
  if (dryrun) return reconcileLocked(host, name, change, true, offered ?? requireVpc(host, name));
  requireVpc(host, name);
  return withLock(host.db, applyLock(name), 'apply', async () => {
    const result = await reconcileLocked(host, name, change, false);
    // Under the same lock: no other apply can come between the kernel read and the record.
    if (deployed) await rememberApplied(host, deployed.definition, deployed.layers);
    return result;
  }).then(async (applied) => {
    // Outside the lock: a member told now refreshes its own bridge, and may be telling this host at once.
    const { tellMembersOf } = await import('./guest-reports.js');
    await tellMembersOf(host, name);
    return applied;
  });
}

/** A deploy's apply: the definition (as the wire carried it) and layers it asked for, remembered once applied. */
export interface Deployed {
  readonly definition: VpcWithMap;
  readonly layers: readonly Layer[];
}

/** The plan for one VPC on this host as it is now; throws the planner's refusals (foreign names, overlaps). */
async function planHere(host: Host, vpc: VpcWithMap, local: VpcLocal): Promise<{ spec: HostSpec; ops: Op[]; observed: Observed }> {
  const observed = await host.driver.observe();
  const spec = await desiredSpec(host, vpc, local, observed);
  return { spec, ops: plan(spec, observed), observed };
}

async function reconcileLocked(host: Host, name: string, change: Partial<VpcLocal>, dryrun: boolean, offered?: VpcWithMap): Promise<ApplyResult> {
  const vpc = offered ?? requireVpc(host, name);
  if ((change.vxlan || change.bridge) && vpc.pairs.length === 0 && vpc.members.length > 1) {
    throw new UserError(`${name} has no peer map yet: run meshvpc vpc vpc_name=${name} mode=init_peers (and mode=sync) first`);
  }
  const local = { ...repo.getLocal(host.db, name), ...change };
  // The WireGuard link first: a sealed tunnel is made only once its link is up (see seal.ts).
  const member = vpc.members.some((m) => m.node === host.self.nodename);
  const sealOps = await reconcileSeal(host, activeVpcs(host, { vpc, vxlan: member && local.vxlan }), dryrun);
  const { spec, ops: vpcOps } = await planHere(host, vpc, local);
  const ops = [...sealOps, ...vpcOps];
  const commands = ops.flatMap((op) => host.driver.commandsFor(op));
  if (dryrun) {
    const fdb = await reconcileFdb(host, vpc, spec, true);
    return { node: host.self.nodename, ops, commands: [...commands, ...fdb.commands], applied: false, fdbOps: fdb.ops.length };
  }
  const keep = specNames(spec);
  // Record the request and every name we may create before touching the
  // kernel, so a crash half way leaves interfaces the next run knows are ours.
  repo.putLocal(host.db, name, { ...local, owned: [...new Set([...local.owned, ...keep])] });
  // An encrypted VPC's rules (its ids only through WireGuard, nothing to a seal address any other
  // way) are in place before its tunnels: if they cannot be, no sealed tunnel is made.
  const sealedFirst = vpc.encrypt === 'wireguard' && member && local.vxlan;
  if (sealedFirst) await refreshFirewall(host, { vpc, vxlan: true });
  await host.driver.apply(vpcOps);
  repo.putLocal(host.db, name, { ...local, owned: keep });
  // Otherwise after the tunnels; the rules above already are what this state needs.
  if (!sealedFirst) await refreshFirewall(host);
  // Entries name the tunnels and guest ports: they go in once those exist. They are the control
  // plane's: a failure there (a guest port gone mid-way) is said, not a failure of the network.
  let fdb: FdbApplied = { ops: [], commands: [], foreign: [] };
  let fdbError: string | null = null;
  try {
    fdb = await reconcileFdb(host, vpc, spec, false);
  } catch (e) {
    fdbError = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
  }
  const made = sealOps.some((o) => o.op === 'create_wireguard');
  return { node: host.self.nodename, ops, commands: [...commands, ...fdb.commands], applied: true, fdbOps: fdb.ops.length, ...(fdbError ? { fdbError } : {}), ...(made ? { sealImpl: (await host.driver.seal?.impl(WG_IFNAME)) ?? null } : {}) };
}

/**
 * Only the control-plane FDB of a VPC (fdb=control), after a guest came or
 * went here or a member reported its guests: the interfaces are left as they are.
 */
export async function refreshFdb(host: Host, name: string): Promise<FdbApplied | null> {
  if (!host.driver.fdb || !repo.getVpc(host.db, name)) return null;
  return withLock(host.db, applyLock(name), 'fdb', async () => {
    const vpc = requireVpc(host, name);
    // Per guest change and per report: no link listing, no route lookups (MTUs play no part here).
    const spec = await desiredSpec(host, vpc, repo.getLocal(host.db, name), new Map(), false);
    return reconcileFdb(host, vpc, spec, false);
  });
}

/**
 * Everything a definition would need here, checked before anything is stored:
 * the interface names it would take (both layers, whatever is asked now) are
 * free or meshvpc's, its peer network overlaps no subnet of this host.
 * Planning throws the refusal; nothing is applied.
 */
export async function preflight(host: Host, vpc: VpcWithMap, change: Partial<VpcLocal>): Promise<void> {
  let refusal: unknown = null;
  try {
    const { observed } = await planHere(host, vpc, { ...repo.getLocal(host.db, vpc.name), ...change, vxlan: true, bridge: true });
    if (vpc.encrypt === 'wireguard') {
      // Fail closed needs both: the WireGuard link and the rules that keep the VPC's ids inside it.
      if (!host.driver.seal || !host.driver.firewall) {
        throw new UserError(`encrypt=wireguard is not available on this ${host.driver.platform} host yet: meshvpc has no ${host.driver.seal ? 'firewall backend' : 'WireGuard driver'} here to keep the VPC's traffic inside WireGuard`);
      }
      checkSealName(observed);
    }
  } catch (e) {
    refusal = e;
  }
  // Read after the kernel: another VPC's tunnel exists only once its map is stored, so a tunnel
  // name seen taken by a VPC being applied right now shows here as the VXLAN id it is, which the
  // initiator allocates around, not as a foreign interface.
  checkAgainstOtherVpcs(host, vpc);
  if (refusal) throw refusal;
}

export interface HostFacts {
  /** VXLAN ids this host cannot give the VPC. */
  readonly usedVnis: UsedVni[];
  /** Links that could stand in the VPC's way (see Hello.links). */
  readonly links: ObservedLink[];
  /** The MTU of the links that hold this host's underlay addresses (see Hello.linkMtu). */
  readonly linkMtu: LinkMtus;
  /** What the last deploy applied here for the VPC and whether its links are still so (see Hello.applied); absent when unknown. */
  readonly applied?: AppliedState;
}

/**
 * What an initiator needs to know about this host before it allocates and
 * checks a VPC: the VXLAN ids it cannot give (other VPCs' ids, ids or tunnel
 * names held by interfaces that are not this VPC's), the links that could
 * stand in the VPC's way and the MTU of its own underlay links. One look at
 * the kernel serves all three.
 */
export async function hostFacts(host: Host, name: string): Promise<HostFacts> {
  const byVpc = repo.listVpcs(host.db).filter((x) => x.name !== name).flatMap((x) => x.pairs.map((p) => ({ vni: p.vni, by: `VPC ${x.name}` })));
  const local = repo.getLocal(host.db, name);
  const mine = new Set(local.owned);
  const observed = await host.driver.observe();
  const all = [...observed.values()];
  const others = all.filter((l) => !mine.has(l.name));
  const byLink = others.flatMap((l) => {
    const named = tunnelNameVni(l.name);
    return [
      ...(l.vxlan ? [{ vni: l.vxlan.vni, by: `interface ${l.name}` }] : []),
      ...(named !== null ? [{ vni: named, by: `interface ${l.name}` }] : []),
    ];
  });
  return {
    usedVnis: [...byVpc, ...byLink],
    links: others.filter((l) => l.name === name || l.name === WG_IFNAME || l.kind === 'vxlan' || l.addresses.length > 0),
    linkMtu: hostLinkMtus(all, host.self),
    ...withApplied(appliedState(repo.getApplied(host.db, name), observed, local.owned)),
  };
}

const withApplied = (a: AppliedState | null): { applied?: AppliedState } => (a === null ? {} : { applied: a });

/**
 * After a deploy's apply here (`def` with `layers`, accepted and reconciled):
 * remember its digest and the VPC's links as they now are, so the next
 * deploy of the same thing can leave this host alone (core/applied.ts). A
 * failure to remember costs only that: the next deploy applies again.
 */
async function rememberApplied(host: Host, def: VpcWithMap, layers: readonly Layer[]): Promise<void> {
  try {
    const observed = await host.driver.observe();
    const owned = repo.getLocal(host.db, def.name).owned;
    const record = { digest: applyDigest(def, host.self.nodename, layers), links: linkFingerprint(observed, owned) };
    atomically(host.db, () => repo.putApplied(host.db, def.name, record));
  } catch {
    // Nothing is lost: without a record the host is simply applied again.
  }
}

/** Another VPC on this host may not share the VXLAN ids or the tunnel address space. */
function checkAgainstOtherVpcs(host: Host, incoming: VpcWithMap): void {
  const others = repo.listVpcs(host.db).filter((x) => x.name !== incoming.name);
  checkPeerNetworkAgainstOthers(
    network(incoming.peerNetwork, 'peer_network'),
    others.map((o) => ({ name: o.name, net: network(o.peerNetwork, 'peer_network') })),
  );
  for (const p of incoming.pairs) {
    const other = others.find((o) => o.pairs.some((q) => q.vni === p.vni));
    if (other) throw new UserError(`VXLAN id ${p.vni} of ${incoming.name} is already used by ${other.name} on ${host.self.nodename}`, 'conflict', { vni: p.vni });
  }
}

export function layersChange(layers: readonly Layer[]): Partial<VpcLocal> {
  return {
    ...(layers.includes('vxlan') ? { vxlan: true } : {}),
    ...(layers.includes('bridge') ? { vxlan: true, bridge: true } : {}),
  };
}

/** Take the network down (both layers off) but keep the VPC. */
export function collapse(host: Host, name: string, dryrun = false): Promise<ApplyResult> {
  return reconcile(host, name, { vxlan: false, bridge: false }, dryrun);
}

/**
 * Remove this host's interfaces for a VPC but keep what it asked for, so a
 * later `apply` (at boot) brings them back: the stop half of a boot script.
 */
export async function down(host: Host, name: string, dryrun = false): Promise<ApplyResult> {
  const local = repo.getLocal(host.db, requireVpc(host, name).name);
  const ops = planTeardown(name, local.owned, await host.driver.observe());
  const commands = ops.flatMap((op) => host.driver.commandsFor(op));
  if (!dryrun) await withLock(host.db, applyLock(name), 'down', () => host.driver.apply(ops));
  return { node: host.self.nodename, ops, commands, applied: !dryrun };
}

/** Take the network down and delete the VPC from this host. */
export async function forget(host: Host, name: string, dryrun = false): Promise<ApplyResult> {
  const result = await collapse(host, name, dryrun);
  if (!dryrun) {
    await withLock(host.db, applyLock(name), 'forget', async () =>
      atomically(host.db, () => {
        repo.deleteVpc(host.db, name);
        repo.forgetReports(host.db, name);
      }),
    );
    await reconcileSeal(host, activeVpcs(host), false);
    await refreshFirewall(host);
  }
  return result;
}

function samePair(x: Pair, y: Pair): boolean {
  return x.vni === y.vni && x.slot === y.slot && x.addrA === y.addrA && x.addrB === y.addrB && x.prefix === y.prefix;
}

/**
 * Accept a VPC definition from a peer (`sync`). A host that ran its own `init`
 * with the same parameters takes the peer map; a different peer network, a
 * renumbered pair or a VXLAN id another VPC here uses is a conflict, which
 * `force` overrides (except the VNI clash, which would break the other VPC).
 */
export function accept(host: Host, incoming: VpcWithMap, force: boolean, renumber: readonly number[] = [], policy = false): 'created' | 'updated' | 'unchanged' {
  const db = host.db;
  return exclusively(db, (): 'created' | 'updated' | 'unchanged' => {
      const here = repo.getVpc(db, incoming.name);
      // Checked again inside the transaction: two deploys may race for one id.
      checkAgainstOtherVpcs(host, incoming);
      // Never lost by an older peer's definition (it knows no encryption), force or not.
      if (here?.encrypt === 'wireguard' && incoming.encrypt === undefined) {
        throw new UserError(`${incoming.name} is encrypted (encrypt=wireguard) on ${host.self.nodename}, and the definition offered comes from a meshvpc without encryption: upgrade that host first`, 'conflict');
      }
      if (here && !force) {
        const conflicts: string[] = [];
        if (here.peerNetwork !== incoming.peerNetwork) conflicts.push(`peer_network ${here.peerNetwork} here, ${incoming.peerNetwork} offered`);
        if (here.family !== incoming.family) conflicts.push(`underlay IPv${here.family} here, IPv${incoming.family} offered`);
        if (here.mtu !== incoming.mtu) conflicts.push(`mtu ${here.mtu ?? 'auto'} here, ${incoming.mtu ?? 'auto'} offered`);
        if (here.firewall !== incoming.firewall) conflicts.push(`firewall ${Number(here.firewall)} here, ${Number(incoming.firewall)} offered`);
        // Quotas and the guest network change only by vpc mode=set; a stale deploy must not undo one.
        if (!policy && incoming.quota !== undefined && JSON.stringify(here.quota) !== JSON.stringify(incoming.quota)) {
          conflicts.push(`quota ${describeQuota(policyOf(here).quota)} here, ${describeQuota(incoming.quota)} offered (vpc mode=set changes it)`);
        }
        if (!policy && incoming.encrypt !== undefined && (here.encrypt ?? 'none') !== incoming.encrypt) {
          conflicts.push(`encrypt ${here.encrypt ?? 'none'} here, ${incoming.encrypt} offered (vpc mode=set changes it)`);
        }
        // Not known here (a VPC kept from before 0.5): the member's word names it.
        if (incoming.fdb !== undefined && here.fdb !== undefined && here.fdb !== incoming.fdb) conflicts.push(`fdb ${here.fdb} here, ${incoming.fdb} offered`);
        if (!policy && incoming.guestNetwork !== undefined && JSON.stringify(here.guestNetwork) !== JSON.stringify(incoming.guestNetwork)) {
          conflicts.push(`guest_network ${here.guestNetwork?.network ?? 'none'} here, ${incoming.guestNetwork?.network ?? 'none'} offered (vpc mode=set changes it)`);
        }
        const mine = new Map(here.pairs.map((p) => [pairKey(p.a, p.b), p]));
        for (const p of incoming.pairs) {
          const old = mine.get(pairKey(p.a, p.b));
          // A pair the initiator moved off an id taken elsewhere (it never worked) may change.
          if (old && !samePair(old, p) && !renumber.includes(old.vni)) conflicts.push(`pair ${p.a}-${p.b} is VXLAN ${old.vni} here, ${p.vni} offered`);
        }
        if (conflicts.length > 0) {
          throw new UserError(`conflicting definition of ${incoming.name} on ${host.self.nodename}: ${conflicts.join('; ')} (force=1 overrides)`);
        }
      }
      // A definition from a 0.2 peer has no policy: the one stored here stays (repo.putVpc).
      const canonical = (x: VpcWithMap, keep: VpcWithMap): string =>
        JSON.stringify([x.name, x.peerNetwork, x.family, x.mtu, x.firewall, x.members, x.pairs, x.quota ?? keep.quota ?? null, x.guestNetwork === undefined ? (keep.guestNetwork ?? null) : x.guestNetwork, x.encrypt ?? keep.encrypt ?? 'none', x.fdb ?? keep.fdb ?? null]);
      const unchanged = here !== null && canonical(here, here) === canonical(incoming, here);
      if (unchanged) return 'unchanged';
      repo.putVpc(db, incoming);
      repo.putPairs(db, incoming.name, incoming.pairs);
      // Stored but not yet applied (a sync): a deploy must not take this host for current on the strength of an older apply.
      repo.putApplied(db, incoming.name, null);
      // A member that left no longer speaks for guests here.
      for (const node of repo.reportersOf(db, incoming.name)) if (!incoming.members.some((m) => m.node === node)) repo.forgetReports(db, incoming.name, node);
      return here ? 'updated' : 'created';
    });
}


export interface MtuCheck {
  readonly node: string;
  readonly tunnel: string;
  readonly peer: string;
  /** The tunnel's MTU as set: what the VPC's guests may send. */
  readonly mtu: number | null;
  readonly pmtu_ok: boolean | null;
  /** The largest don't-fragment packet that crossed (bytes, IP header included), when the full MTU did not. */
  readonly largest: number | null;
  /** fix=1 capped this tunnel at `largest`. */
  readonly capped: boolean;
  readonly verdict: string;
}

/** Below this a DF probe says nothing useful (IPv6 needs 1280 on every link anyway). */
const PROBE_FLOOR = 576;

/**
 * vpc mode=check_mtu: each of this host's tunnels probed with a
 * don't-fragment ping of its full MTU; where that does not cross, the
 * largest size that does is found by bisection, naming the path that is
 * smaller than it claims.
 */
export async function checkMtu(host: Host, name: string, fix = false): Promise<MtuCheck[]> {
  if (fix) {
    // Measured again from the MTU the routes give: what was capped before may carry more now.
    exclusively(host.db, () => repo.putMtuCaps(host.db, name, new Map()));
    await reconcile(host, name);
    const rows = await measureMtu(host, name);
    const caps = new Map(rows.flatMap((r) => (r.largest !== null ? [[r.peer, r.largest] as const] : [])));
    if (caps.size === 0) return rows;
    exclusively(host.db, () => repo.putMtuCaps(host.db, name, caps));
    await reconcile(host, name);
    return rows.map((r) => (r.largest === null ? r : { ...r, capped: true, verdict: `capped: the tunnel to ${r.peer} (and the bridge) now use at most ${r.largest} (running guests take it when restarted)` }));
  }
  return measureMtu(host, name);
}

async function measureMtu(host: Host, name: string): Promise<MtuCheck[]> {
  const rows = await status(host, name);
  const vpc = requireVpc(host, name);
  const probe = host.driver.pingDf?.bind(host.driver);
  return Promise.all(
    rows.map(async (t): Promise<MtuCheck> => {
      const base = { node: t.node, tunnel: t.tunnel, peer: t.peer, mtu: t.mtu, pmtu_ok: t.pmtu_ok, largest: null, capped: false };
      if (!t.present || !t.up) return { ...base, verdict: 'tunnel missing or down: vpc mode=apply repairs it' };
      if (t.rtt_ms === null) return { ...base, verdict: 'the far end does not answer' };
      if (t.pmtu_ok === null || !probe || t.mtu === null) return { ...base, verdict: 'not measured on this platform' };
      if (t.pmtu_ok) return { ...base, verdict: 'ok' };
      const pair = vpc.pairs.find((p) => p.vni === t.vni);
      const far = pair ? (pair.a === host.self.nodename ? pair.addrB : pair.addrA) : null;
      if (!far) return { ...base, verdict: 'no such pair' };
      let lo = PROBE_FLOOR;
      let hi = t.mtu;
      if (!(await probe(far, lo))) return { ...base, verdict: `not even ${lo} bytes cross with DF set: the path drops DF packets or ICMP` };
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (await probe(far, mid)) lo = mid;
        else hi = mid;
      }
      return { ...base, largest: lo, verdict: `the path to ${t.peer} carries ${lo} bytes, not the ${t.mtu} this tunnel claims: set mtu=${lo} (or fix the underlay MTU)` };
    }),
  );
}

/** Per tunnel: present, up, split horizon, and a round trip through it when one can be measured. */
export async function status(host: Host, name: string): Promise<TunnelStatus[]> {
  const vpc = requireVpc(host, name);
  const local = repo.getLocal(host.db, name);
  const observed = await host.driver.observe();
  const spec = await desiredSpec(host, vpc, { ...local, vxlan: true }, observed);
  const sealed = vpc.encrypt === 'wireguard' ? await sealState(host) : 'none';
  const ports = local.bridge && host.driver.fdb ? new Map((await host.driver.fdb.observe(name).catch(() => null))?.ports.map((p) => [p.name, p]) ?? []) : new Map<string, PortFlags>();
  /** control: ARP/ND answered here and no unknown unicast sent; suppress: answered here, still flooding (the peer's guests are not known); learn. */
  const fdbOf = (tunnel: string): string => {
    const p = ports.get(tunnel);
    return !p || !p.suppress ? 'learn' : p.flood ? 'suppress' : 'control';
  };
  return Promise.all(
    spec.tunnels.map(async (t): Promise<TunnelStatus> => {
      const o = observed.get(t.name);
      const remoteAddr = vpc.pairs.find((p) => p.vni === t.vni);
      const far = remoteAddr ? (remoteAddr.a === host.self.nodename ? remoteAddr.addrB : remoteAddr.addrA) : null;
      const rtt = o?.up && far ? await host.driver.ping(far) : null;
      const pmtu = rtt !== null && far && o?.mtu && host.driver.pingDf ? await host.driver.pingDf(far, o.mtu) : null;
      return {
        node: host.self.nodename,
        tunnel: t.name,
        peer: t.peer,
        vni: t.vni,
        present: o !== undefined,
        up: o?.up ?? false,
        mtu: o?.mtu ?? null,
        isolated: o?.isolated ?? false,
        rtt_ms: rtt,
        pmtu_ok: pmtu,
        sealed,
        fdb: fdbOf(t.name),
        rx_bytes: o?.counters?.rxBytes ?? null,
        tx_bytes: o?.counters?.txBytes ?? null,
        rx_packets: o?.counters?.rxPackets ?? null,
        tx_packets: o?.counters?.txPackets ?? null,
      };
    }),
  );
}
