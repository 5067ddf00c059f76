/**
 * Containers on a VPC: `jcreate`, `jstart`, `jstop`, `jremove`, `jls`,
 * `jwhereis`, `jexec`, named as in CBSD. On Linux a container is a network
 * namespace; on FreeBSD a vnet jail. Either way its `eth0` joins the bridge.
 */
import { atomically } from '../store/tx.js';
import { withLock } from '../store/lock.js';
import { createHash } from 'node:crypto';
import { guestMacOn } from './fdb.js';
import { checkGuestName, guestsChanged } from './guest-reports.js';
import { UserError } from '../core/errors.js';
import type { ExtraNic, JailOnHost, JailRecord } from '../core/types.js';
import type { Request } from '../cluster/protocol.js';
import type { GuestSpec } from '../platform/driver.js';
import type { Observed } from '../core/observed.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { checkHostAddress, checkSegmentAddress } from '../core/addrules.js';
import { guestAlias } from '../core/spec.js';
import { nicsOf } from '../core/guests.js';
import type { VpcWithMap } from '../core/types.js';
import { admit, checkWishes, type AddressWish } from './guest-guard.js';

/** Host-side interface names must fit 15 characters whatever the container's name (eth1 and on: their own). */
export function hostIfFor(jname: string, nic = 0): string {
  return `vj${createHash('sha1').update(nic === 0 ? jname : `${jname}#eth${nic}`).digest('hex').slice(0, 10)}`;
}


function requireJail(host: Host, name: string): JailRecord {
  const j = repo.getJail(host.db, name);
  if (!j) {
    if (repo.getGuest(host.db, name)) throw new UserError(`${name} on ${host.self.nodename} is a VM, not a container (meshvpc bls)`, 'not_found');
    throw new UserError(`no container named ${name} on ${host.self.nodename} (meshvpc jls)`, 'not_found');
  }
  return j;
}

/** Names are unique across containers and VMs on a host: the refusal says which kind holds it. */
export function refuseTaken(host: Host, name: string): void {
  const g = repo.getGuest(host.db, name);
  if (g) throw new UserError(`${g.kind === 'vm' ? 'VM' : 'container'} ${name} already exists on ${host.self.nodename}`, 'conflict');
}

/** The MTU of a VPC's bridge here, which a guest's port takes; a guest cannot start without the bridge. */
export function bridgeMtu(host: Host, observed: Observed, vpc: string): number {
  const bridge = observed.get(vpc);
  if (!bridge || bridge.kind !== 'bridge') throw new UserError(`${vpc} has no bridge on ${host.self.nodename}: run meshvpc vpc vpc_name=${vpc} mode=init_bridge first`);
  return bridge.mtu;
}

async function guestOf(host: Host, j: JailRecord): Promise<GuestSpec> {
  const observed = await host.driver.observe();
  const mtuOf = (vpc: string): number => bridgeMtu(host, observed, vpc);
  const extra = (j.extra ?? []).map((n, i) => ({ bridge: n.vpc, mtu: mtuOf(n.vpc), hostIf: n.hostIf, addresses: nicAddresses(n), mac: guestMacOn(host, n.vpc, j.name, i + 1) }));
  return { name: j.name, bridge: j.interface, mtu: mtuOf(j.interface), hostIf: j.hostIf, addresses: nicAddresses(j), mac: guestMacOn(host, j.interface, j.name, 0), ...(extra.length > 0 ? { extra } : {}) };
}

const nicAddresses = (n: Pick<ExtraNic, 'ip4Addr' | 'ip6Addr'>): string[] => [n.ip4Addr, n.ip6Addr].filter((a): a is string => a !== null);
const addressesOf = (j: JailRecord): string[] => nicsOf(j).flatMap(nicAddresses);

/**
 * The names a container takes (its namespace or jail, its host-side port)
 * must be free or meshvpc's: refused before anything is recorded or started.
 */
