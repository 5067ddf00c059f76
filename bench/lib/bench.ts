/** What every benchmark module exports and returns. */
import type { Table } from './table.js';

export interface Options {
  /** Smoke-test sizes and durations: shows the benchmark works, not how fast anything is. */
  readonly quick: boolean;
}

export interface Target {
  readonly what: string;
  readonly goal: string;
  readonly value: string;
  /** null when the run could not produce the figure. */
  readonly met: boolean | null;
}

export interface Outcome {
  readonly tables: readonly Table[];
  readonly targets: readonly Target[];
  readonly data: unknown;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  /** How the figures were taken, for RESULTS.md. */
  readonly method: string;
  run(opts: Options): Promise<Outcome>;
}

export const fmt = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
export const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${Math.round(x * 100)}%`);
