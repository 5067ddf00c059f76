/**
 * What the CLI prints for each operation's result (and its progress events),
 * exactly as meshvpc has always printed it; and the exit status. The results
 * are the application layer's data: the API sends the same as JSON.
 */
import type { ApplyResult, MtuCheck } from '../../app/vpc-local.js';
import { applyChanges } from '../../core/ops.js';
import type { AllocateResult, ConvergeResult, SyncResult, TeardownOutcome, TeardownResult } from '../../app/vpc-cluster.js';
import type { InitResult, StatusResult } from '../../app/vpc.js';
import type { VpcRow } from '../../app/vpc-list.js';
import type { InitRcResult } from '../../app/init-rc.js';
import type { AddResult, RemoveResult, RepinResult } from '../../app/node.js';
import type { NodeRow } from '../../app/node-list.js';
import type { NodeShow } from '../../app/node-show.js';
import type { JailResult, JlsResult, WhereisResult } from '../../app/jail.js';
import type { InitenvResult } from '../../app/initenv.js';
import type { RotateResult } from '../../app/rotate.js';
import type { MemberChangeResult } from '../../app/cluster-members.js';
import type { ConsoleResult, VmResult, VmRow } from '../../app/vm.js';
import type { StartAllResult } from '../../app/guests.js';
import type { SetResult } from '../../app/vpc.js';
import { describeQuota } from '../../core/quota.js';
import type { CreatedToken } from '../../app/token.js';
import type { InitResult as ClusterInitResult, ShowResult as ClusterShowResult } from '../../app/cluster.js';
import type { CrlPush, MemberCrl } from '../../app/cluster-revoke.js';
import type { MigrateResult } from '../../app/store-migrate.js';
import type { OperationEvent } from '../../app/operations.js';
import type { TokenRow } from '../../store/tokens.js';
import { operation } from '../../app/catalog.js';
import type { Params } from './args.js';
import { printRows, say, type Record_ } from './output.js';
import { eventLine, quoteArg, summaryLine, syncLine, syncSummary } from './converge-output.js';
import type { UpdateResult } from '../../app/node-update.js';
import { updateEventLine, updateLines } from './node-update-output.js';
import { livePrinter, type EventPrinter, type Terminal } from './live-printer.js';

const warn = (line: string): void => {
  process.stderr.write(`meshvpc: ${line}\n`);
};

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
const changes = (n: number): string => (n === 0 ? 'no changes' : plural(n, 'change'));

function printApply(r: ApplyResult): number {
  for (const c of r.commands) say(`${r.applied ? '' : '[dryrun] '}${c.map(quoteArg).join(' ')}`);
  const n = applyChanges(r);
  say(`${r.node}: ${n === 0 ? 'nothing to change' : `${changes(n)}${r.applied ? ' applied' : ' planned'}`}`);
  if (r.fdbError) warn(`${r.node}: the control-plane FDB was not brought in line: ${r.fdbError}`);
  return 0;
}

function teardownLine(mode: 'collapse' | 'destroy', o: TeardownOutcome): string {
  const secs = o.seconds.toFixed(2);
  return o.ok ? `  ${o.host}: ${mode === 'collapse' ? 'collapsed,' : 'destroyed,'} ${changes(o.changes ?? 0)} (${secs}s)` : `  ${o.host}: FAILED: ${o.error ?? ''} (${secs}s)`;
}

/** Operations that show a live line per host on a terminal (live-printer.ts). */
const LIVE = new Set(['vpc.deploy', 'vpc.join', 'vpc.leave', 'vpc.sync', 'vpc.rotate_keys']);

/**
 * A line per progress event, unless the user asked for JSON (then only the
 * result is printed); deploy/join/leave/sync on a terminal: a live line per host.
 */