async function checkNamesFree(host: Host, j: JailRecord): Promise<void> {
  const holder = await host.driver.guestIdentity(j.name);
  if (holder !== null) {
    if (holder === j.guestId) throw new UserError(`${j.name} is already running`, 'conflict');
    throw new UserError(`a ${host.driver.platform === 'linux' ? 'network namespace' : 'jail'} named ${j.name} already exists on ${host.self.nodename} and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
  }
  const observed = await host.driver.observe();
  for (const n of nicsOf(j)) {
    const port = observed.get(n.hostIf);
    if (port && port.alias !== guestAlias(j.name)) {
      throw new UserError(`interface ${n.hostIf} already exists on ${host.self.nodename} and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
    }
  }
}

async function start(host: Host, j: JailRecord): Promise<void> {
  await checkNamesFree(host, j);
  const spec = await guestOf(host, j);
  const id = await host.driver.guestStart(spec);
  atomically(host.db, () => repo.setJailGuestId(host.db, j.name, id, [spec.mac ?? '', ...(spec.extra ?? []).map((n) => n.mac ?? '')]));
}

export interface CreateInput {
  readonly jname: string;
  /** eth0's VPC, then eth1's, ... */
  readonly interface: readonly string[];
  /** Per interface, in the same order; missing ones are 0 (none). */
  readonly ip4_addr?: readonly AddressWish[];
  readonly ip6_addr?: readonly AddressWish[];
  readonly runasap?: boolean;
  readonly astart?: boolean;
  readonly force?: boolean;
}

export interface JailResult {
  readonly jname: string;
  readonly node: string;
  readonly interface: string;
  readonly addresses: readonly string[];
  /** Per interface (eth0, eth1, ...): its VPC and addresses. */
  readonly nics: readonly { readonly dev: string; readonly vpc: string; readonly addresses: readonly string[] }[];
  readonly running: boolean;
  /** Names under the container's that were not meshvpc's and were left alone. */
  readonly spared: readonly string[];
}

const resultOf = (host: Host, j: JailRecord, running: boolean, spared: readonly string[] = []): JailResult => ({
  jname: j.name,
  node: host.self.nodename,
  interface: nicsOf(j).map((n) => n.vpc).join(','),
  addresses: addressesOf(j),
  nics: nicsOf(j).map((n, i) => ({ dev: `eth${i}`, vpc: n.vpc, addresses: nicAddresses(n) })),
  running,
  spared,
});

/** One change of a container at a time, whether from two CLIs or two requests to one server. */
const jailLocked = <T>(host: Host, name: string, what: string, fn: () => Promise<T>): Promise<T> => withLock(host.db, `jail:${name}`, what, fn);

/** A guest's address wishes checked against its VPC (family, no clash with the tunnel ends); 'auto' needs a guest network. */
export function checkedWishes(vpc: VpcWithMap, ip4: AddressWish | undefined, ip6: AddressWish | undefined): { ip4: AddressWish; ip6: AddressWish } {
  const one = (w: AddressWish | undefined, key: string, family: 4 | 6): AddressWish => {
    if (w === undefined || w === null || w === 'auto') return w ?? null;
    const c = checkHostAddress(w, key, family);
    checkSegmentAddress(c, key, vpc);
    return c;
  };
  const out = { ip4: one(ip4, 'ip4_addr', 4), ip6: one(ip6, 'ip6_addr', 6) };
  checkWishes(vpc, out.ip4, out.ip6);
  return out;
}

/** The VPC a guest attaches to, or the refusal naming it. */
export function requireInterface(host: Host, iface: string): VpcWithMap {
  const vpc = repo.getVpc(host.db, iface);
  if (!vpc) throw new UserError(`unknown interface ${iface}: no VPC of that name here (meshvpc vpc mode=list)`, 'not_found');
  return vpc;
}

interface PlannedNic {
  readonly vpc: VpcWithMap;
  readonly ip4: AddressWish;
  readonly ip6: AddressWish;
  readonly hostIf: string;
}

