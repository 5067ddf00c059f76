/**
 * CLI latency: read-only commands against `node -e 0`, run interleaved on a
 * lab host that has a cluster, a VPC and a container (so listings have rows to
 * read). Also what the floor is made of, to say what lazy loading can win.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onHost, type LabState } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { joinFromHost1, mvOk, runArgv } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { repoRoot } from './lib/results.js';
import { median, now, quantile, ratio, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

const TARGET = 1.5;

interface Probe {
  readonly label: string;
  readonly argv: readonly string[];
  /** Judged against the target (the meshvpc commands). */
  readonly judged: boolean;
}

async function timeOnce(lab: LabState, argv: readonly string[]): Promise<number> {
  const t = now();
  const r = await runArgv(onHost(lab, 1, argv));
  const ms = now() - t;
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return ms;
}

/** Cost of importing a package in a fresh Node, measured inside that Node (no process start-up in it). */
async function importMs(pkg: string, rounds: number): Promise<number> {
  const samples: number[] = [];
  const code = `const t = performance.now(); await import(${JSON.stringify(pkg)}); process.stdout.write(String(performance.now() - t));`;
  for (let i = 0; i < rounds; i++) {
    // Resolved from the repository, where the packages are installed.
    const r = await runArgv(['node', '--input-type=module', '-e', code], repoRoot);
    if (r.code === 0) samples.push(Number(r.stdout));
  }
  return median(samples);
}

async function measure(lab: LabState, rounds: number, emptyEsm: string): Promise<Map<string, number[]>> {
  const probes: Probe[] = [
    { label: 'node -e 0', argv: ['node', '-e', '0'], judged: false },
    { label: 'node empty.mjs', argv: ['node', emptyEsm], judged: false },
    { label: 'meshvpc help', argv: ['meshvpc', 'help'], judged: true },
    { label: 'meshvpc vpc mode=list', argv: ['meshvpc', 'vpc', 'mode=list'], judged: true },
    { label: 'meshvpc node mode=list', argv: ['meshvpc', 'node', 'mode=list'], judged: true },
    { label: 'meshvpc jls', argv: ['meshvpc', 'jls'], judged: true },
    { label: 'true', argv: ['true'], judged: false },
  ];
  const samples = new Map(probes.map((p) => [p.label, [] as number[]]));
  const warmup = 2;
  for (let round = 0; round < rounds + warmup; round++) {
    // Interleaved, and the starting command rotates, so drift in machine load
    // and any "runs right after X" effect land on every command alike.
    for (let k = 0; k < probes.length; k++) {
      const p = probes[(round + k) % probes.length] as Probe;
      const ms = await timeOnce(lab, p.argv);
      if (round >= warmup) samples.get(p.label)?.push(ms);
    }
  }
  return samples;
}

export const cliBench: Benchmark = {
  name: 'cli-latency',
  title: 'CLI latency',
  method:
    'A 2-host IPv4 lab with the hosts joined, vpc1 deployed and a container on host1; on host1, each command is run ' +
    'as a fresh process via nsenter, all commands interleaved with a rotating start, 2 warm-up rounds discarded; ' +
    'medians of the remaining rounds. "true" measures what nsenter and env add to every command; the corrected ratio ' +
    'subtracts it from both sides. Import costs are measured inside a fresh Node with performance.now().',
  async run(opts: Options): Promise<Outcome> {
    const rounds = opts.quick ? 5 : 25;
    const dir = mkdtempSync(join(tmpdir(), 'meshvpc-bench-cli-'));
    const emptyEsm = join(dir, 'empty.mjs');
    writeFileSync(emptyEsm, '');
    let samples: Map<string, number[]>;
    try {
      samples = await withLab({ hosts: 2, underlay: 'v4' }, async (lab) => {
        await joinFromHost1(lab);
        await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/28');
        await mvOk(lab, 1, 'jcreate', 'jname=j1', 'ip4_addr=203.0.113.1/24', 'interface=vpc1', 'vnet=1', 'runasap=1');
        return measure(lab, rounds, emptyEsm);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const med = (label: string): number => median(samples.get(label) ?? []);
    const base = med('node -e 0');
    const overhead = med('true');
    const judged = ['meshvpc help', 'meshvpc vpc mode=list', 'meshvpc node mode=list', 'meshvpc jls'];
    const rows = [...samples.keys()].map((label) => {
      const xs = samples.get(label) ?? [];
      const m = median(xs);
      return [label, fmt(m, 1), fmt(quantile(xs, 0.9), 1), fmt(ratio(m, base)), label === 'true' ? null : fmt(ratio(m - overhead, base - overhead))];
    });
    const latency: Table = {
      title: `CLI latency on a lab host (${rounds} interleaved rounds; ratios to node -e 0)`,
      columns: ['command', 'median ms', 'p90 ms', 'ratio', 'ratio minus nsenter'],
      rows,
      note: `"ratio minus nsenter" takes the median of \`true\` (${fmt(overhead, 1)} ms: nsenter + env) off both sides; the target is judged on it.`,
    };
    // What a command pays before it does anything: its module graph. Each
    // entry point of meshvpc here is what main.ts loads for that command.
    const modules = ['ssh2', 'better-sqlite3', 'ipaddr.js', ...['adapters/cli/main', 'app/vpc-list', 'app/vpc', 'app/node', 'app/jail', 'adapters/http/server'].map((m) => pathToFileURL(join(repoRoot, 'dist', 'src', `${m}.js`)).href)];
    const imports: [string, number][] = [];
    for (const m of modules) imports.push([m.replace(/^file:.*\/dist\//, 'dist/'), await importMs(m, opts.quick ? 3 : 7)]);
    const importTable: Table = {
      title: 'Import cost (ms, median, measured inside a fresh Node started in the repository)',
      columns: ['module', 'import ms'],
      rows: imports.map(([p, ms]) => [p, fmt(ms, 1)]),
    };
    const worst = Math.max(...judged.map((l) => ratio(med(l) - overhead, base - overhead)));
    return {
      tables: [latency, importTable],
      targets: judged.map((l) => {
        const r = ratio(med(l) - overhead, base - overhead);
        return { what: `CLI ${l.replace('meshvpc ', '')} / node -e 0`, goal: `<= ${TARGET}`, value: fmt(r), met: Number.isFinite(r) ? r <= TARGET : null };
      }),
      data: {
        rounds,
        medianMs: Object.fromEntries([...samples.keys()].map((l) => [l, round(med(l), 2)])),
        samplesMs: Object.fromEntries([...samples.entries()].map(([l, xs]) => [l, xs.map((x) => round(x, 2))])),
        importMs: Object.fromEntries(imports.map(([p, ms]) => [p, round(ms, 2)])),
        worstRatio: round(worst),
      },
    };
  },
};
