/** `meshvpc vpc`: every mode of CBSD's vpc, plus join/leave/apply/down/status for a living cluster. */
import type { Invocation, Params } from '../cli/args.js';
import { printRows, say, type Record_ } from '../cli/output.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { allocatePeerMap } from '../core/peermap.js';
import type { Member, NodeRecord, VpcDef, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { withLock } from '../store/lock.js';
import { openHost, parsePlatform, type Host } from './host.js';
import { down, forget, layersChange, preflight, reconcile, requireVpc } from './vpc-local.js';
import { allocate, clusterStatus, converge, DEFAULT_CONCURRENCY, printApply, sync, teardownAll } from './vpc-cluster.js';
import { initRc } from './init-rc.js';
import { convergePrinter, syncPrinter } from '../cli/converge-output.js';
import { checkHostAddress, checkPeerNetwork, checkSegmentAddress, checkPeerNetworkAgainstOthers, checkPeerNetworkAgainstUnderlay } from '../core/addrules.js';

const MODES = [
  'init', 'init_peers', 'sync', 'init_vxlan', 'init_bridge', 'destroy_vxlan', 'destroy_bridge', 'apply', 'down',
  'deploy', 'join', 'leave', 'status', 'list', 'collapse', 'destroy', 'remove', 'init_rc',
] as const;
type Mode = (typeof MODES)[number];

const ARGS: Record<Mode, readonly string[]> = {
  init: ['mode', 'vpc_name', 'node_member', 'peer_network', 'mtu', 'underlay', 'firewall'],
  init_peers: ['mode', 'vpc_name'],
  sync: ['mode', 'vpc_name'],
  init_vxlan: ['mode', 'vpc_name'],
  init_bridge: ['mode', 'vpc_name', 'bridge_ips'],
  destroy_vxlan: ['mode', 'vpc_name'],
  destroy_bridge: ['mode', 'vpc_name'],
  apply: ['mode', 'vpc_name'],
  down: ['mode', 'vpc_name'],
  deploy: ['mode', 'vpc_name', 'node_member', 'peer_network', 'mtu', 'underlay', 'firewall', 'concurrency'],
  join: ['mode', 'vpc_name', 'node', 'concurrency'],
  leave: ['mode', 'vpc_name', 'node', 'concurrency'],
  status: ['mode', 'vpc_name'],
  list: ['mode'],
  collapse: ['mode', 'vpc_name'],
  destroy: ['mode', 'vpc_name'],
  remove: ['mode', 'vpc_name'],
  init_rc: ['mode', 'vpc_name'],
};

/** Modes that change a VPC on several hosts: one at a time per VPC on this host. */
const CLUSTER_MODES: readonly Mode[] = ['init_peers', 'sync', 'deploy', 'join', 'leave', 'collapse', 'destroy'];

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.require('mode', `use one of ${MODES.join(', ')}`);
  if (!(MODES as readonly string[]).includes(mode)) throw new UserError(`unknown vpc mode ${v.shown(mode)}; modes: ${MODES.join(', ')}`);
  const m = mode as Mode;
  p.only(ARGS[m], `vpc mode=${m}`);
  // Everything typed is checked before any state is opened.
  const name = m === 'list' ? '' : v.vpcName(p.require('vpc_name', 'name the VPC, e.g. vpc_name=vpc1'), 'vpc_name');
  const bridgeCidrs = p.has('bridge_ips') ? v.list(p.get('bridge_ips') as string, 'bridge_ips', (x, k) => checkHostAddress(v.interfaceAddress(x, k), k)) : null;
  const bridgeIps = bridgeCidrs?.map(v.cidrText) ?? null;
  const nodeRefs = m === 'join' || m === 'leave' ? v.list(p.require('node', 'the node(s) joining or leaving, e.g. node=host4'), 'node', v.nodeRef) : [];
  const limit = v.integer(p.get('concurrency') ?? process.env.MESHVPC_CONCURRENCY ?? String(DEFAULT_CONCURRENCY), 'concurrency', 1, 256);
  const dryrun = p.flag('dryrun');
  const platform = parsePlatform(p.get('platform'), dryrun);
  const force = p.flag('force');
  const host = await openHost(platform, m === 'list' || m === 'status' ? 'read' : 'write');
  try {
    // A missing VPC is bad input too: refuse it before a lock is written.
    if (m === 'deploy') checkDeployDefinition(host, name, p);
    if (m === 'join' || m === 'leave') memberChange(host, requireVpc(host, name), m, nodeRefs);
    if (m !== 'init' && m !== 'list' && m !== 'deploy') requireVpc(host, name);
    for (const c of bridgeCidrs ?? []) checkSegmentAddress(c, 'bridge_ips', requireVpc(host, name));
    const act = (): Promise<number> => runMode(host, m, name, p, { bridgeIps, nodeRefs, limit, dryrun, force, json: p.flag('json') });
    return CLUSTER_MODES.includes(m) && !dryrun ? await withLock(host.db, `op:${name}`, `vpc mode=${m}`, act) : await act();
  } finally {
    host.db.close();
  }
}