/** The container a jcreate asks for (addresses still to be decided), or the refusal: every check that reads only the database. */
function planned(host: Host, input: CreateInput): { record: JailRecord; nics: PlannedNic[] } {
  const name = input.jname;
  const ifaces = input.interface;
  for (const [key, list] of [['ip4_addr', input.ip4_addr], ['ip6_addr', input.ip6_addr]] as const) {
    if (list && list.length > ifaces.length) throw new UserError(`${key} names ${list.length} addresses but interface= names ${ifaces.length} VPC${ifaces.length === 1 ? '' : 's'}: give one per interface, in the same order`);
  }
  if (ifaces.length > 1 && host.driver.platform !== 'linux') throw new UserError(`a second interface (interface=${ifaces.join(',')}) is not supported on ${host.driver.platform} by this meshvpc yet`);
  const nics = ifaces.map((iface, i): PlannedNic => {
    const vpc = requireInterface(host, iface);
    checkGuestName(host, vpc, name);
    const { ip4, ip6 } = checkedWishes(vpc, input.ip4_addr?.[i], input.ip6_addr?.[i]);
    return { vpc, ip4, ip6, hostIf: hostIfFor(name, i) };
  });
  refuseTaken(host, name);
  const [first] = nics as [PlannedNic, ...PlannedNic[]];
  const extra = nics.slice(1).map((n) => ({ vpc: n.vpc.name, ip4Addr: null, ip6Addr: null, hostIf: n.hostIf }));
  const record: JailRecord = { kind: 'jail', name, interface: first.vpc.name, ip4Addr: null, ip6Addr: null, hostIf: first.hostIf, vnet: true, guestId: null, astart: input.astart ?? false, ...(extra.length > 0 ? { extra } : {}) };
  return { record, nics };
}

type NicAddresses = { readonly ip4Addr: string | null; readonly ip6Addr: string | null };

/**
 * Admit the container on each of its VPCs, holding their leases in VPC name
 * order (every creator takes them in that order, so two never wait on each
 * other), and record it under all of them.
 */
async function admitAll(host: Host, name: string, nics: readonly PlannedNic[], force: boolean, record: (addrs: readonly NicAddresses[]) => JailRecord): Promise<JailRecord> {
  const order = nics.map((n, i) => ({ n, i })).sort((a, b) => (a.n.vpc.name < b.n.vpc.name ? -1 : 1));
  const got: NicAddresses[] = nics.map(() => ({ ip4Addr: null, ip6Addr: null }));
  const adding = { name, node: host.self.nodename, kind: 'jail' as const, vcpus: 0, ramBytes: 0, diskBytes: 0 };
  const step = async (k: number, held: () => void): Promise<JailRecord> => {
    const next = order[k];
    if (!next) {
      // Waiting for the later leases may have outlasted an earlier one: recorded only while all still hold.
      held();
      return record(got);
    }
    return admit(host, { vpc: next.n.vpc, adding, ip4: next.n.ip4, ip6: next.n.ip6, force, outer: held }, (addr) => {
      got[next.i] = { ip4Addr: addr.ip4Addr, ip6Addr: addr.ip6Addr };
      return step(k + 1, addr.stillHeld);
    });
  };
  return step(0, () => undefined);
}

export function jcreate(host: Host, input: CreateInput): Promise<JailResult> {
  // Bad input is refused before a lock is written; the checks run again under it.
  planned(host, input);
  return jailLocked(host, input.jname, 'jcreate', () => create(host, input));
}

async function create(host: Host, input: CreateInput): Promise<JailResult> {
  const name = input.jname;
  const runasap = input.runasap ?? false;
  const plan = planned(host, input);
  if (new Set(plan.nics.map((n) => n.vpc.name)).size !== plan.nics.length) throw new UserError(`interface=${input.interface.join(',')} names a VPC twice: a container has one interface per VPC`);
  // Refuse before recording anything: a missing bridge, a name someone else holds.
  if (runasap) await guestOf(host, plan.record);
  await checkNamesFree(host, plan.record);
  // Counted and addressed cluster-wide on each VPC with a quota or a guest network (app/guest-guard.ts).
  const record = await admitAll(host, name, plan.nics, input.force ?? false, (addrs) => {
    const [eth0, ...more] = addrs as [NicAddresses, ...NicAddresses[]];
    const extra = (plan.record.extra ?? []).map((n, i) => ({ ...n, ...more[i] }));
    const r: JailRecord = { ...plan.record, ...eth0, ...(extra.length > 0 ? { extra } : {}) };
    atomically(host.db, () => {
      refuseTaken(host, name);
      repo.putJail(host.db, r);
    });
    return r;
  });
  if (runasap) {
    try {
      await start(host, record);
    } catch (e) {
      // A container that could not start is not kept half made.
      atomically(host.db, () => repo.deleteJail(host.db, name));
      // Its admissions' claims (backend=etcd) go with it.
      await guestsChanged(host, nicsOf(record).map((n) => n.vpc));
      throw e;
    }
    await guestsChanged(host, nicsOf(record).map((n) => n.vpc));
  }
  return resultOf(host, record, runasap);
}