export function eventPrinter(id: string, json: boolean, out: Terminal = process.stdout): EventPrinter {
  const finish = { finish: (): void => undefined };
  if (json) return Object.assign(() => undefined, finish);
  if (out.isTTY && LIVE.has(id)) return livePrinter(out);
  const mode = id === 'vpc.destroy' ? 'destroy' : 'collapse';
  // collapse and destroy have always printed only their hosts' lines.
  const teardown = id === 'vpc.collapse' || id === 'vpc.destroy';
  const put = (line: string): void => {
    out.write(`${line}\n`);
  };
  const print = (line: string | null): void => {
    if (line !== null) put(line);
  };
  return Object.assign((e: OperationEvent): void => {
    if ((teardown && e.type === 'checking') || e.type === 'accepted') return;
    switch (e.type) {
      case 'synced':
        return put(syncLine(e.outcome));
      case 'torn_down':
        return put(teardownLine(mode, e.outcome));
      case 'leaving':
        return put(`${e.node}: leaving ${e.vpc}`);
      case 'converge':
        return print(eventLine(e.event));
      case 'left':
        return put(summaryLine(e.result));
      case 'answered':
      case 'told':
      case 'vpc_updated':
        return print(updateEventLine(e));
      default:
        return print(eventLine(e));
    }
  }, finish);
}

type Printer = (result: never, p: Params) => number;

const rows = (p: Params, id: string, list: readonly object[]): number => {
  const op = operation(id);
  printRows(p, list as Record_[], op.defaultColumns ?? op.columns ?? []);
  return 0;
};

const json = (value: unknown): number => {
  say(JSON.stringify(value, null, 2));
  return 0;
};

/** Results that say whether everything went through: the summary or the JSON, exit 1 if not. */
const done = <R extends { readonly ok: boolean }>(summary: (r: R) => string) => (r: R, p: Params): number => {
  say(p.flag('json') ? JSON.stringify(r, null, 2) : summary(r));
  return r.ok ? 0 : 1;
};

function jailLines(r: { readonly spared: readonly string[] }, ...lines: string[]): number {
  for (const s of r.spared) warn(`${s} is not meshvpc's; left alone`);
  for (const l of lines) say(l);
  return 0;
}

/** One etcd member's part in a CRL push (node mode=remove, cluster mode=push_crl). */
const crlLine = (m: MemberCrl): string => `  ${m.name}: ${m.ok ? `CRL replaced, etcd ${m.etcd ?? '?'}, healthy (${m.seconds.toFixed(1)}s)${m.error ? `; ${m.error}` : ''}` : `FAILED: ${m.error ?? ''}`}`;