interface ModeArgs {
  readonly bridgeIps: string[] | null;
  readonly nodeRefs: readonly string[];
  readonly limit: number;
  readonly dryrun: boolean;
  readonly force: boolean;
  /** deploy, join, leave, sync: print the result as JSON instead of progress lines. */
  readonly json: boolean;
}

async function runMode(host: Host, m: Mode, name: string, p: Params, a: ModeArgs): Promise<number> {
  const local = async (r: Promise<import('./vpc-local.js').ApplyResult>): Promise<number> => {
    printApply(await r);
    return 0;
  };
  switch (m) {
    case 'list':
      return list(host, p);
    case 'init':
      return init(host, name, p, a.dryrun);
    case 'init_peers':
      return initPeers(host, name, p, a.dryrun);
    case 'sync': {
      const out = syncPrinter(a.json);
      return out.done(await sync(host, name, a.force, a.dryrun, out.events));
    }
    case 'init_vxlan':
      return local(reconcile(host, name, layersChange(['vxlan']), a.dryrun));
    case 'init_bridge':
      return local(reconcile(host, name, { ...layersChange(['bridge']), ...(a.bridgeIps ? { bridgeIps: a.bridgeIps } : {}) }, a.dryrun));
    case 'destroy_vxlan':
      return local(reconcile(host, name, { vxlan: false }, a.dryrun));
    case 'destroy_bridge':
      return local(reconcile(host, name, { bridge: false }, a.dryrun));
    case 'apply':
      return local(reconcile(host, name, {}, a.dryrun));
    case 'down':
      return local(down(host, name, a.dryrun));
    case 'remove':
      return local(forget(host, name, a.dryrun));
    case 'deploy':
      return deploy(host, name, p, a);
    case 'join':
    case 'leave':
      return changeMembers(host, name, m, a);
    case 'status':
      return showStatus(host, name, p);
    case 'collapse':
    case 'destroy':
      return teardownAll(host, name, m, a.force, a.dryrun);
    case 'init_rc':
      return initRc(host, name, a.dryrun);
  }
}

/** deploy either defines a VPC (node_member=, peer_network=) or repeats an existing one's definition. */
function checkDeployDefinition(host: Host, name: string, p: Params): void {
  const vpc = repo.getVpc(host.db, name);
  if (!vpc && !p.has('peer_network')) {
    throw new UserError(`no VPC named ${name} here: give node_member= and peer_network= to define it, or run mode=init first`, 'not_found');
  }
  // A new definition is checked in full here, before the lock is written.
  if (!vpc) {
    defineVpc(host, name, p);
    return;
  }
  const asked = p.has('peer_network') ? defineVpc(host, name, p) : null;
  const same = (x: VpcDef): boolean =>
    x.peerNetwork === vpc.peerNetwork && x.family === vpc.family && x.mtu === vpc.mtu && x.firewall === vpc.firewall &&
    x.members.map((m) => m.node).join() === vpc.members.map((m) => m.node).join();
  if (asked && !same(asked)) {
    throw new UserError(`${name} already exists with another definition (meshvpc vpc mode=list); change members with mode=join/leave, or destroy it first`, 'conflict');
  }
}

