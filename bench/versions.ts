/**
 * What this release costs against the previous one, measured in one run on
 * the same machine: a fresh lab per deploy, every host on the previous
 * release (built from this repository's history, mounted for the lab hosts
 * only) or every host on this one, alternating which goes first, several
 * repetitions per size; then listing latency with one host of each release in
 * one lab, interleaved. Absolute times on a shared 2-CPU machine drift from
 * run to run; the ratios taken inside one run are the figures to read.
 */
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { joinFromHost1, timedMvOk } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { median, ratio } from './lib/stats.js';
import type { Table } from './lib/table.js';
import { buildRelease, hasCommit, RELEASE_0_1_0, runHostOn, sourceCheckout, type Release } from '../src/lab/release.js';
import type { LabState } from '../src/lab/lab.js';

type Side = 'previous' | 'this';

interface DeployRun {
  readonly hosts: number;
  readonly side: Side;
  readonly rep: number;
  readonly deployMs: number;
  readonly redeployMs: number;
}

const PEER_NETWORK = '2001:db8:ffff::/112';

async function onAll(lab: LabState, release: Release): Promise<void> {
  for (const h of lab.hosts) await runHostOn(lab, h.index, release);
}

async function deployOnce(hosts: number, side: Side, rep: number, previous: Release): Promise<DeployRun> {
  return withLab({ hosts, underlay: 'v4' }, async (lab) => {
    if (side === 'previous') await onAll(lab, previous);
    await joinFromHost1(lab);
    const d = await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', `peer_network=${PEER_NETWORK}`);
    const again = await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    process.stdout.write(`  ${hosts} hosts, ${side} release, rep ${rep}: deploy ${fmt(d.ms / 1000)}s, no-op redeploy ${fmt(again.ms / 1000)}s\n`);
    return { hosts, side, rep, deployMs: d.ms, redeployMs: again.ms };
  });
}

/** Listing latency, one host per release in one lab, commands interleaved. */
async function listings(previous: Release, rounds: number): Promise<Map<string, number[]>> {
  return withLab({ hosts: 2, underlay: 'v4' }, async (lab) => {
    await runHostOn(lab, 2, previous);
    await joinFromHost1(lab);
    await timedMvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', `peer_network=${PEER_NETWORK}`);
    const samples = new Map<string, number[]>();
    const commands = [['vpc', 'mode=list'], ['node', 'mode=list'], ['jls']];
    for (let round = 0; round < rounds + 2; round++) {
      for (const cmd of commands) {
        // Alternate which host goes first, so a noisy moment hits both.
        for (const host of round % 2 === 0 ? [1, 2] : [2, 1]) {
          const r = await timedMvOk(lab, host, ...cmd);
          if (round < 2) continue;
          const key = `${cmd.join(' ')}|${host === 2 ? 'previous' : 'this'}`;
          samples.set(key, [...(samples.get(key) ?? []), r.ms]);
        }
      }
    }
    return samples;
  });
}

const spread = (xs: readonly number[]): string => (xs.length === 0 ? '-' : `${fmt(Math.min(...xs))} / ${fmt(median(xs))} / ${fmt(Math.max(...xs))}`);

export const versionsBench: Benchmark = {
  name: 'versions',
  title: 'This release against the previous one',
  method:
    `The previous release (0.1.0, commit ${RELEASE_0_1_0}) is built from this repository's history and mounted, in the lab hosts' ` +
    'private mount namespaces only, where the package `meshvpc` on PATH runs from lives. Deploy: for each size, repetitions alternate which release goes ' +
    `first; each deploy is on a fresh lab (IPv4 underlay, host1 adds the others, then \`vpc mode=deploy node_member=all peer_network=${PEER_NETWORK}\` ` +
    'and a no-op redeploy, wall time from here). Listings: one 2-host lab, host1 on this release and host2 on the previous one, each ' +
    'command run on both hosts in alternating order, 2 warm-up rounds discarded. Ratios are this/previous, of medians.',
  async run(opts: Options): Promise<Outcome> {
    const checkout = sourceCheckout(import.meta.url);
    if (checkout === null || !(await hasCommit(checkout, RELEASE_0_1_0))) {
      throw new Error(`${checkout ?? 'this directory (not a git checkout)'} has no git history of ${RELEASE_0_1_0}: cannot build the previous release`);
    }
    const previous = await buildRelease(RELEASE_0_1_0, checkout);
    try {
      const sizes = opts.quick ? [2] : [2, 8, 16];
      const reps = opts.quick ? 1 : 3;
      const runs: DeployRun[] = [];
      for (const hosts of sizes) {
        for (let rep = 1; rep <= reps; rep++) {
          const order: Side[] = rep % 2 === 1 ? ['previous', 'this'] : ['this', 'previous'];
          for (const side of order) runs.push(await deployOnce(hosts, side, rep, previous));
        }
      }
      const ms = (hosts: number, side: Side, pick: (r: DeployRun) => number): number[] => runs.filter((r) => r.hosts === hosts && r.side === side).map(pick);
      const deploy: Table = {
        title: `Deploy, previous release vs this one (s, min / median / max of ${reps})`,
        columns: ['hosts', 'previous deploy', 'this deploy', 'this/previous', 'previous no-op', 'this no-op', 'this/previous no-op'],
        rows: sizes.map((n) => {
          const [pd, td, pr, tr] = [ms(n, 'previous', (r) => r.deployMs / 1000), ms(n, 'this', (r) => r.deployMs / 1000), ms(n, 'previous', (r) => r.redeployMs / 1000), ms(n, 'this', (r) => r.redeployMs / 1000)];
          return [n, spread(pd), spread(td), fmt(ratio(median(td), median(pd))), spread(pr), spread(tr), fmt(ratio(median(tr), median(pr)))];
        }),
        note: 'The difference is the safety work of 0.2.0 (hello reports and the initiator checks what is in each host\'s way, each host checks a definition before storing it).',
      };
      const samples = await listings(previous, opts.quick ? 5 : 20);
      const list: Table = {
        title: 'Listing latency, previous release vs this one (ms, min / median / max)',
        columns: ['command', 'previous', 'this', 'this/previous'],
        rows: ['vpc mode=list', 'node mode=list', 'jls'].map((c) => {
          const p = samples.get(`${c}|previous`) ?? [];
          const t = samples.get(`${c}|this`) ?? [];
          return [c, spread(p), spread(t), fmt(ratio(median(t), median(p)))];
        }),
        note: 'Wall time of a fresh process per command (nsenter and env included, the same on both sides).',
      };
      return { tables: [deploy, list], targets: [], data: { runs, listings: Object.fromEntries(samples) } };
    } finally {
      previous.remove();
    }
  },
};
