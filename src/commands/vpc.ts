/** `meshvpc vpc`: every mode of CBSD's vpc, plus apply/down/status for a living cluster. */
import type { Invocation, Params } from '../cli/args.js';
import { printRows, say, type Record_ } from '../cli/output.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { allocatePeerMap } from '../core/peermap.js';
import type { Member, NodeRecord, VpcDef, VpcWithMap } from '../core/types.js';
import { fanout, type Outcome } from '../cluster/fanout.js';
import { Peers } from '../cluster/peers.js';
import type { Layer } from '../cluster/protocol.js';
import * as repo from '../store/repo.js';
import { openHost, parsePlatform, type Host } from './host.js';
import { collapse, down, forget, layersChange, reconcile, requireVpc, status, type ApplyResult, type TunnelStatus } from './vpc-local.js';
import { initRc } from './init-rc.js';

const MODES = [
  'init', 'init_peers', 'sync', 'init_vxlan', 'init_bridge', 'destroy_vxlan', 'destroy_bridge', 'apply', 'down',
  'deploy', 'status', 'list', 'collapse', 'destroy', 'remove', 'init_rc',
] as const;
type Mode = (typeof MODES)[number];

const ARGS: Record<Mode, readonly string[]> = {
  init: ['mode', 'vpc_name', 'node_member', 'peer_network', 'mtu', 'underlay'],
  init_peers: ['mode', 'vpc_name'],
  sync: ['mode', 'vpc_name'],
  init_vxlan: ['mode', 'vpc_name'],
  init_bridge: ['mode', 'vpc_name', 'bridge_ips'],
  destroy_vxlan: ['mode', 'vpc_name'],
  destroy_bridge: ['mode', 'vpc_name'],
  apply: ['mode', 'vpc_name'],
  down: ['mode', 'vpc_name'],
  deploy: ['mode', 'vpc_name', 'node_member', 'peer_network', 'mtu', 'underlay', 'concurrency'],
  status: ['mode', 'vpc_name'],
  list: ['mode'],
  collapse: ['mode', 'vpc_name'],
  destroy: ['mode', 'vpc_name'],
  remove: ['mode', 'vpc_name'],
  init_rc: ['mode', 'vpc_name'],
};

const DEFAULT_CONCURRENCY = 16;

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  // The article writes "mot=" once for "mode="; accept only the real spelling.
  const mode = p.require('mode', `use one of ${MODES.join(', ')}`);
  if (!(MODES as readonly string[]).includes(mode)) throw new UserError(`unknown vpc mode ${v.shown(mode)}; modes: ${MODES.join(', ')}`);
  const m = mode as Mode;
  p.only(ARGS[m], `vpc mode=${m}`);
  const name = m === 'list' ? '' : v.vpcName(p.require('vpc_name', 'name the VPC, e.g. vpc_name=vpc1'), 'vpc_name');
  const bridgeIps = p.has('bridge_ips') ? v.list(p.get('bridge_ips') as string, 'bridge_ips', (x, k) => v.cidrText(v.interfaceAddress(x, k))) : null;
  const dryrun = p.flag('dryrun');
  const platform = parsePlatform(p.get('platform'), dryrun);
  const force = p.flag('force');
  const host = await openHost(platform);
  try {
    switch (m) {
      case 'list':
        return list(host, p);
      case 'init':
        return init(host, name, p, dryrun);
      case 'init_peers':
        return initPeers(host, name, p, dryrun);
      case 'sync':
        return await sync(host, name, force, dryrun);
      case 'init_vxlan':
        return local(await reconcile(host, name, layersChange(['vxlan']), dryrun));
      case 'init_bridge':
        return local(await reconcile(host, name, { ...layersChange(['bridge']), ...(bridgeIps ? { bridgeIps } : {}) }, dryrun));
      case 'destroy_vxlan':
        return local(await reconcile(host, name, { vxlan: false }, dryrun));
      case 'destroy_bridge':
        return local(await reconcile(host, name, { bridge: false }, dryrun));
      case 'apply':
        return local(await reconcile(host, name, {}, dryrun));
      case 'down':
        return local(await down(host, name, dryrun));
      case 'remove':
        return local(await forget(host, name, dryrun));
      case 'deploy':
        return await deploy(host, name, p, dryrun);
      case 'status':
        return await showStatus(host, name, p);
      case 'collapse':
      case 'destroy':
        return await teardownAll(host, name, m, force, dryrun);
      case 'init_rc':
        return initRc(host, name, dryrun);
    }
  } finally {
    host.db.close();
  }
}

