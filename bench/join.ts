/**
 * Join disruption: containers on three hosts ping each other without pause
 * (every ordered pair, every 50 ms) while a fourth host joins the running VPC,
 * gets a container, and leaves again. Counts lost echoes and the time from the
 * join command to the new container reaching every other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { LabState } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { BenchError, inGuest, mvOk, sleep, timedMvOk } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { allPairs, reachFrom, type Guest } from './lib/reach.js';
import { median, now, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

const guest = (h: number): Guest => ({ host: h, jname: `j${h}`, address: `203.0.113.${h}` });
const OLD = [1, 2, 3].map(guest);
const NEW = guest(4);
const TARGET_MS = 2000;

interface Stream {
  readonly from: string;
  readonly to: string;
  readonly child: ChildProcess;
  out: string;
}

interface StreamResult {
  readonly pair: string;
  readonly sent: number;
  readonly received: number;
  /** Echoes never answered, not counting the last one, which may still have been in flight when ping was stopped. */
  readonly lost: number;
  /** Longest silence between two consecutive replies. */
  readonly maxGapMs: number;
}

interface Round {
  readonly joinMs: number;
  readonly jcreateMs: number;
  readonly reachMs: number;
  /** From the start of `vpc mode=join` to the new container having reached all three others. */
  readonly joinToReachMs: number;
  readonly unreached: readonly string[];
  readonly leaveMs: number;
  readonly joinReported: string;
}

function startPing(lab: LabState, from: Guest, to: Guest): Stream {
  // -w bounds it even if this process dies before stopping it; -D stamps each reply.
  const [cmd, ...args] = inGuest(lab, from.host, from.jname, ['ping', '-n', '-D', '-i', '0.05', '-W', '1', '-w', '600', to.address]);
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s: Stream = { from: from.jname, to: to.jname, child, out: '' };
  child.stdout?.on('data', (b: Buffer) => (s.out += b.toString()));
  return s;
}

/** SIGINT makes ping print its summary; nsenter, env and ip netns exec all exec, so the child is ping. */
async function stopPing(s: Stream): Promise<StreamResult> {
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const closed = new Promise<void>((r) => s.child.once('close', () => r()));
    s.child.kill('SIGINT');
    await Promise.race([closed, sleep(3000)]);
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(s.out);
  const sent = Number(m?.[1] ?? 0);
  const replies = [...s.out.matchAll(/^\[([\d.]+)\] \d+ bytes from .*icmp_seq=(\d+)/gm)].map((x) => ({ t: Number(x[1]) * 1000, seq: Number(x[2]) }));
  const got = new Set(replies.map((r) => r.seq));
  let lost = 0;
  for (let seq = 1; seq < sent; seq++) if (!got.has(seq)) lost++;
  let maxGapMs = 0;
  for (let i = 1; i < replies.length; i++) maxGapMs = Math.max(maxGapMs, (replies[i]?.t ?? 0) - (replies[i - 1]?.t ?? 0));
  return { pair: `${s.from}->${s.to}`, sent, received: Number(m?.[2] ?? 0), lost, maxGapMs };
}