export function jstart(host: Host, input: { readonly jname: string }): Promise<JailResult> {
  const j = requireJail(host, input.jname);
  return jailLocked(host, j.name, 'jstart', async () => {
    // Read again under the lock: a stop or remove may have run meanwhile.
    const now = requireJail(host, j.name);
    await start(host, now);
    await guestsChanged(host, nicsOf(now).map((n) => n.vpc));
    return resultOf(host, now, true);
  });
}

/**
 * Stopping needs no bridge or MTU: the pair and the namespace (or jail) go,
 * but only the ones meshvpc started; anything else under those names is left
 * alone and named.
 */
async function stop(host: Host, j: JailRecord): Promise<string[]> {
  const extra = (j.extra ?? []).map((n) => ({ bridge: n.vpc, mtu: 0, hostIf: n.hostIf, addresses: nicAddresses(n) }));
  const spared = await host.driver.guestStop({ name: j.name, bridge: j.interface, mtu: 0, hostIf: j.hostIf, addresses: nicAddresses(j), ...(extra.length > 0 ? { extra } : {}) }, j.guestId);
  atomically(host.db, () => repo.setJailGuestId(host.db, j.name, null));
  return spared;
}

export function jstop(host: Host, input: { readonly jname: string }): Promise<JailResult> {
  requireJail(host, input.jname);
  return jailLocked(host, input.jname, 'jstop', async () => {
    const j = requireJail(host, input.jname);
    const spared = await stop(host, j);
    await guestsChanged(host, nicsOf(j).map((n) => n.vpc));
    return resultOf(host, j, false, spared);
  });
}

export function jremove(host: Host, input: { readonly jname: string }): Promise<JailResult> {
  requireJail(host, input.jname);
  return jailLocked(host, input.jname, 'jremove', async () => {
    const j = requireJail(host, input.jname);
    const spared = await stop(host, j);
    atomically(host.db, () => repo.deleteJail(host.db, j.name));
    await guestsChanged(host, nicsOf(j).map((n) => n.vpc));
    return resultOf(host, j, false, spared);
  });
}

export interface JailRow {
  readonly jname: string;
  readonly node: string;
  readonly interface: string;
  readonly ip4_addr: string;
  readonly ip6_addr: string;
  readonly vnet: boolean;
  readonly status: 'On' | 'Off';
  readonly host_if: string;
}

/** One value per interface, comma separated, as jcreate takes them (interface=vpc1,vpc2 ip4_addr=A/N,0). */
const perNic = (j: JailOnHost, pick: (n: ExtraNic) => string | null): string => nicsOf(j).map((n) => pick(n) ?? '0').join(',');

const rowOf = (j: JailOnHost): JailRow => ({
  jname: j.name,
  node: j.node,
  interface: nicsOf(j).map((n) => n.vpc).join(','),
  ip4_addr: perNic(j, (n) => n.ip4Addr),
  ip6_addr: perNic(j, (n) => n.ip6Addr),
  vnet: j.vnet,
  status: j.running ? 'On' : 'Off',
  host_if: j.hostIf,
});

/** This host's containers, as a peer is told them (`jail_list`). */
export async function jailsHere(host: Host): Promise<JailOnHost[]> {
  const running = new Set(await host.driver.runningGuests());
  return repo.listJails(host.db).map((j) => ({ ...j, node: host.self.nodename, running: running.has(j.name) }));
}

export interface Unreachable {
  readonly node: string;
  readonly error: string;
}

/**
 * One request to every known peer, concurrently, each reply read by `read`
 * (which checks it): what answered, and who did not. Loaded on use, so this
 * host's own listing never pays for SSH.
 */