function local(r: ApplyResult): number {
  for (const c of r.commands) say(`${r.applied ? '' : '[dryrun] '}${c.map(quoteArg).join(' ')}`);
  say(`${r.node}: ${r.ops.length === 0 ? 'nothing to change' : `${r.ops.length} change${r.ops.length === 1 ? '' : 's'}${r.applied ? ' applied' : ' planned'}`}`);
  return 0;
}

const quoteArg = (a: string): string => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

function list(host: Host, p: Params): number {
  const rows = repo.listVpcs(host.db).map((x) => {
    const l = repo.getLocal(host.db, x.name);
    return {
      name: x.name,
      peer_network: x.peerNetwork,
      underlay: `ipv${x.family}`,
      mtu: x.mtu ?? 'auto',
      members: x.members.map((mm) => mm.node).join(','),
      pairs: x.pairs.length,
      vxlan: l.vxlan,
      bridge: l.bridge,
    };
  });
  printRows(p, rows, ['name', 'peer_network', 'underlay', 'mtu', 'members', 'pairs', 'vxlan', 'bridge']);
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
      if (!n) throw new UserError(`unknown node_member ${v.shown(ref)}: known nodes are ${[self.name, ...nodes.map((x) => x.name)].join(', ')} (add it with meshvpc node mode=add)`);
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
  const mtu = p.has('mtu') ? v.mtu(p.get('mtu') as string, 'mtu') : null;
  // Fail now rather than at init_peers when the network cannot hold the pairs.
  allocatePeerMap({ members: members.map((x) => x.node), network: net, existing: [], takenVnis: new Set() });
  return { name, peerNetwork: v.cidrText(net), family, mtu, members };
}

function init(host: Host, name: string, p: Params, dryrun: boolean): number {
  if (repo.getVpc(host.db, name)) throw new UserError(`VPC ${name} already exists on ${host.self.nodename} (meshvpc vpc mode=list)`);
  const def = defineVpc(host, name, p);
  if (!dryrun) host.db.transaction(() => repo.putVpc(host.db, def))();
  say(`${dryrun ? '[dryrun] ' : ''}${name}: defined on ${host.self.nodename}: peer_network ${def.peerNetwork}, IPv${def.family} underlay, members ${def.members.map((x) => x.node).join(', ')}`);
  return 0;
}

