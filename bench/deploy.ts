/**
 * Deploy scaling: one `vpc mode=deploy` from host1 on fresh labs of 2..32
 * hosts, with meshvpc's default host concurrency and with concurrency=1 (the
 * article's host-by-host way), then containers on every host and all-pairs
 * pings. Also records the CLI's peak RSS for every deploy (see memory.ts).
 */
import type { LabState } from '../src/lab/lab.js';
import { fmt, pct, type Benchmark, type Options, type Outcome, type Target } from './lib/bench.js';
import { cpuBusy, cpuSample } from './lib/cpu.js';
import { joinFromHost1, mvOk, pool, timedMvOk } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { neighDelta, neighStats, type NeighStats } from './lib/neigh.js';
import { allPairs, type Guest } from './lib/reach.js';
import { now, ratio, round } from './lib/stats.js';
import type { Table } from './lib/table.js';
import type { ConvergeResult } from '../src/app/vpc-cluster.js';

export type Mode = 'concurrent' | 'serial';

export interface DeployRun {
  readonly hosts: number;
  readonly mode: Mode;
  readonly labS: number;
  readonly nodeAddS: number;
  /** Wall time of the deploy command as a user sees it (Node start-up included). */
  readonly deployMs: number;
  /** Figures deploy prints in its summary line. */
  readonly reported: Phases | null;
  /** The slowest host's apply, as deploy reports it per host. */
  readonly slowestHostS: number | null;
  readonly cpuBusy: number;
  /** CPU seconds the deploying CLI itself used (the initiator's share of the work). */
  readonly initiatorCpuS: number | null;
  readonly maxRssKiB: number | null;
  readonly containersMs: number;
  readonly reachMs: number;
  readonly pairs: number;
  readonly unreached: readonly string[];
  /** A second deploy, which must change nothing (concurrent mode only). */
  readonly redeployMs: number | null;
  readonly redeployChanges: number | null;
  readonly redeployRssKiB: number | null;
  /** How often the kernel's shared neighbour tables were full from deploy to the end of the pings (should be 0). */
  readonly neighFull: NeighStats;
}

export interface Phases {
  readonly converged: number;
  readonly members: number;
  readonly changes: number;
  readonly seconds: number;
  readonly connectMs: number;
  /** A new VPC is checked on every member before anything is stored (0.2.0); 0 when absent. */
  readonly checkMs: number;
  readonly syncMs: number;
  readonly applyMs: number;
}

/** `vpc mode=deploy --json` prints the result as data; nothing here reads prose. */
function parseResult(out: string): ConvergeResult | null {
  try {
    return JSON.parse(out) as ConvergeResult;
  } catch {
    return null;
  }
}

export function phasesOf(r: ConvergeResult | null): Phases | null {
  if (!r) return null;
  // Sync and apply are one request per peer since 0.1.0: sync is 0.
  return { converged: r.converged, members: r.members, changes: r.changes, seconds: r.seconds, connectMs: r.timing.connectMs, checkMs: r.timing.checkMs ?? 0, syncMs: 0, applyMs: r.timing.applyMs };
}

const slowestHost = (r: ConvergeResult | null): number | null => {
  const times = (r?.hosts ?? []).filter((h) => h.ok && h.role === 'member').map((h) => h.seconds);
  return times.length === 0 ? null : Math.max(...times);
};

// 32 hosts make 496 pairs of 4 addresses: more than 198.51.100.0/24 holds, so
// every size uses the same IPv6 documentation /112 (blocks of /126).
const PEER_NETWORK = '2001:db8:ffff::/112';
// IPv4 underlay, IPv6 containers. The kernel's neighbour tables are shared by
// every namespace on this machine and hold 1024 entries each (gc_thresh3, set
// in the root namespace only, which the lab must not touch). 32 hosts need
// 32 x 31 underlay neighbours, and as many again for the containers: in one
// table that overflows ("neighbor table overflow!", pairs that never answer).
// IPv4 for the underlay (ARP keeps one entry per peer) and IPv6 for the guests
// (ND) keeps each table below the cap. Real hosts each have their own tables.
const UNDERLAY = 'v4';
const guestOf = (h: number): Guest => ({ host: h, jname: `j${h}`, address: `2001:db8:c::${h}` });