async function joinLeave(lab: LabState): Promise<Round> {
  const t0 = now();
  const joined = await timedMvOk(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc1', 'node=host4');
  const tc = now();
  await mvOk(lab, 4, 'jcreate', `jname=${NEW.jname}`, `ip4_addr=${NEW.address}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
  const jcreateMs = now() - tc;
  const reach = await reachFrom(lab, NEW, OLD, { deadlineS: 20, waitS: 0.1 });
  const joinToReachMs = now() - t0;
  await sleep(1000);
  const left = await timedMvOk(lab, 1, 'vpc', 'mode=leave', 'vpc_name=vpc1', 'node=host4');
  // The leave took host4's bridge; the container goes too so the next round starts clean.
  await mvOk(lab, 4, 'jremove', `jname=${NEW.jname}`);
  await sleep(1000);
  const r: Round = {
    joinMs: joined.ms,
    jcreateMs,
    reachMs: reach.ms,
    joinToReachMs,
    unreached: reach.unreached,
    leaveMs: left.ms,
    joinReported: joined.stdout.trim().split('\n').pop() ?? '',
  };
  process.stdout.write(`  join ${fmt(r.joinMs / 1000)}s + jcreate ${fmt(jcreateMs / 1000)}s + reach ${fmt(reach.ms / 1000)}s = ${fmt(joinToReachMs / 1000)}s; leave ${fmt(left.ms / 1000)}s\n`);
  return r;
}

export const joinBench: Benchmark = {
  name: 'join-disruption',
  title: 'Join disruption',
  method:
    'A 4-host IPv4 lab; vpc1 deployed on host1-3 with a container each; every ordered pair of those containers pings ' +
    'continuously (`ping -i 0.05 -D`). Then, for each round, host1 runs `vpc mode=join node=host4`, host4 creates a ' +
    'container, which pings the three others (one echo each, retried every 100 ms) until all answer; 1 s later host1 runs ' +
    '`vpc mode=leave node=host4` and host4 removes the container. After the last round the pings are stopped (SIGINT) and ' +
    'every sequence number without a reply counts as lost (except the very last, which may be in flight).',
  async run(opts: Options): Promise<Outcome> {
    const roundsWanted = opts.quick ? 1 : 3;
    const { rounds, streams } = await withLab({ hosts: 4, underlay: 'v4' }, async (lab) => {
      for (const o of [2, 3, 4]) await mvOk(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
      await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26');
      for (const g of OLD) await mvOk(lab, g.host, 'jcreate', `jname=${g.jname}`, `ip4_addr=${g.address}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
      const ready = await allPairs(lab, OLD, { deadlineS: 20, parallel: 3 });
      if (ready.unreached.length > 0) throw new BenchError(`the three containers do not reach each other: ${ready.unreached.join(', ')}`);
      const pings = OLD.flatMap((a) => OLD.filter((b) => b !== a).map((b) => startPing(lab, a, b)));
      const done: Round[] = [];
      let results: StreamResult[] = [];
      try {
        await sleep(1000);
        for (let i = 0; i < roundsWanted; i++) done.push(await joinLeave(lab));
      } finally {
        // Stopped even when a round failed, so no ping outlives the lab.
        results = await Promise.all(pings.map(stopPing));
      }
      return { rounds: done, streams: results };
    });
    const lost = streams.reduce((n, s) => n + s.lost, 0);
    const sent = streams.reduce((n, s) => n + s.sent, 0);
    const worst = Math.max(...rounds.map((r) => r.joinToReachMs));
    const roundTable: Table = {
      title: 'Join and leave under continuous ping (s)',
      columns: ['round', 'join cmd', 'jcreate', 'reach 3 others', 'join to reach', 'leave cmd', 'unreached'],
      rows: rounds.map((r, i) => [i + 1, fmt(r.joinMs / 1000), fmt(r.jcreateMs / 1000), fmt(r.reachMs / 1000), fmt(r.joinToReachMs / 1000), fmt(r.leaveMs / 1000), r.unreached.length === 0 ? 'none' : r.unreached.join(' ')]),
      note: 'join to reach = from the start of `vpc mode=join` (run on host1) to the new container on host4 having had an echo back from each of the three others; it includes creating that container.',
    };
    const streamTable: Table = {
      title: 'Continuous pings between the three old containers during all rounds',
      columns: ['pair', 'sent', 'received', 'lost', 'longest gap ms'],
      rows: streams.map((s) => [s.pair, s.sent, s.received, s.lost, fmt(s.maxGapMs, 0)]),
    };
    return {
      tables: [roundTable, streamTable],
      targets: [
        { what: 'echoes lost during join/leave', goal: '0', value: `${lost} of ${sent}`, met: lost === 0 },
        { what: 'join command to new container reaching all (worst round)', goal: `< ${TARGET_MS / 1000} s`, value: `${fmt(worst / 1000)} s`, met: worst < TARGET_MS },
      ],
      data: { rounds: rounds.map((r) => ({ ...r, joinToReachS: round(r.joinToReachMs / 1000, 3) })), medianJoinToReachMs: round(median(rounds.map((r) => r.joinToReachMs))), streams, lost, sent },
    };
  },
};
