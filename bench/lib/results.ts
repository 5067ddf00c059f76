/** Where results go: bench/results/<name>.json in the source tree (not dist/), so they can be read and kept. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './machine.js';
import type { Target } from './bench.js';
import type { Table } from './table.js';

/** This file runs from dist/bench/lib/; the repository root is three levels up. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const benchDir = join(repoRoot, 'bench');
export const resultsDir = join(benchDir, 'results');

export interface BenchResult {
  readonly name: string;
  readonly quick: boolean;
  readonly started: string;
  readonly seconds: number;
  readonly method: string;
  readonly targets: readonly Target[];
  /** Rendered into the terminal and RESULTS.md. */
  readonly tables: readonly Table[];
  /** Raw samples and derived figures, for anyone who wants to redo the arithmetic. */
  readonly data: unknown;
}

/**
 * Which meshvpc was measured: the commit, and whether src/ differed from it
 * (other work goes on in this tree while benchmarks run). Read-only git.
 */
export function revision(): string {
  try {
    const git = (...a: string[]): string => execFileSync('git', ['-C', repoRoot, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

/** Quick (smoke) runs go to results/quick/, so they never overwrite the figures of a full run. */
export function writeResult(r: BenchResult): string {
  const dir = r.quick ? join(resultsDir, 'quick') : resultsDir;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${r.name}.json`);
  writeFileSync(file, `${JSON.stringify({ ...r, revision: revision(), machine: machine() }, null, 2)}\n`);
  return file;
}
