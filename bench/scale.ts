/**
 * Scale (issue 13, item 5) with the SSH-push backend: one VPC over 16, 32 and
 * 64 lab hosts. Per size and run, on a fresh lab of N+1 hosts: deploy over N
 * and wait until every host's N-1 tunnels are present and up (`vpc
 * mode=status --json`), a no-op redeploy (members left alone as current), the
 * same with full=1 (every member applied: what a no-op redeploy cost before),
 * the (N+1)th host joining, and a container on each of 8 sampled hosts
 * reaching the other 7. Peak RSS of the deploying CLI from GNU time.
 *
 * Sizes and runs: `BENCH_SCALE=16x2,32x2,64x1` (size x runs, in order); the
 * default is one run of each of 16, 32 and 64 (quick: one of 4).
 * `BENCH_SCALE_NEIGH=dynamic` builds the labs without the permanent underlay
 * neighbour entries (to see what they are for). `BENCH_SCALE_BACKEND=etcd`:
 * the same with a 3-member etcd on hosts 1-3 and `meshvpc agent` on every
 * host (deploy and join go through the store), plus the agents' idle CPU and
 * RSS and etcd's database size.
 */
import { readFileSync } from 'node:fs';
import { startLabProcess, type LabState } from '../src/lab/lab.js';
import type { ConvergeResult } from '../src/app/vpc-cluster.js';
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { BenchError, mvOk, pool, shOk, sleep, timedMvOk, type Timed } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { neighDelta, neighStats, type NeighStats } from './lib/neigh.js';
import { allPairs, type Guest } from './lib/reach.js';
import { median, now, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

// 64 hosts make 2016 pairs of 4 addresses each: an IPv6 /112 holds them (blocks of /126).
const PEER_NETWORK = '2001:db8:ffff::/112';
// fdb=learn: the figures in RESULTS.md were taken before fdb=control existed, and a no-op deploy
// leaves members alone only on a flood-and-learn VPC (app/vpc-cluster.ts, currentOf).
const SAMPLED = 8;
/** How long a status may keep saying "not yet" before the run gives up. */
const CONVERGE_DEADLINE_MS = 300_000;

export interface ScaleRun {
  readonly hosts: number;
  /** ssh: the embedded backend (SSH push); etcd: a 3-member etcd on hosts 1-3 and an agent on every host. */
  readonly backend: 'ssh' | 'etcd';
  /** etcd: the agents' CPU (s, summed) over IDLE_S idle seconds after everything, their RSS (MiB: median, max), etcd's database size (MiB). */
  readonly agentIdleCpuS: number | null;
  readonly agentRssMiB: readonly [number | null, number | null] | null;
  readonly etcdDbMiB: number | null;
  /** How the lab's hosts know each other's underlay addresses (LabOptions.neighbours). */
  readonly neighbours: 'permanent' | 'dynamic';
  readonly run: number;
  readonly labS: number;
  readonly nodeAddS: number;
  readonly deployS: number;
  readonly deployChanges: number;
  /** Deploy start to the first status in which every one of the N(N-1) tunnels is present and up. */
  readonly convergedS: number | null;
  /** The last status call alone (it pings every tunnel: its own cost grows with N(N-1)). */
  readonly statusS: number;
  readonly statusCalls: number;
  readonly tunnelsUp: number;
  readonly tunnels: number;
  /** Tunnels whose round-trip ping answered in that status (the rest: see the RESULTS.md reading). */
  readonly tunnelsRtt: number;
  readonly deployRssKiB: number | null;
  readonly deployCpuS: number | null;
  readonly noopS: number;
  readonly noopCurrent: number;
  readonly noopChanges: number;
  readonly noopRssKiB: number | null;
  readonly fullS: number;
  readonly fullChanges: number;
  readonly joinS: number;
  readonly joinConverged: string;
  readonly joinRssKiB: number | null;
  /** The joined host's own tunnels (ip link), all up. */
  readonly joinTunnelsUp: number;
  readonly guestsS: number;
  readonly reachS: number;
  readonly pairs: number;
  readonly unreached: readonly string[];
  readonly neighFull: NeighStats;
}

const parse = (t: Timed): ConvergeResult => {
  try {
    return JSON.parse(t.stdout) as ConvergeResult;
  } catch {
    throw new BenchError(`not JSON from deploy: ${t.stdout.slice(0, 200)}`);
  }
};

interface StatusRow {
  readonly node: string;
  readonly present: boolean;
  readonly up: boolean;
  readonly rtt_ms: number | null;
  readonly error?: string | null;
}

/** Status from host1 until every tunnel of every member is present and up. */
async function untilConverged(lab: LabState, n: number, since: number): Promise<{ convergedS: number | null; statusS: number; calls: number; up: number; rtt: number }> {
  const want = n * (n - 1);
  let calls = 0;
  for (;;) {
    const t = now();
    const rows = JSON.parse(await mvOk(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json')) as StatusRow[];
    const statusS = (now() - t) / 1000;
    calls++;
    const up = rows.filter((r) => r.present && r.up && !r.error).length;
    const rtt = rows.filter((r) => r.rtt_ms !== null).length;
    if (up === want) return { convergedS: (now() - since) / 1000, statusS, calls, up, rtt };
    if (now() - since > CONVERGE_DEADLINE_MS) return { convergedS: null, statusS, calls, up, rtt };
    await sleep(1000);
  }
}

/** 8 hosts spread evenly over 1..n. */
const sample = (n: number): number[] => [...new Set(Array.from({ length: Math.min(SAMPLED, n) }, (_, i) => 1 + Math.round((i * (n - 1)) / Math.max(1, Math.min(SAMPLED, n) - 1))))];

/** Idle seconds over which the agents' CPU is measured (backend=etcd). */
const IDLE_S = 20;

/** A process's CPU time (s) and RSS (KiB) from /proc. */
function procUsage(pid: number): { cpuS: number; rssKiB: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuS: ticks / 100, rssKiB: Number(rss?.[1] ?? 0) };
  } catch {
    return null;
  }
}

async function scaleOnce(n: number, run: number, backend: 'ssh' | 'etcd'): Promise<ScaleRun> {
  const t0 = now();
  const neighbours = process.env.BENCH_SCALE_NEIGH === 'dynamic' ? 'dynamic' : 'permanent';
  return withLab({ hosts: n + 1, underlay: 'v4', neighbours, ...(backend === 'etcd' ? { etcd: 3 } : {}) }, async (lab) => {
    const labS = (now() - t0) / 1000;
    const tn = now();
    // With etcd= the lab's host1 already added every host (to hand out certificates).
    if (backend === 'ssh') for (const h of lab.hosts) if (h.index !== 1) await mvOk(lab, 1, 'node', 'mode=add', `node=${h.ip4 ?? h.ip6}`);
    const agents = backend === 'etcd' ? lab.hosts.map((h) => startLabProcess(lab, h.index, 'agent', ['meshvpc', 'agent'])) : [];
    const nodeAddS = (now() - tn) / 1000;
    const n0 = neighStats();
    const members = Array.from({ length: n }, (_, i) => `host${i + 1}`).join(',');

    const td = now();
    const deploy = await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', `node_member=${members}`, `peer_network=${PEER_NETWORK}`, 'fdb=learn', '--json');
    const deployed = parse(deploy);
    if (!deployed.ok) throw new BenchError(`deploy on ${n} hosts: ${deployed.converged}/${deployed.members} converged`);
    const conv = await untilConverged(lab, n, td);

    const noop = await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', '--json');
    const noopR = parse(noop);
    const full = await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'full=1', '--json');
    const fullR = parse(full);

    const joiner = n + 1;
    const join = await timedMvOk(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc1', `node=host${joiner}`, '--json');
    const joinR = parse(join);
    const own = JSON.parse(await shOk(lab, joiner, 'ip', '-json', 'link', 'show', 'type', 'vxlan')) as { flags: string[] }[];
    const joinTunnelsUp = own.filter((l) => l.flags.includes('UP')).length;

    const guests: Guest[] = sample(n).map((h) => ({ host: h, jname: `j${h}`, address: `2001:db8:c::${h}` }));
    const tg = now();
    await pool(guests, 4, (g) => mvOk(lab, g.host, 'jcreate', `jname=${g.jname}`, `ip6_addr=${g.address}/64`, 'interface=vpc1', 'vnet=1', 'runasap=1'));
    const guestsS = (now() - tg) / 1000;
    const reach = await allPairs(lab, guests, { deadlineS: 30, parallel: 4 });
    const neighFull = neighDelta(n0, neighStats());

    let agentIdleCpuS: number | null = null;
    let agentRssMiB: readonly [number | null, number | null] | null = null;
    let etcdDbMiB: number | null = null;
    if (backend === 'etcd') {
      const before = agents.map((a) => procUsage(a.pid));
      await sleep(IDLE_S * 1000);
      const after = agents.map((a) => procUsage(a.pid));
      agentIdleCpuS = round(after.reduce((sum, u, i) => sum + (u && before[i] ? u.cpuS - (before[i]?.cpuS ?? 0) : 0), 0), 2);
      const rss = after.flatMap((u) => (u ? [u.rssKiB / 1024] : []));
      agentRssMiB = [round(median(rss), 1), round(Math.max(...rss), 1)];
      const pki = '/var/db/meshvpc/etcd/pki';
      const st = JSON.parse(await shOk(lab, 1, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=https://${lab.hosts[0]?.ip4 ?? ''}:2379`, `--cacert=${pki}/ca.crt`, `--cert=${pki}/client.crt`, `--key=${pki}/client.key`, 'endpoint', 'status', '-w', 'json')) as { Status?: { dbSize?: number } }[];
      etcdDbMiB = round((st[0]?.Status?.dbSize ?? 0) / 1024 / 1024, 2);
    }

    const r: ScaleRun = {
      hosts: n,
      backend,
      agentIdleCpuS,
      agentRssMiB,
      etcdDbMiB,
      neighbours,
      run,
      labS,
      nodeAddS,
      deployS: deploy.ms / 1000,
      deployChanges: deployed.changes,
      convergedS: conv.convergedS,
      statusS: conv.statusS,
      statusCalls: conv.calls,
      tunnelsUp: conv.up,
      tunnels: n * (n - 1),
      tunnelsRtt: conv.rtt,
      deployRssKiB: deploy.maxRssKiB,
      deployCpuS: deploy.cpuS,
      noopS: noop.ms / 1000,
      noopCurrent: noopR.current.length,
      noopChanges: noopR.changes,
      noopRssKiB: noop.maxRssKiB,
      fullS: full.ms / 1000,
      fullChanges: fullR.changes,
      joinS: join.ms / 1000,
      joinConverged: `${joinR.converged}/${joinR.members}`,
      joinRssKiB: join.maxRssKiB,
      joinTunnelsUp,
      guestsS,
      reachS: reach.ms / 1000,
      pairs: reach.pairs,
      unreached: reach.unreached,
      neighFull,
    };
    process.stdout.write(
      `  ${n} hosts${backend === 'etcd' ? ' (etcd + agents)' : ''}${neighbours === 'dynamic' ? ' (dynamic underlay neighbours)' : ''}, run ${run}: lab ${fmt(labS, 1)}s, node add ${fmt(nodeAddS, 1)}s, deploy ${fmt(r.deployS)}s, converged ${fmt(r.convergedS)}s ` +
        `(${r.tunnelsUp}/${r.tunnels} up, status ${fmt(r.statusS)}s x${r.statusCalls}), no-op ${fmt(r.noopS)}s (${r.noopCurrent} current), ` +
        `full=1 ${fmt(r.fullS)}s, join ${fmt(r.joinS)}s (${r.joinConverged}, ${joinTunnelsUp}/${n} own tunnels up), ` +
        `guests ${r.pairs - r.unreached.length}/${r.pairs} in ${fmt(r.reachS)}s, RSS ${fmt((r.deployRssKiB ?? Number.NaN) / 1024, 1)} MiB` +
        `${neighFull.arpTableFulls + neighFull.ndTableFulls > 0 ? `, neighbour table FULL ${neighFull.arpTableFulls}/${neighFull.ndTableFulls}` : ''}` +
        `${backend === 'etcd' ? `, agents idle ${fmt(agentIdleCpuS)} CPU-s over ${IDLE_S}s, RSS ${agentRssMiB?.join('/') ?? '-'} MiB (median/max), etcd db ${fmt(etcdDbMiB)} MiB` : ''}\n`,
    );
    return r;
  });
}

/** "16x2,32x2,64x1" -> [16, 16, 32, 32, 64]. */
export function plan(spec: string | undefined, quick: boolean): number[] {
  if (!spec) return quick ? [4] : [16, 32, 64];
  return spec.split(',').flatMap((part) => {
    const m = /^(\d+)(?:x(\d+))?$/.exec(part.trim());
    if (!m) throw new BenchError(`BENCH_SCALE: bad part ${JSON.stringify(part)} (want SIZExRUNS, e.g. 16x2,32x2,64x1)`);
    const size = Number(m[1]);
    if (size < 2 || size > 199) throw new BenchError(`BENCH_SCALE: ${size} hosts: 2-199 (the lab adds one to join)`);
    return Array.from({ length: Number(m[2] ?? 1) }, () => size);
  });
}

/** min / median / max of one figure over a size's runs ("x" alone for one run). */
function spread(xs: readonly (number | null)[], digits = 2): string {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return '-';
  if (v.length === 1) return fmt(v[0], digits);
  return `${fmt(Math.min(...v), digits)} / ${fmt(median(v), digits)} / ${fmt(Math.max(...v), digits)}`;
}

export function tables(runs: readonly ScaleRun[]): Table[] {
  const sizes = [...new Set(runs.map((r) => r.hosts))];
  const of = (n: number): ScaleRun[] => runs.filter((r) => r.hosts === n);
  const col = (n: number, f: (r: ScaleRun) => number | null, digits = 2): string => spread(of(n).map(f), digits);
  const summary: Table = {
    title: `One VPC over N hosts, ${runs[0]?.backend === 'etcd' ? 'etcd + an agent per host' : 'SSH push'} (s; min / median / max over the runs)`,
    columns: ['hosts', 'runs', 'tunnels', 'deploy', 'to all up', 'status call', 'no-op redeploy', 'left alone', 'full=1 redeploy', 'no-op / full=1', 'join 1 more', 'guests reach', 'deploy RSS MiB'],
    rows: sizes.map((n) => [
      n,
      of(n).length,
      n * (n - 1),
      col(n, (r) => r.deployS),
      col(n, (r) => r.convergedS),
      col(n, (r) => r.statusS),
      col(n, (r) => r.noopS),
      of(n).map((r) => `${r.noopCurrent}/${n}`).join(' '),
      col(n, (r) => r.fullS),
      col(n, (r) => r.noopS / r.fullS),
      col(n, (r) => r.joinS),
      of(n).map((r) => `${r.pairs - r.unreached.length}/${r.pairs}`).join(' '),
      col(n, (r) => (r.deployRssKiB === null ? null : r.deployRssKiB / 1024), 1),
    ]),
    note:
      'to all up = from the start of the deploy to the end of the first `vpc mode=status --json` in which all N(N-1) tunnels are present and up (status pings every tunnel, so its own time is part of it). ' +
      'no-op / full=1 = the ratio within each run. guests reach = ordered pairs of the 8 sampled containers that answered a ping.',
  };
  const detail: Table = {
    title: 'Every run',
    columns: ['hosts', 'backend', 'run', 'lab up', 'node add (all)', 'deploy', 'changes', 'deploy CPU s', 'to all up', 'status calls', 'tunnels up', 'rtt answered', 'no-op', 'full=1', 'join', 'joined', 'joiner tunnels up', 'no-op RSS MiB', 'join RSS MiB', 'table full ARP/ND', `agents idle CPU-s / ${IDLE_S}s`, 'agent RSS MiB median/max', 'etcd db MiB'],
    rows: runs.map((r) => [
      r.hosts,
      r.backend,
      r.run,
      fmt(r.labS, 1),
      fmt(r.nodeAddS, 1),
      fmt(r.deployS),
      r.deployChanges,
      fmt(r.deployCpuS),
      fmt(r.convergedS),
      r.statusCalls,
      `${r.tunnelsUp}/${r.tunnels}`,
      `${r.tunnelsRtt}/${r.tunnels}`,
      fmt(r.noopS),
      fmt(r.fullS),
      fmt(r.joinS),
      r.joinConverged,
      `${r.joinTunnelsUp}/${r.hosts}`,
      fmt((r.noopRssKiB ?? Number.NaN) / 1024, 1),
      fmt((r.joinRssKiB ?? Number.NaN) / 1024, 1),
      `${r.neighFull.arpTableFulls}/${r.neighFull.ndTableFulls}`,
      r.agentIdleCpuS === null ? '-' : fmt(r.agentIdleCpuS),
      r.agentRssMiB === null ? '-' : r.agentRssMiB.join('/'),
      r.etcdDbMiB === null ? '-' : fmt(r.etcdDbMiB),
    ]),
    note: 'rtt answered = tunnels whose round trip (ping to the far end\'s pair address) answered in that status; table full = times the kernel\'s shared ARP/ND table was full during the run (should be 0/0).',
  };
  return [summary, detail];
}

export const scaleBench: Benchmark = {
  name: 'scale',
  title: 'Scale: one VPC over 16, 32 and 64 hosts (SSH push)',
  method:
    'For each size N a fresh IPv4 lab of N+1 hosts (permanent underlay neighbour entries, see src/lab/lab.ts), host1 adds every other host, then ' +
    '`vpc mode=deploy vpc_name=vpc1 node_member=host1,...,hostN peer_network=2001:db8:ffff::/112 fdb=learn --json` on host1 under GNU time; ' +
    '`vpc mode=status --json` from host1 until all N(N-1) tunnels are present and up; a no-op `vpc mode=deploy` and one with `full=1`; ' +
    '`vpc mode=join node=hostN+1`; then `jcreate` on 8 hosts spread over 1..N (IPv6 2001:db8:c::H/64) and every one of them pings the other 7.',
  async run(opts: Options): Promise<Outcome> {
    const sizes = plan(process.env.BENCH_SCALE, opts.quick);
    const backend = process.env.BENCH_SCALE_BACKEND === 'etcd' ? 'etcd' : 'ssh';
    const runs: ScaleRun[] = [];
    const count = new Map<number, number>();
    for (const n of sizes) {
      count.set(n, (count.get(n) ?? 0) + 1);
      runs.push(await scaleOnce(n, count.get(n) ?? 1, backend));
    }
    const biggest = Math.max(...sizes);
    const at = runs.filter((r) => r.hosts === biggest);
    return {
      tables: tables(runs),
      targets: [
        { what: `${biggest} hosts deployed, every tunnel up`, goal: `${biggest * (biggest - 1)} tunnels`, value: at.map((r) => `${r.tunnelsUp}`).join(', '), met: at.every((r) => r.tunnelsUp === r.tunnels) },
        { what: `no-op redeploy leaves every member alone (${biggest} hosts)`, goal: `${biggest} current`, value: at.map((r) => `${r.noopCurrent}`).join(', '), met: at.every((r) => r.noopCurrent === biggest) },
        { what: `8 sampled guests reach each other (${biggest} hosts)`, goal: '56/56', value: at.map((r) => `${r.pairs - r.unreached.length}/${r.pairs}`).join(', '), met: at.every((r) => r.unreached.length === 0) },
      ],
      data: { runs: runs.map((r) => ({ ...r, noopOverFull: round(r.noopS / r.fullS, 3) })) },
    };
  },
};