async function deploy(host: Host, name: string, p: Params, a: ModeArgs): Promise<number> {
  const stored = repo.getVpc(host.db, name);
  // A new VPC is stored only once every member has checked it (converge does both).
  const vpc = stored ?? { ...defineVpc(host, name, p), pairs: [] };
  const newTo = new Set(stored === null ? vpc.members.map((m) => m.node) : []);
  const out = convergePrinter(a.json);
  return out.done(await converge(host, vpc, { dryrun: a.dryrun, limit: a.limit, leaving: [], newTo }, out.events));
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
  allocatePeerMap({ members: members.map((m) => m.node), network: v.network(vpc.peerNetwork, 'peer_network'), existing: vpc.pairs, takenVnis: repo.vnisOutside(host.db, name) });
  return { next: { ...vpc, members }, leaving: mode === 'leave' ? nodes.filter((n) => n !== null) : [] };
}

async function changeMembers(host: Host, name: string, mode: 'join' | 'leave', a: ModeArgs): Promise<number> {
  const before = requireVpc(host, name);
  const { next, leaving } = memberChange(host, before, mode, a.nodeRefs);
  // Joining hosts check the VPC before anyone stores the new membership; this
  // host stores it when it applies (or forgets it, if it is the one leaving).
  const newTo = new Set(next.members.map((m) => m.node).filter((n) => !before.members.some((m) => m.node === n)));
  const out = convergePrinter(a.json);
  return out.done(await converge(host, next, { dryrun: a.dryrun, limit: a.limit, leaving, newTo, verb: mode }, out.events));
}

/** Take a host out of a VPC (for node mode=remove), holding the VPC's cluster lock. */
export function leaveVpc(host: Host, name: string, node: string): Promise<number> {
  return withLock(host.db, `op:${name}`, 'node mode=remove', () =>
    changeMembers(host, name, 'leave', { bridgeIps: null, nodeRefs: [node], limit: DEFAULT_CONCURRENCY, dryrun: false, force: false, json: false }),
  );
}

async function showStatus(host: Host, name: string, p: Params): Promise<number> {
  const results = await clusterStatus(host, name);
  const rows: Record_[] = results.flatMap((r): Record_[] => (r.ok ? r.value.map((t) => ({ ...t })) : [{ node: r.key, error: r.error }]));
  printRows(p, rows, ['node', 'tunnel', 'peer', 'vni', 'present', 'up', 'mtu', 'isolated', 'rtt_ms']);
  for (const r of results) if (!r.ok) process.stderr.write(`meshvpc: ${r.key}: ${r.error}\n`);
  return results.every((r) => r.ok && r.value.every((t) => t.present && t.up)) ? 0 : 1;
}

function list(host: Host, p: Params): number {
  const rows = repo.listVpcs(host.db).map((x) => {
    const l = repo.getLocal(host.db, x.name);
    return {
      name: x.name,
      peer_network: x.peerNetwork,
      underlay: `ipv${x.family}`,
      mtu: x.mtu ?? 'auto',
      firewall: x.firewall,
      members: x.members.map((mm) => mm.node).join(','),
      pairs: x.pairs.length,
      vxlan: l.vxlan,
      bridge: l.bridge,
    };
  });
  printRows(p, rows, ['name', 'peer_network', 'underlay', 'mtu', 'firewall', 'members', 'pairs', 'vxlan', 'bridge']);
  return 0;
}

