/**
 * `npm run bench` runs every benchmark; `npm run bench:quick` a smoke run of
 * each (small sizes, short iperf3); names pick some:
 *   node dist/bench/run.js [quick] [cli] [dataplane] [encryption] [join] [deploy] [memory] [versions] [server] [guests] [scale]
 * Each prints its tables and writes bench/results/<name>.json (quick runs:
 * bench/results/quick/); a full run of all of them also rewrites the
 * generated part of bench/RESULTS.md. Figures are reported, never asserted:
 * a missed target does not fail the run, a benchmark that could not measure
 * does (exit status 1).
 */
import { cliBench } from './cli.js';
import { dataplaneBench } from './dataplane.js';
import { encryptionBench } from './encryption.js';
import { deployBench } from './deploy.js';
import { joinBench } from './join.js';
import { memoryBench } from './memory.js';
import { versionsBench } from './versions.js';
import { serverBench } from './server.js';
import { guestsBench } from './guests.js';
import { scaleBench } from './scale.js';
import type { Benchmark, Target } from './lib/bench.js';
import { Aborted, abortFinished, finish, installSignalHandlers } from './lib/lab.js';
import { generated, targetsTable, writeResultsMd, type Section } from './lib/report.js';
import { revision, writeResult } from './lib/results.js';
import { now } from './lib/stats.js';
import { printTable } from './lib/table.js';

// Quiet, short benchmarks first; memory reuses the deploy runs, so it follows them.
const ALL: readonly Benchmark[] = [cliBench, dataplaneBench, encryptionBench, joinBench, deployBench, memoryBench, versionsBench, serverBench, guestsBench, scaleBench];
const SHORT: Record<string, string> = { cli: 'cli-latency', dataplane: 'dataplane', encryption: 'encryption', join: 'join-disruption', deploy: 'deploy-scaling', memory: 'memory', versions: 'versions', server: 'server', guests: 'guests', scale: 'scale' };

function parse(argv: readonly string[]): { quick: boolean; chosen: Benchmark[] } {
  let quick = false;
  const names: string[] = [];
  for (const a of argv) {
    if (a === 'quick' || a === '--quick') quick = true;
    else names.push(SHORT[a] ?? a);
  }
  const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(SHORT).join(', ')} (and quick)\n`);
    process.exit(2);
  }
  return { quick, chosen: names.length === 0 ? [...ALL] : ALL.filter((b) => names.includes(b.name)) };
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: the lab needs root (network namespaces, mounts, sshd)\n');
    return 2;
  }
  installSignalHandlers();
  const { quick, chosen } = parse(process.argv.slice(2));
  const started = new Date();
  // Taken once at the start: the tree may change while the benchmarks run.
  const rev = revision();
  process.stdout.write(`meshvpc at ${rev}\n`);
  const t0 = now();
  const sections: Section[] = [];
  const targets: Target[] = [];
  const failed: string[] = [];
  for (const b of chosen) {
    process.stdout.write(`\n### ${b.title}${quick ? ' (quick)' : ''}\n`);
    const t = now();
    const at = new Date();
    try {
      const out = await b.run({ quick });
      for (const table of out.tables) printTable(table);
      const seconds = (now() - t) / 1000;
      const file = writeResult({ name: b.name, quick, started: at.toISOString(), seconds, method: b.method, targets: out.targets, tables: out.tables, data: out.data });
      process.stdout.write(`${b.name}: ${seconds.toFixed(0)} s, written to ${file}\n`);
      sections.push({ title: b.title, method: b.method, tables: out.tables });
      targets.push(...out.targets);
    } catch (e) {
      failed.push(b.name);
      // An abort is the signal handler's business: it tears down and exits.
      if (e instanceof Aborted) await abortFinished();
      process.stderr.write(`bench: ${b.name} FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
  }
  const seconds = (now() - t0) / 1000;
  if (targets.length > 0) printTable(targetsTable(targets));
  const left = await finish();
  process.stdout.write(left.length === 0 ? 'lab namespaces left behind: none\n' : `lab namespaces LEFT BEHIND: ${left.join(' ')}\n`);
  process.stdout.write(`total ${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`);
  if (!quick && chosen.length === ALL.length && failed.length === 0) {
    const end = revision();
    if (end !== rev) process.stdout.write(`note: the tree changed during the run (${rev} -> ${end}); figures may mix versions\n`);
    writeResultsMd(generated(started, seconds, targets, sections, end === rev ? rev : `${rev} (changed to ${end} during the run)`));
    process.stdout.write('bench/RESULTS.md updated\n');
  }
  return failed.length > 0 || left.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    void finish().finally(() => process.exit(1));
  },
);
