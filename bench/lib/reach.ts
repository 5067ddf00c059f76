/** All-pairs reachability between containers: the definition of "converged" the benchmarks use. */
import type { LabState } from '../../src/lab/lab.js';
import { inGuest, pool, runArgv } from './hosts.js';
import { now } from './stats.js';

export interface Guest {
  readonly host: number;
  readonly jname: string;
  readonly address: string;
}

export interface Reach {
  /** From the first probe sent to the last pair confirmed (or given up on). */
  readonly ms: number;
  readonly pairs: number;
  readonly unreached: readonly string[];
}

// One shell per source container tries each target in turn until one echo
// comes back or the deadline (epoch seconds) passes. A target that answers at
// once costs one ping process (a few ms); one that does not costs a wait of
// $2 seconds per try.
const PROBE = `end="$1"; wait="$2"; shift 2
for t in "$@"; do
  until ping -n -q -c 1 -W "$wait" "$t" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then echo "unreached $t"; break; fi
  done
done`;

/**
 * Every guest pings every other (N(N-1) ordered pairs). Sources run with
 * bounded parallelism: the lab's N hosts share this machine's CPUs, and a
 * probe that floods them would measure itself.
 */
export async function allPairs(lab: LabState, guests: readonly Guest[], opts: { deadlineS: number; parallel: number }): Promise<Reach> {
  const t = now();
  // Each source gets the whole deadline from its own start: with bounded
  // parallelism the last sources start late, and a shared deadline would leave
  // them one try per target.
  const outs = await pool(guests, opts.parallel, (g) => probe(lab, g, guests.filter((o) => o !== g), Math.floor(Date.now() / 1000) + opts.deadlineS, 1));
  return { ms: now() - t, pairs: guests.length * (guests.length - 1), unreached: outs.flat() };
}

/** One container reaches each of `targets`; waits `waitS` per unanswered echo (fractions allowed). */
export async function reachFrom(lab: LabState, source: Guest, targets: readonly Guest[], opts: { deadlineS: number; waitS: number }): Promise<Reach> {
  const t = now();
  const missed = await probe(lab, source, targets, Math.floor(Date.now() / 1000) + opts.deadlineS, opts.waitS);
  return { ms: now() - t, pairs: targets.length, unreached: missed };
}

async function probe(lab: LabState, g: Guest, targets: readonly Guest[], end: number, waitS: number): Promise<string[]> {
  const r = await runArgv(inGuest(lab, g.host, g.jname, ['sh', '-c', PROBE, 'reach', String(end), String(waitS), ...targets.map((o) => o.address)]));
  const missed = r.stdout.split('\n').filter((l) => l.startsWith('unreached ')).map((l) => `${g.jname}->${l.slice(10)}`);
  if (r.code !== 0 && missed.length === 0) missed.push(`${g.jname}: probe failed: ${r.stderr.trim()}`);
  return missed;
}
