/**
 * Memory: peak RSS of the meshvpc CLI process that runs `vpc mode=deploy` on
 * 16 hosts, read by GNU time (`/usr/bin/time -f %M`, Debian package `time`).
 * When the deploy benchmark ran in the same process its runs are used, so the
 * figure comes from the very deploys timed there; otherwise a 16-host lab is
 * built for it.
 */
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { runArgv } from './lib/hosts.js';
import { median } from './lib/stats.js';
import type { Table } from './lib/table.js';
import { lastRuns, measure, type DeployRun } from './deploy.js';

const MiB = (kib: number | null | undefined): string => fmt(kib === null || kib === undefined ? Number.NaN : kib / 1024, 1);

/** The floor any Node CLI starts from: `node -e 0` under the same GNU time. */
async function nodeFloorKiB(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await runArgv(['/usr/bin/time', '-f', '%M', 'node', '-e', '0']);
    const v = Number(r.stderr.trim().split('\n').pop());
    if (Number.isFinite(v)) samples.push(v);
  }
  return median(samples);
}

export function memoryTables(runs: readonly DeployRun[], floorKiB: number, focus: number): { tables: Table[]; data: unknown } {
  const rows = runs.map((r) => [r.hosts, r.mode === 'serial' ? 'concurrency=1' : 'default', MiB(r.maxRssKiB), MiB(r.redeployRssKiB)]);
  const table: Table = {
    title: `Peak RSS of the deploying CLI (MiB; \`node -e 0\` alone: ${MiB(floorKiB)} MiB)`,
    columns: ['hosts', 'mode', 'deploy', 'no-op redeploy'],
    rows,
    note: `The figure asked for is the ${focus}-host default deploy. Peers run their own short-lived \`meshvpc remote\` per request; those are not counted here.`,
  };
  const at = runs.find((r) => r.hosts === focus && r.mode === 'concurrent');
  return { tables: [table], data: { focusHosts: focus, deployMaxRssKiB: at?.maxRssKiB ?? null, nodeFloorKiB: floorKiB, runs: runs.map((r) => ({ hosts: r.hosts, mode: r.mode, maxRssKiB: r.maxRssKiB, redeployRssKiB: r.redeployRssKiB })) } };
}

export const memoryBench: Benchmark = {
  name: 'memory',
  title: 'Memory',
  method:
    'Peak RSS (GNU time %M) of the `meshvpc vpc mode=deploy` process on host1, taken from the deploy-scaling runs of the same ' +
    'invocation (or, run alone, from a fresh 16-host lab deployed the same way); `node -e 0` under the same GNU time is the floor.',
  async run(opts: Options): Promise<Outcome> {
    const focus = opts.quick ? 4 : 16;
    let runs = lastRuns().filter((r) => r.mode === 'concurrent' || r.hosts === focus);
    if (!runs.some((r) => r.hosts === focus && r.mode === 'concurrent')) runs = await measure([focus], ['concurrent']);
    const floor = await nodeFloorKiB();
    const { tables, data } = memoryTables(runs, floor, focus);
    const at = runs.find((r) => r.hosts === focus && r.mode === 'concurrent');
    // The issue sets no memory target; the figure is reported, not judged.
    return { tables, targets: [{ what: `deploy peak RSS, ${focus} hosts`, goal: 'report', value: `${MiB(at?.maxRssKiB)} MiB`, met: null }], data };
  },
};