const PRINTERS: Readonly<Record<string, Printer>> = {
  initenv: (r: InitenvResult) => {
    say(`${r.nodename}: ${r.updated ? 'updated' : 'initialised'} in ${r.home}`);
    say(`  nodeip=${r.ip4 ?? '-'} nodeip6=${r.ip6 ?? '-'}`);
    const note = { kept: '', new: ' (new)', replaced: ' (new: the old one was malformed and could never authenticate; add this host to its peers again with node mode=add)' }[r.keyState];
    say(`  cluster key ${r.key}${note}`);
    say(`  wireguard key ${r.wgKey}${r.wgKeyNew ? ' (new)' : ''} port ${r.wgPort}`);
    return 0;
  },
  'vpc.list': (r: VpcRow[], p) => rows(p, 'vpc.list', r),
  'vpc.show': (r: unknown) => json(r),
  'vpc.init': (r: InitResult) => {
    const d = r.vpc;
    say(`${r.dryrun ? '[dryrun] ' : ''}${d.name}: defined on ${r.node}: peer_network ${d.peerNetwork}, IPv${d.family} underlay, members ${d.members.map((x) => x.node).join(', ')}`);
    return 0;
  },
  'vpc.init_peers': (r: AllocateResult, p) => {
    for (const u of r.unreachable) warn(`${u.host}: UNREACHABLE: ${u.error} (its VXLAN ids are checked when the map is synced)`);
    const underlay = new Map(r.vpc.members.map((x) => [x.node, x.underlay]));
    return rows(
      p,
      'vpc.init_peers',
      r.vpc.pairs.map((x) => ({
        vni: x.vni,
        node_a: x.a,
        addr_a: `${x.addrA}/${x.prefix}`,
        node_b: x.b,
        addr_b: `${x.addrB}/${x.prefix}`,
        underlay: `${underlay.get(x.a)} <-> ${underlay.get(x.b)}`,
      })),
    );
  },
  'vpc.sync': done<SyncResult>(syncSummary),
  'vpc.init_vxlan': printApply,
  'vpc.init_bridge': printApply,
  'vpc.destroy_vxlan': printApply,
  'vpc.destroy_bridge': printApply,
  'vpc.apply': printApply,
  'vpc.down': printApply,
  'vpc.remove': printApply,
  'vpc.deploy': done<ConvergeResult>(summaryLine),
  'vpc.join': done<ConvergeResult>(summaryLine),
  'vpc.leave': done<ConvergeResult>(summaryLine),
  'vpc.status': (r: StatusResult, p) => {
    rows(p, 'vpc.status', r.hosts.flatMap((h): object[] => (h.ok ? [...h.tunnels] : [{ node: h.node, error: h.error }])));
    for (const h of r.hosts) if (!h.ok) warn(`${h.node}: ${h.error ?? ''}`);
    return r.ok ? 0 : 1;
  },
  'vpc.check_mtu': (r: MtuCheck[], p) => {
    rows(p, 'vpc.check_mtu', r);
    return r.every((x) => x.pmtu_ok !== false || x.capped) ? 0 : 1;
  },
  'vpc.collapse': (r: TeardownResult) => teardownSummary(r),
  'vpc.destroy': (r: TeardownResult) => teardownSummary(r),
  'vpc.init_rc': (r: InitRcResult) => {
    if (r.dryrun) say(`[dryrun] ${r.path}:\n${r.content}${r.enable.map((c) => `[dryrun] ${c.join(' ')}`).join('\n')}`);
    else if (r.enabled) say(`${r.path} written and enabled`);
    else say(`${r.path} written; systemd is not running here, enable it with: ${r.enable.map((c) => c.join(' ')).join('; ')}`);
    return 0;
  },
  'node.add': (r: AddResult) => {
    say(`${r.name}: ${r.refreshed ? 'refreshed' : 'added'} (${r.address}, ${r.platform}, host key ${r.hostkey})`);
    return 0;
  },
  'node.list': (r: NodeRow[], p) => rows(p, 'node.list', r),
  'node.show': (r: NodeShow, p) => {
    if (p.flag('json')) {
      say(JSON.stringify(r, null, 2));
      return r.reachable ? 0 : 1;
    }
    say(`${r.name}: ${r.reachable ? `reachable, meshvpc ${r.version ?? '?'} on ${r.platform}` : `UNREACHABLE: ${r.error ?? ''}`}`);
    say(`  addresses  ${[r.ip4, r.ip6].filter((a) => a !== null).join(', ') || '-'}`);
    say(`  ssh        ${r.ssh}, host key ${r.hostkey}`);
    say(`  vpcs       ${r.vpcs.map((x) => `${x.vpc} (at ${x.underlay})`).join(', ') || '-'}`);
    if (r.reachable) say(`  containers ${r.containers.map((c) => `${c.jname} (${c.interface}, ${c.status})`).join(', ') || '-'}`);
    return r.reachable ? 0 : 1;
  },
  'node.remove': (r: RemoveResult, p) => {
    const ok = r.revocation === null || r.revocation.ok;
    if (p.flag('json')) return json(r) + (ok ? 0 : 1);
    if (r.warning !== null) say(`warning: ${r.warning}`);
    say(`${r.name}: removed`);
    const rv = r.revocation;
    if (rv) {
      if (rv.note !== null) say(`${r.name}: ${rv.note}`);
      if (rv.serial !== null) say(`${r.name}: etcd client certificate ${rv.serial} revoked; new CRL on ${rv.members.filter((m) => m.ok).length} of ${rv.members.length} etcd members`);
      for (const m of rv.members) say(crlLine(m));
    }
    return ok ? 0 : 1;
  },
  'node.repin': (r: RepinResult) => {
    say(`${r.name}: host key ${r.before} -> ${r.after}`);
    return 0;
  },
  'node.update': (r: UpdateResult, p) => {
    for (const line of p.flag('json') ? [JSON.stringify(r, null, 2)] : updateLines(r)) say(line);
    return r.ok ? 0 : 1;
  },
  jcreate: (r: JailResult) =>
    jailLines(
      r,
      `${r.jname}: created on ${r.node}, interface ${r.interface}${r.nics
        .filter((n) => n.addresses.length > 0)
        .map((n) => `, ${n.dev} ${n.addresses.join(', ')}`)
        .join('')}`,
      ...(r.running ? [`${r.jname}: started`] : []),
    ),
  jstart: (r: JailResult) => jailLines(r, `${r.jname}: started`),
  jstop: (r: JailResult) => jailLines(r, `${r.jname}: stopped`),
  jremove: (r: JailResult) => jailLines(r, `${r.jname}: removed`),
  jls: (r: JlsResult, p) => {
    for (const u of r.unreachable) warn(`${u.node}: ${u.error}`);
    return rows(p, 'jls', r.containers);
  },
  jwhereis: (r: WhereisResult, p) => {
    for (const u of r.unreachable) warn(`${u.node}: ${u.error}`);
    if (p.flag('json')) say(JSON.stringify(r.nodes));
    else for (const n of r.nodes) say(n);
    if (r.nodes.length > 0) return 0;
    warn(`no guest named ${r.jname} on any reachable host`);
    return 1;
  },
  bcreate: (r: VmResult) =>
    jailLines(
      r,
      `${r.jname}: VM created on ${r.node}, interface ${r.interface}${r.addresses.length > 0 ? `, eth0 ${r.addresses.join(', ')}` : ''}`,
      ...(r.running ? [`${r.jname}: started (${r.accel})`] : []),
    ),
  bstart: (r: VmResult) => jailLines(r, `${r.jname}: started (${r.accel})`),
  bstop: (r: VmResult) => jailLines(r, `${r.jname}: stopped`),
  bremove: (r: VmResult) => jailLines(r, `${r.jname}: removed`),
  bls: (r: VmRow[], p) => rows(p, 'bls', r),
  bconsole: (r: ConsoleResult) => {
    process.stdout.write(r.text.endsWith('\n') || r.text === '' ? r.text : `${r.text}\n`);
    return 0;
  },
  'guests.start_all': (r: StartAllResult, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    for (const g of r.guests) say(`${g.jname}: ${g.result === 'failed' ? `FAILED: ${g.error ?? ''}` : g.result}`);
    say(`${r.node}: ${r.guests.filter((g) => g.result === 'started').length} started, ${r.guests.filter((g) => g.result === 'running').length} already running, ${r.guests.filter((g) => g.result === 'failed').length} failed`);
    return r.ok ? 0 : 1;
  },
  'vpc.rotate_keys': (r: RotateResult, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    if (r.dryrun) say(`[dryrun] ${r.node}: would replace WireGuard key ${r.before}`);
    else say(`${r.node}: WireGuard key ${r.before} -> ${r.after ?? '?'}`);
    for (const c of r.vpcs) say(summaryLine(c));
    for (const a of r.agents ?? []) say(`${a.host}: ${a.vpc} ${a.ok ? 'applied with the new key' : `FAILED: ${a.error ?? ''}`}`);
    if (r.agents) say(`${r.node}: new key in the cluster's store; ${r.agents.filter((a) => a.ok).length} of ${r.agents.length} member agents applied it`);
    else if (!r.dryrun && r.vpcs.length === 0) say(`${r.node}: in no encrypted VPC; its peers learn the new key at the next deploy`);
    return r.ok ? 0 : 1;
  },
  'vpc.set': (r: SetResult, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    const gn = (x: SetResult['after']): string => (x.guestNetwork ? `${x.guestNetwork.network}${x.guestNetwork.gateway ? ` via ${x.guestNetwork.gateway}` : ''}` : 'none');
    say(`${r.dryrun ? '[dryrun] ' : ''}${r.vpc}: quota ${describeQuota(r.before.quota)} -> ${describeQuota(r.after.quota)}; guest_network ${gn(r.before)} -> ${gn(r.after)}; encrypt ${r.encryptBefore} -> ${r.encryptAfter}`);
    if (!r.dryrun) say(`${r.vpc}: set on ${r.hosts.filter((h) => h.ok).length + 1} of ${r.hosts.length + 1} members`);
    return r.ok ? 0 : 1;
  },
  'token.create': (r: CreatedToken, p) => {
    if (p.flag('json')) return json(r);
    say(r.token);
    warn(`token ${r.name} (${r.role}) created; it is shown only this once`);
    return 0;
  },
  'token.list': (r: TokenRow[], p) => rows(p, 'token.list', r),
  'cluster.init': (r: ClusterInitResult, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    say(`backend etcd${r.managed ? '' : ' (existing)'}: members ${r.members.map((m) => `${m.name} (${m.client_urls.join(', ')})`).join(', ')}`);
    for (const h of r.hosts) say(`  ${h.node}: ${h.ok ? `${h.role === 'member' ? 'member certificates and ' : ''}client certificate` : `FAILED: ${h.error ?? ''}`}`);
    if (r.next) say(r.next);
    return r.ok ? 0 : 1;
  },
  'cluster.migrate': (r: MigrateResult, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    for (const m of r.vpcs) {
      const c = m.converge;
      if (m.result === 'present') say(`${m.vpc}: already in the store, left as the store has it`);
      else if (m.result === 'refused') say(`${m.vpc}: not moved: ${m.error ?? ''}`);
      else if (r.dryrun) say(`[dryrun] ${m.vpc}: would move into the store`);
      else say(`${m.vpc}: ${m.result === 'signed' ? 'signed again in the store (it was written by meshvpc 0.5)' : 'moved into the store'}; ${c?.converged ?? 0} of ${c?.members ?? 0} agents applied it${c && c.changes > 0 ? ` (${c.changes} changes)` : ''}${c?.ok ? '' : `: ${c?.hosts.filter((h) => !h.ok).map((h) => `${h.host}: ${h.error ?? ''}`).join('; ') ?? ''}`}`);
    }
    if (r.vpcs.length === 0) say(`${r.node} is a member of no VPC: nothing to move`);
    return r.ok ? 0 : 1;
  },
  'cluster.add_member': (r: MemberChangeResult, p) => memberChange(r, p),
  'cluster.remove_member': (r: MemberChangeResult, p) => memberChange(r, p),
  'cluster.push_crl': (r: CrlPush, p) => {
    if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
    say(`the cluster's CRL on ${r.members.filter((m) => m.ok).length} of ${r.members.length} etcd members`);
    for (const m of r.members) say(crlLine(m));
    return r.ok ? 0 : 1;
  },
  'cluster.show': (r: ClusterShowResult, p) => {
    if (p.flag('json')) return json(r) + (r.healthy ? 0 : 1);
    say(`backend ${r.backend}${r.managed === false ? ' (existing etcd)' : ''}`);
    for (const m of r.members) say(`  ${m.name}  ${m.client_urls.join(',')}  ${m.healthy ? `healthy${m.leader ? ', leader' : ''}${m.version ? `, etcd ${m.version}` : ''}` : `UNHEALTHY: ${m.error ?? ''}`}`);
    if (r.hosts.length > 0) say(`hosts (as each agent says itself): ${r.hosts.map((h) => `${h.node} ${[h.ip4, h.ip6].filter((a) => a !== null).join(',')} ${h.platform} meshvpc ${h.version}`).join('; ')}`);
    return r.healthy ? 0 : 1;
  },
  'token.revoke': (r: { name: string }) => {
    say(`${r.name}: revoked`);
    return 0;
  },
};