async function askPeers<T>(host: Host, read: (call: (req: Request) => Promise<unknown>, peer: string) => Promise<T[]>): Promise<{ found: T[]; unreachable: Unreachable[] }> {
  const [{ fanout }, { Peers }] = await Promise.all([import('../cluster/fanout.js'), import('../cluster/peers.js')]);
  const nodes = repo.listNodes(host.db);
  const peers = new Peers(host.home);
  try {
    const results = await fanout(nodes.map((n) => n.name), 16, (key) => {
      const node = nodes.find((n) => n.name === key) as (typeof nodes)[number];
      return read((req) => peers.call<unknown>(node, req), key);
    });
    return {
      found: results.flatMap((r) => (r.ok ? r.value : [])),
      unreachable: results.flatMap((r) => (r.ok ? [] : [{ node: r.key, error: r.error }])),
    };
  } finally {
    peers.close();
  }
}

/** Every known peer's containers (each reply checked). */
async function peersJails(host: Host): Promise<{ found: JailOnHost[]; unreachable: Unreachable[] }> {
  const { jailsFromWire } = await import('../cluster/wire.js');
  return askPeers(host, async (call, peer) => jailsFromWire(await call({ op: 'jail_list' }), peer));
}

export interface JlsResult {
  readonly containers: readonly JailRow[];
  readonly unreachable: readonly Unreachable[];
}

/** This host's containers; with cluster=1 every reachable peer's too. */
export async function jls(host: Host, input: { readonly cluster?: boolean }): Promise<JlsResult> {
  const here = await jailsHere(host);
  if (!input.cluster) return { containers: here.map(rowOf), unreachable: [] };
  const { found, unreachable } = await peersJails(host);
  return { containers: [...here, ...found].map(rowOf), unreachable };
}

export interface WhereisResult {
  readonly jname: string;
  /** The hosts that have it. */
  readonly nodes: readonly string[];
  readonly unreachable: readonly Unreachable[];
}

/**
 * Every known peer's guests of one name (containers and VMs; a 0.2 peer,
 * which knows no guest_list, is asked for its containers).
 */
async function peersGuestsNamed(host: Host, name: string): Promise<{ found: { node: string; kind: 'jail' | 'vm' }[]; unreachable: Unreachable[] }> {
  const { jailsFromWire, guestsFromWire } = await import('../cluster/wire.js');
  const { found, unreachable } = await askPeers(host, async (call, peer) => {
    try {
      return guestsFromWire(await call({ op: 'guest_list' }), peer).guests.map((g) => ({ node: g.node, kind: g.kind, name: g.name }));
    } catch (e) {
      if (!(e instanceof UserError && /unknown op/.test(e.message))) throw e;
      return jailsFromWire(await call({ op: 'jail_list' }), peer).map((j) => ({ node: j.node, kind: 'jail' as const, name: j.name }));
    }
  });
  return { found: found.filter((g) => g.name === name), unreachable };
}

export async function jwhereis(host: Host, input: { readonly jname: string; readonly emulator?: 'jail' | 'vm' }): Promise<WhereisResult> {
  const name = input.jname;
  const wanted = (kind: 'jail' | 'vm'): boolean => input.emulator === undefined || input.emulator === kind;
  const mine = repo.getGuest(host.db, name);
  const here = mine && wanted(mine.kind) ? [host.self.nodename] : [];
  const { found, unreachable } = await peersGuestsNamed(host, name);
  return { jname: name, nodes: [...here, ...new Set(found.filter((g) => wanted(g.kind)).map((g) => g.node))], unreachable };
}

/** The command line that runs `argv` inside a running container (the CLI runs it on the terminal). */
export async function jexecArgv(host: Host, input: { readonly jname: string }, argv: readonly string[]): Promise<string[]> {
  const name = input.jname;
  if (argv.length === 0) throw new UserError('jexec needs a command to run, e.g. meshvpc jexec jname=jail1 ip addr');
  requireJail(host, name);
  if (!(await host.driver.runningGuests()).includes(name)) throw new UserError(`${name} is not running (meshvpc jstart jname=${name})`);
  return host.driver.guestExecArgv(name, argv);
}