/** Allocate (or extend) the peer map and store it; returns the VPC with its map. */
function allocate(host: Host, vpc: VpcWithMap, dryrun: boolean): VpcWithMap {
  const pairs = allocatePeerMap({
    members: vpc.members.map((x) => x.node),
    network: v.network(vpc.peerNetwork, 'peer_network'),
    existing: vpc.pairs,
    takenVnis: repo.vnisOutside(host.db, vpc.name),
  });
  if (!dryrun) host.db.transaction(() => repo.putPairs(host.db, vpc.name, pairs))();
  return { ...vpc, pairs };
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

function initPeers(host: Host, name: string, p: Params, dryrun: boolean): number {
  const vpc = allocate(host, requireVpc(host, name), dryrun);
  printMap(p, vpc);
  return 0;
}

function memberNodes(host: Host, vpc: VpcDef): NodeRecord[] {
  return vpc.members
    .filter((x) => x.node !== host.self.nodename)
    .map((x) => {
      const n = repo.getNode(host.db, x.node);
      if (!n) throw new UserError(`member ${x.node} of ${vpc.name} is not a known node here: add it with meshvpc node mode=add`);
      return n;
    });
}

function concurrency(p: Params): number {
  const c = p.get('concurrency') ?? process.env.MESHVPC_CONCURRENCY;
  return c === undefined ? DEFAULT_CONCURRENCY : v.integer(c, 'concurrency', 1, 256);
}

function report<T>(verb: string, describe: (value: T) => string) {
  return (o: Outcome<T>): void => {
    const secs = (o.ms / 1000).toFixed(2);
    say(o.ok ? `  ${o.key}: ${verb} ${describe(o.value)} (${secs}s)` : `  ${o.key}: FAILED: ${o.error} (${secs}s)`);
  };
}

const changes = (r: ApplyResult): string => (r.ops.length === 0 ? 'no changes' : `${r.ops.length} change${r.ops.length === 1 ? '' : 's'}`);

async function sync(host: Host, name: string, force: boolean, dryrun: boolean): Promise<number> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  if (dryrun) {
    say(`[dryrun] would send ${name} (${vpc.pairs.length} pairs) to ${nodes.map((n) => n.name).join(', ') || 'no other member'}`);
    return 0;
  }
  const peers = new Peers(host.home);
  try {
    const results = await fanout(
      nodes.map((n) => n.name),
      DEFAULT_CONCURRENCY,
      (key) => peers.call<{ result: string }>(nodes.find((n) => n.name === key) as NodeRecord, { op: 'vpc_put', vpc, force }),
      report('synced:', (r) => r.result),
    );
    const failed = results.filter((r) => !r.ok).length;
    say(`${name}: synced to ${results.length - failed} of ${results.length} peers`);
    return failed === 0 ? 0 : 1;
  } finally {
    peers.close();
  }
}

async function deploy(host: Host, name: string, p: Params, dryrun: boolean): Promise<number> {
  const started = Date.now();
  let vpc = repo.getVpc(host.db, name);
  if (!vpc) {
    if (!p.has('peer_network')) throw new UserError(`no VPC named ${name} here: give node_member= and peer_network= to define it, or run mode=init first`);
    const def = defineVpc(host, name, p);
    if (!dryrun) host.db.transaction(() => repo.putVpc(host.db, def))();
    vpc = { ...def, pairs: [] };
  }
  const nodes = memberNodes(host, vpc);
  const limit = concurrency(p);
  const peers = new Peers(host.home);
  const timing: Record<string, number> = {};
  const mark = (phase: string, since: number): void => {
    timing[phase] = Date.now() - since;
  };
  try {
    let t = Date.now();
    say(`${name}: checking ${nodes.length} peer${nodes.length === 1 ? '' : 's'}`);
    const reach = await fanout(nodes.map((n) => n.name), limit, (key) => peers.call(byName(nodes, key), { op: 'hello' }), (o) => {
      if (!o.ok) say(`  ${o.key}: UNREACHABLE: ${o.error}`);
    });
    mark('connect', t);
    const reachable = nodes.filter((n) => reach.some((r) => r.key === n.name && r.ok));
    t = Date.now();
    vpc = allocate(host, vpc, dryrun);
    mark('init_peers', t);
    t = Date.now();
    const put = dryrun
      ? []
      : await fanout(reachable.map((n) => n.name), limit, (key) => peers.call(byName(nodes, key), { op: 'vpc_put', vpc: vpc as VpcWithMap, force: false }), (o) => {
          if (!o.ok) say(`  ${o.key}: SYNC FAILED: ${o.error}`);
        });
    mark('sync', t);
    const synced = dryrun ? reachable : reachable.filter((n) => put.some((r) => r.key === n.name && r.ok));
    t = Date.now();
    const layers: Layer[] = ['vxlan', 'bridge'];
    const applied = await fanout(
      [host.self.nodename, ...synced.map((n) => n.name)],
      limit,
      (key) =>
        key === host.self.nodename
          ? reconcile(host, name, layersChange(layers), dryrun)
          : peers.call<ApplyResult>(byName(nodes, key), { op: 'vpc_apply', vpc: name, layers, dryrun }),
      report(dryrun ? 'would apply' : 'converged,', changes),
    );
    mark('apply', t);
    if (dryrun) for (const r of applied) if (r.ok) for (const c of r.value.commands) say(`  [dryrun] ${r.key}: ${c.map(quoteArg).join(' ')}`);
    const ok = applied.filter((r) => r.ok).length;
    const total = nodes.length + 1;
    const changed = applied.reduce((n, r) => n + (r.ok ? r.value.ops.length : 0), 0);
    say(`${name}: ${ok} of ${total} hosts converged, ${changed} change${changed === 1 ? '' : 's'} (${((Date.now() - started) / 1000).toFixed(2)}s; ` +
      `connect ${timing.connect}ms, sync ${timing.sync}ms, apply ${timing.apply}ms)`);
    return ok === total ? 0 : 1;
  } finally {
    peers.close();
  }
}