function memberChange(r: MemberChangeResult, p: Params): number {
  if (p.flag('json')) return json(r) + (r.ok ? 0 : 1);
  say(`${r.node}: ${r.change === 'added' ? 'added to' : 'removed from'} the etcd cluster; members ${r.members.join(', ')}`);
  for (const h of r.hosts) say(`  ${h.node}: ${h.ok ? 'has the new member list' : `FAILED: ${h.error ?? ''} (it keeps reaching the members it knew)`}`);
  const rv = r.revocation;
  if (rv?.note) say(rv.note);
  else if (rv) {
    say(`${r.node}'s server and peer certificates revoked (serials ${rv.serial ?? '?'}); the CRL on ${rv.members.filter((m) => m.ok).length} of ${rv.members.length} etcd members`);
    for (const m of rv.members) say(crlLine(m));
  }
  if (r.next) say(r.next);
  return r.ok ? 0 : 1;
}

function teardownSummary(r: TeardownResult): number {
  printApply(r.self);
  say(`${r.vpc}: ${r.mode === 'collapse' ? 'collapsed' : 'destroyed'} on ${r.done} of ${r.members} hosts`);
  return r.ok ? 0 : 1;
}

export function render(id: string, result: unknown, p: Params): number {
  const printer = PRINTERS[id];
  if (!printer) throw new Error(`no printer for ${id}`);
  return (printer as (r: unknown, p: Params) => number)(result, p);
}