async function deployOnce(lab: LabState, mode: Mode, labS: number): Promise<DeployRun> {
  const n = lab.hosts.length;
  const t = now();
  await joinFromHost1(lab);
  const nodeAddS = (now() - t) / 1000;

  const n0 = neighStats();
  const args = ['vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', `peer_network=${PEER_NETWORK}`, '--json', ...(mode === 'serial' ? ['concurrency=1'] : [])];
  const c0 = cpuSample();
  const d = await timedMvOk(lab, 1, ...args);
  const busy = cpuBusy(c0, cpuSample());

  // Containers are not part of deploy (they need its bridge), but convergence
  // is defined by them: every container reaches every other.
  const guests = lab.hosts.map((h) => guestOf(h.index));
  const tc = now();
  await pool(guests, 4, (g) => mvOk(lab, g.host, 'jcreate', `jname=${g.jname}`, `ip6_addr=${g.address}/64`, 'interface=vpc1', 'vnet=1', 'runasap=1'));
  const containersMs = now() - tc;
  const reach = await allPairs(lab, guests, { deadlineS: 30, parallel: 8 });
  const neighFull = neighDelta(n0, neighStats());

  const again = mode === 'concurrent' ? await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', '--json') : null;
  const result = parseResult(d.stdout);
  const run: DeployRun = {
    hosts: n,
    mode,
    labS,
    nodeAddS,
    deployMs: d.ms,
    reported: phasesOf(result),
    slowestHostS: slowestHost(result),
    cpuBusy: busy,
    initiatorCpuS: d.cpuS,
    maxRssKiB: d.maxRssKiB,
    containersMs,
    reachMs: reach.ms,
    pairs: reach.pairs,
    unreached: reach.unreached,
    redeployMs: again?.ms ?? null,
    redeployChanges: again ? (parseResult(again.stdout)?.changes ?? null) : null,
    redeployRssKiB: again?.maxRssKiB ?? null,
    neighFull,
  };
  const p = run.reported;
  process.stdout.write(
    `  ${n} hosts, ${mode}: deploy ${fmt(d.ms / 1000)}s (${p ? `${p.converged}/${p.members} converged, ${p.changes} changes` : 'no summary line'}), ` +
      `CPU ${pct(busy)}, containers ${fmt(containersMs / 1000)}s, all ${reach.pairs} pairs ${reach.unreached.length === 0 ? 'reached' : `MISSING ${reach.unreached.length}`} in ${fmt(reach.ms / 1000)}s` +
      `${neighFull.arpTableFulls + neighFull.ndTableFulls > 0 ? `, neighbour table FULL ${neighFull.arpTableFulls} (ARP) ${neighFull.ndTableFulls} (ND) times` : ''}\n`,
  );
  return run;
}

export async function measure(sizes: readonly number[], modes: readonly Mode[]): Promise<DeployRun[]> {
  const runs: DeployRun[] = [];
  // Modes alternate within a size, each on a fresh lab, so a noisy minute
  // on this shared machine hits both sides of a ratio alike.
  for (const n of sizes) {
    for (const mode of modes) {
      const t = now();
      await withLab({ hosts: n, underlay: UNDERLAY }, async (lab) => {
        runs.push(await deployOnce(lab, mode, (now() - t) / 1000));
      });
    }
  }
  return runs;
}

const TARGET_RATIO = 1.3;

let latest: readonly DeployRun[] = [];
/** The runs of the last deploy benchmark in this process, so memory.ts need not build 16 hosts again. */
export const lastRuns = (): readonly DeployRun[] => latest;