const byName = (nodes: readonly NodeRecord[], name: string): NodeRecord => nodes.find((n) => n.name === name) as NodeRecord;

async function showStatus(host: Host, name: string, p: Params): Promise<number> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  const peers = new Peers(host.home);
  try {
    const results = await fanout([host.self.nodename, ...nodes.map((n) => n.name)], DEFAULT_CONCURRENCY, (key) =>
      key === host.self.nodename ? status(host, name) : peers.call<TunnelStatus[]>(byName(nodes, key), { op: 'vpc_status', vpc: name }),
    );
    const rows: Record_[] = results.flatMap((r): Record_[] =>
      r.ok ? r.value.map((t) => ({ ...t })) : [{ node: r.key, error: r.error }],
    );
    printRows(p, rows, ['node', 'tunnel', 'peer', 'vni', 'present', 'up', 'mtu', 'isolated', 'rtt_ms']);
    for (const r of results) if (!r.ok) process.stderr.write(`meshvpc: ${r.key}: ${r.error}\n`);
    const healthy = results.every((r) => r.ok && r.value.every((t) => t.present && t.up));
    return healthy ? 0 : 1;
  } finally {
    peers.close();
  }
}

async function teardownAll(host: Host, name: string, mode: 'collapse' | 'destroy', force: boolean, dryrun: boolean): Promise<number> {
  const vpc = requireVpc(host, name);
  const nodes = memberNodes(host, vpc);
  const peers = new Peers(host.home);
  try {
    const reach = await fanout(nodes.map((n) => n.name), DEFAULT_CONCURRENCY, (key) => peers.call(byName(nodes, key), { op: 'hello' }));
    const missing = reach.filter((r) => !r.ok);
    if (missing.length > 0 && !force) {
      throw new UserError(`cannot ${mode} ${name}: ${missing.map((r) => `${r.key} is unreachable`).join(', ')}; nothing was changed (force=1 goes ahead without them)`);
    }
    const op = mode === 'collapse' ? 'vpc_collapse' : 'vpc_forget';
    const reachable = nodes.filter((n) => !missing.some((r) => r.key === n.name));
    const results = dryrun
      ? []
      : await fanout(reachable.map((n) => n.name), DEFAULT_CONCURRENCY, (key) => peers.call<ApplyResult>(byName(nodes, key), { op, vpc: name }), report(mode === 'collapse' ? 'collapsed,' : 'destroyed,', changes));
    const mine = mode === 'collapse' ? await collapse(host, name, dryrun) : await forget(host, name, dryrun);
    local(mine);
    const failed = results.filter((r) => !r.ok).length + missing.length;
    say(`${name}: ${mode === 'collapse' ? 'collapsed' : 'destroyed'} on ${results.length - results.filter((r) => !r.ok).length + 1} of ${nodes.length + 1} hosts`);
    return failed === 0 ? 0 : 1;
  } finally {
    peers.close();
  }
}