/** Resolve node_member= into members with underlay addresses of one family. */
function resolveMembers(host: Host, spec: string, underlay: string | undefined): { members: Member[]; family: 4 | 6 } {
  const nodes = repo.listNodes(host.db);
  const self = { name: host.self.nodename, ip4: host.self.ip4, ip6: host.self.ip6 };
  let chosen: { name: string; ip4: string | null; ip6: string | null }[];
  if (spec === 'all') {
    chosen = [self, ...nodes];
  } else {
    const refs = v.list(spec, 'node_member', v.nodeRef);
    chosen = refs.map((ref) => {
      if (ref === self.name || ref === self.ip4 || ref === self.ip6) return self;
      const n = repo.findNode(host.db, ref);
      if (!n) throw new UserError(`unknown node_member ${v.shown(ref)}: known nodes are ${[self.name, ...nodes.map((x) => x.name)].join(', ')} (add it with meshvpc node mode=add)`, 'not_found');
      return n;
    });
    if (!chosen.includes(self)) throw new UserError(`node_member must include this host (${self.name}): a VPC is defined from one of its members`);
  }
  if (underlay !== undefined && underlay !== 'v4' && underlay !== 'v6') throw new UserError(`invalid underlay ${v.shown(underlay)}: use v4 or v6`);
  const family: 4 | 6 = underlay === 'v4' ? 4 : underlay === 'v6' ? 6 : chosen.every((c) => c.ip6) ? 6 : 4;
  const members = [...new Map(chosen.map((c) => [c.name, c])).values()].map((c) => {
    const addr = family === 6 ? c.ip6 : c.ip4;
    if (!addr) throw new UserError(`node ${c.name} has no IPv${family} address for an IPv${family} underlay`);
    return { node: c.name, underlay: addr };
  });
  return { members: members.sort((a, b) => (a.node < b.node ? -1 : 1)), family };
}

function defineVpc(host: Host, name: string, p: Params): VpcDef {
  const net = v.network(p.require('peer_network', 'the network for tunnel endpoints, e.g. peer_network=10.100.0.0/24'), 'peer_network');
  const { members, family } = resolveMembers(host, p.require('node_member', 'all, or a comma separated list of nodes'), p.get('underlay'));
  checkPeerNetwork(net);
  checkPeerNetworkAgainstUnderlay(net, members);
  checkPeerNetworkAgainstOthers(
    net,
    repo.listVpcs(host.db).filter((o) => o.name !== name).map((o) => ({ name: o.name, net: v.network(o.peerNetwork, 'peer_network') })),
  );
  const mtu = p.has('mtu') ? v.mtu(p.get('mtu') as string, 'mtu') : null;
  const firewall = p.has('firewall') ? v.boolFlag(p.get('firewall') as string, 'firewall') : true;
  // Fail now rather than at init_peers when the network cannot hold the pairs.
  allocatePeerMap({ members: members.map((x) => x.node), network: net, existing: [], takenVnis: new Set() });
  return { name, peerNetwork: v.cidrText(net), family, mtu, firewall, members };
}

async function init(host: Host, name: string, p: Params, dryrun: boolean): Promise<number> {
  if (repo.getVpc(host.db, name)) throw new UserError(`VPC ${name} already exists on ${host.self.nodename} (meshvpc vpc mode=list)`, 'conflict');
  const def = defineVpc(host, name, p);
  // The names it will take here (the bridge) must be free or meshvpc's before it is stored.
  await preflight(host, { ...def, pairs: [] }, {});
  if (!dryrun) host.db.transaction(() => repo.putVpc(host.db, def))();
  say(`${dryrun ? '[dryrun] ' : ''}${name}: defined on ${host.self.nodename}: peer_network ${def.peerNetwork}, IPv${def.family} underlay, members ${def.members.map((x) => x.node).join(', ')}`);
  return 0;
}

function printMap(p: Params, vpc: VpcWithMap): void {
  const underlay = new Map(vpc.members.map((x) => [x.node, x.underlay]));
  printRows(
    p,
    vpc.pairs.map((x) => ({
      vni: x.vni,
      node_a: x.a,
      addr_a: `${x.addrA}/${x.prefix}`,
      node_b: x.b,
      addr_b: `${x.addrB}/${x.prefix}`,
      underlay: `${underlay.get(x.a)} <-> ${underlay.get(x.b)}`,
    })),
    ['vni', 'node_a', 'addr_a', 'node_b', 'addr_b', 'underlay'],
  );
}

async function initPeers(host: Host, name: string, p: Params, dryrun: boolean): Promise<number> {
  const vpc = await allocate(host, requireVpc(host, name), dryrun);
  printMap(p, vpc);
  return 0;
}