export function tables(runs: readonly DeployRun[]): { tables: Table[]; targets: Target[] } {
  const find = (n: number, mode: Mode): DeployRun | undefined => runs.find((r) => r.hosts === n && r.mode === mode);
  const sizes = [...new Set(runs.map((r) => r.hosts))];
  const base = (mode: Mode): number => find(sizes[0] ?? 2, mode)?.deployMs ?? Number.NaN;
  const total = (r: DeployRun | undefined): number => (r ? r.deployMs + r.containersMs + r.reachMs : Number.NaN);
  const scaling: Table = {
    title: `Deploy scaling (fresh labs; t(N)/t(${sizes[0]}) on deploy wall time)`,
    columns: ['hosts', 'pairs', 'changes', 'deploy s', 't/t2', 'to all-pairs s', 'pairs reached', 'CPU busy', 'conc=1 deploy s', 'conc=1 t/t2', 'speed-up', 'conc=1 CPU', 'conc=1 pairs reached'],
    rows: sizes.map((n) => {
      const c = find(n, 'concurrent');
      const s = find(n, 'serial');
      return [
        n,
        (n * (n - 1)) / 2,
        c?.reported?.changes ?? null,
        fmt((c?.deployMs ?? Number.NaN) / 1000),
        fmt(ratio(c?.deployMs ?? Number.NaN, base('concurrent'))),
        fmt(total(c) / 1000),
        c ? `${c.pairs - c.unreached.length}/${c.pairs}` : null,
        pct(c?.cpuBusy),
        fmt((s?.deployMs ?? Number.NaN) / 1000),
        fmt(ratio(s?.deployMs ?? Number.NaN, base('serial'))),
        fmt(ratio(s?.deployMs ?? Number.NaN, c?.deployMs ?? Number.NaN)),
        pct(s?.cpuBusy),
        s ? `${s.pairs - s.unreached.length}/${s.pairs}` : null,
      ];
    }),
    note:
      '"to all-pairs" = deploy + a container per host (jcreate, 4 at a time) + every container pinging every other. ' +
      'CPU busy = share of all of this machine\'s CPUs in use during the deploy (every lab host shares them). Default concurrency is 16 hosts at a time.',
  };
  const phaseRows = runs.map((r) => {
    const p = r.reported;
    return [
      r.hosts,
      r.mode === 'serial' ? 'concurrency=1' : 'default',
      fmt(r.deployMs / 1000),
      p ? fmt(r.deployMs / 1000 - p.seconds) : null,
      p?.connectMs ?? null,
      p?.checkMs ?? null,
      p?.syncMs ?? null,
      p?.applyMs ?? null,
      fmt(r.slowestHostS),
      fmt(r.initiatorCpuS),
      fmt((r.redeployMs ?? Number.NaN) / 1000),
      `${r.neighFull.arpTableFulls}/${r.neighFull.ndTableFulls}`,
    ];
  });
  const phases: Table = {
    title: 'Where deploy time goes (ms, from deploy\'s own result, --json)',
    columns: ['hosts', 'mode', 'wall s', 'start-up s', 'connect', 'check', 'sync', 'apply', 'slowest host s', 'initiator CPU s', 'no-op redeploy s', 'table full ARP/ND'],
    rows: phaseRows,
    note:
      'start-up = wall time minus the time deploy reports for itself (Node start, module loading, database, lock). check = every member checks a new VPC before anything is stored (0.2.0). slowest host = the longest per-host apply deploy printed. ' +
      'initiator CPU = user + system time of the deploying CLI (GNU time), the part of the work that does not spread over the hosts. ' +
      'table full = times the kernel\'s shared ARP/ND table was full from the deploy to the end of the pings (a lab limit; should be 0/0).',
  };
  // The target is set for 16 hosts; a quick run judges its largest size instead and says so.
  const focus = sizes.includes(16) ? 16 : Math.max(...sizes);
  const r = ratio(find(focus, 'concurrent')?.deployMs ?? Number.NaN, base('concurrent'));
  const targets: Target[] = [
    {
      what: `deploy t(${focus})/t(${sizes[0]})${focus === 16 ? '' : ' (target is for 16)'}`,
      goal: `<= ${TARGET_RATIO}`,
      value: fmt(r),
      met: Number.isFinite(r) ? r <= TARGET_RATIO : null,
    },
  ];
  return { tables: [scaling, phases], targets };
}

export const deployBench: Benchmark = {
  name: 'deploy-scaling',
  title: 'Deploy scaling',
  method:
    'For each size a fresh lab (IPv4 underlay 192.0.2.0/24), host1 adds every other host (`node mode=add`), then one ' +
    '`vpc mode=deploy vpc_name=vpc1 node_member=all peer_network=2001:db8:ffff::/112` runs on host1 under GNU time ' +
    '(wall time and peak RSS); the same on another fresh lab with `concurrency=1`. Then `jcreate` puts a container ' +
    '(2001:db8:c::N/64: IPv6 guests on an IPv4 underlay keep 32 hosts inside the kernel\'s shared neighbour tables) on every host and every container pings every other until all N(N-1) pairs answer. With default ' +
    'concurrency a second deploy follows, which must change nothing. One run per size and mode.',
  async run(opts: Options): Promise<Outcome> {
    const runs = await measure(opts.quick ? [2, 4] : [2, 4, 8, 16, 32], ['concurrent', 'serial']);
    latest = runs;
    const t = tables(runs);
    return { ...t, data: { runs: runs.map((r) => ({ ...r, deploySeconds: round(r.deployMs / 1000, 3) })) } };
  },
};
