/**
 * Data plane: TCP throughput (iperf3), ping RTT and full-size UDP datagrams
 * between two lab hosts on the underlay, between containers over a meshvpc VPC
 * (MTU from the rule: underlay - 50 on IPv4, - 70 on IPv6), and over a naive
 * VPC (mtu=1500 on the 1500-byte underlay, so full-size frames no longer fit
 * once encapsulated), on IPv4 and IPv6 underlays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { onHost, type LabState, type Underlay } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome, type Target } from './lib/bench.js';
import { BenchError, inGuest, joinFromHost1, mvOk, runArgv, sleep } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { fragCounters, fragDelta, type FragCounters, type Inside } from './lib/netstat.js';
import { median, ratio, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

type PathName = 'underlay' | 'vpc' | 'naive';

interface Path {
  readonly name: PathName;
  /** Container on each host, or null for the hosts themselves. */
  readonly guests: readonly [string, string] | null;
  readonly target: string;
}

interface Sample {
  readonly underlay: Underlay;
  readonly path: PathName;
  readonly round: number;
  readonly gbps: number;
  readonly retransmits: number;
  readonly senderCpu: number;
  readonly receiverCpu: number;
  readonly fragCreates: number;
  readonly reasmReqds: number;
  readonly rttMs: number;
  readonly udp: UdpSample;
}

/** Full-size datagrams: one inner packet of exactly the path's MTU each, no GSO to hide fragmentation. */
interface UdpSample {
  readonly payload: number;
  readonly gbps: number;
  readonly lostPercent: number;
  readonly fragCreates: number;
  readonly reasmReqds: number;
}

const TARGET = 0.85;
const PORT = '5201';

const where = (lab: LabState, host: 1 | 2, p: Path, argv: readonly string[]): string[] => (p.guests ? inGuest(lab, host, p.guests[host - 1] as string, argv) : onHost(lab, host, argv));

/** The namespaces one side of a path spans: the host, and the container if there is one. */
const side = (lab: LabState, host: 1 | 2, p: Path): Inside[] => [(argv) => onHost(lab, host, argv), ...(p.guests ? [(argv: readonly string[]) => where(lab, host, p, argv)] : [])];

/** Runs `fn` and returns what it returned with the fragments made by the sender and reassembled by the receiver meanwhile. */
async function counting<T>(lab: LabState, p: Path, fn: () => Promise<T>): Promise<[T, FragCounters]> {
  const s0 = await fragCounters(side(lab, 1, p));
  const r0 = await fragCounters(side(lab, 2, p));
  const out = await fn();
  const sent = fragDelta(s0, await fragCounters(side(lab, 1, p)));
  const got = fragDelta(r0, await fragCounters(side(lab, 2, p)));
  return [out, { fragCreates: sent.fragCreates, reasmReqds: got.reasmReqds }];
}

/** An iperf3 server for one path, bounded by `timeout` even if this process dies without its finally. */
async function startServer(lab: LabState, p: Path): Promise<ChildProcess> {
  const [cmd, ...args] = where(lab, 2, p, ['timeout', '900', 'iperf3', '-s', '-p', PORT]);
  const child = spawn(cmd as string, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await runArgv(where(lab, 2, p, ['ss', '-Hltn', 'sport', '=', `:${PORT}`]));
    if (r.stdout.trim() !== '') return child;
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stopServer(child);
  throw new BenchError(`iperf3 server for ${p.name} did not start`);
}

/** SIGTERM reaches `timeout` (nsenter, env and ip netns exec all exec), which passes it to iperf3. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('close', () => r()));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(2000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

interface IperfEnd {
  end: {
    sum_received: { bits_per_second: number };
    sum_sent: { retransmits?: number };
    cpu_utilization_percent: { host_total: number; remote_total: number };
  };
}

async function iperf(lab: LabState, p: Path, seconds: number, streams: number): Promise<Pick<Sample, 'gbps' | 'retransmits' | 'senderCpu' | 'receiverCpu'>> {
  // -O 1: the first second (slow start) is left out of the figures.
  const argv = ['iperf3', '-c', p.target, '-p', PORT, '-t', String(seconds), '-O', seconds > 2 ? '1' : '0', '-P', String(streams), '-J'];
  const r = await runArgv(where(lab, 1, p, argv));
  if (r.code !== 0) throw new BenchError(`iperf3 over ${p.name} exited ${r.code}: ${r.stdout.slice(-300)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as IperfEnd;
  return {
    gbps: j.end.sum_received.bits_per_second / 1e9,
    retransmits: j.end.sum_sent.retransmits ?? 0,
    senderCpu: j.end.cpu_utilization_percent.host_total,
    receiverCpu: j.end.cpu_utilization_percent.remote_total,
  };
}

interface IperfUdpEnd {
  end: { sum_received?: { bits_per_second: number; lost_percent: number }; sum: { bits_per_second: number; lost_percent: number } };
}

/**
 * UDP at full speed with datagrams that fill the path's MTU. TCP in the lab
 * cannot show what a too-large tunnel MTU costs: its 64 KB GSO segments cross
 * the veth "wire" whole and are never cut to the MTU, so nothing is ever
 * fragmented. Single datagrams are, and the counters show it.
 */
async function udp(lab: LabState, p: Path, mtu: number, seconds: number): Promise<Omit<UdpSample, 'fragCreates' | 'reasmReqds'>> {
  const payload = mtu - (p.target.includes(':') ? 48 : 28);
  const r = await runArgv(where(lab, 1, p, ['iperf3', '-c', p.target, '-p', PORT, '-u', '-b', '0', '-l', String(payload), '-t', String(seconds), '-J']));
  if (r.code !== 0) throw new BenchError(`iperf3 -u over ${p.name} exited ${r.code}: ${r.stdout.slice(-300)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as IperfUdpEnd;
  const got = j.end.sum_received ?? j.end.sum;
  return { payload, gbps: got.bits_per_second / 1e9, lostPercent: got.lost_percent };
}

/**
 * The first full-size datagrams of a fresh sender, before anything on the path
 * has taught it a smaller MTU: "ok", or iperf3's error.
 */
async function udpFirstContact(lab: LabState, p: Path, mtu: number): Promise<string> {
  const payload = mtu - (p.target.includes(':') ? 48 : 28);
  const r = await runArgv(where(lab, 1, p, ['iperf3', '-c', p.target, '-p', PORT, '-u', '-b', '100M', '-l', String(payload), '-t', '1']));
  if (r.code === 0) return 'ok';
  const why = /error - (.*)/.exec(r.stderr)?.[1]?.split(': ').pop() ?? `exit ${r.code}`;
  return `fails: ${why.trim()}`;
}

/** Median of the per-echo round trips (robust to the odd scheduling hiccup on a busy 2-CPU machine). */
async function rtt(lab: LabState, p: Path, count: number): Promise<number> {
  const r = await runArgv(where(lab, 1, p, ['ping', '-n', '-c', String(count), '-i', '0.005', '-W', '1', p.target]));
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length === 0) throw new BenchError(`ping over ${p.name}: ${r.stdout.trim().split('\n').pop()} ${r.stderr.trim()}`);
  return median(times);
}

/** Hosts and containers alike call their interface eth0. */
const mtuOf = async (lab: LabState, p: Path): Promise<number> => Number((await runArgv(where(lab, 1, p, ['cat', '/sys/class/net/eth0/mtu']))).stdout.trim());

async function underlayRun(underlay: Underlay, opts: { rounds: number; seconds: number; streams: number; pings: number }): Promise<{ samples: Sample[]; mtu: Record<PathName, number>; firstContact: Record<PathName, string> }> {
  return withLab({ hosts: 2, underlay }, async (lab) => {
    await joinFromHost1(lab);
    await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/28');
    await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.16/28', 'mtu=1500');
    for (const h of [1, 2]) {
      await mvOk(lab, h, 'jcreate', `jname=j${h}`, `ip4_addr=203.0.113.${h}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
      // Same addresses on another segment: vpc2 is a separate Ethernet, its guests never meet vpc1's.
      await mvOk(lab, h, 'jcreate', `jname=n${h}`, `ip4_addr=203.0.113.${h}/24`, 'interface=vpc2', 'vnet=1', 'runasap=1');
    }
    const host2 = lab.hosts[1];
    const paths: Path[] = [
      { name: 'underlay', guests: null, target: (underlay === 'v4' ? host2?.ip4 : host2?.ip6) ?? '' },
      { name: 'vpc', guests: ['j1', 'j2'], target: '203.0.113.2' },
      { name: 'naive', guests: ['n1', 'n2'], target: '203.0.113.2' },
    ];
    const mtu = { underlay: await mtuOf(lab, paths[0] as Path), vpc: await mtuOf(lab, paths[1] as Path), naive: await mtuOf(lab, paths[2] as Path) };
    const servers: ChildProcess[] = [];
    const samples: Sample[] = [];
    const firstContact: Record<PathName, string> = { underlay: '', vpc: '', naive: '' };
    try {
      for (const p of paths) servers.push(await startServer(lab, p));
      // Before any other traffic, so no path MTU has been learned yet.
      for (const p of paths) firstContact[p.name] = await udpFirstContact(lab, p, mtu[p.name]);
      for (let round = 0; round < opts.rounds; round++) {
        // Paths take turns, starting with a different one each round.
        for (let k = 0; k < paths.length; k++) {
          const p = paths[(round + k) % paths.length] as Path;
          const [t, tf] = await counting(lab, p, () => iperf(lab, p, opts.seconds, opts.streams));
          const ms = await rtt(lab, p, opts.pings);
          const [u, uf] = await counting(lab, p, () => udp(lab, p, mtu[p.name], opts.seconds));
          samples.push({ underlay, path: p.name, round, ...t, ...tf, rttMs: ms, udp: { ...u, ...uf } });
          process.stdout.write(
            `  ${underlay} ${p.name}: TCP ${fmt(t.gbps)} Gbit/s, ${t.retransmits} retransmits, ${tf.fragCreates} fragments; rtt ${fmt(ms, 3)} ms; ` +
              `UDP ${u.payload} B ${fmt(u.gbps)} Gbit/s, ${fmt(u.lostPercent, 1)}% lost, ${uf.fragCreates} fragments\n`,
          );
        }
      }
    } finally {
      await Promise.all(servers.map(stopServer));
    }
    return { samples, mtu, firstContact };
  });
}

export const dataplaneBench: Benchmark = {
  name: 'dataplane',
  title: 'Data plane',
  method:
    'Per underlay (IPv4, IPv6) a fresh 2-host lab; vpc1 deployed with the MTU rule and vpc2 with mtu=1500 ("naive"), a container ' +
    'on each host on each. iperf3 TCP from host1 to host2 (hosts on the underlay; containers over vpc1 and vpc2), ' +
    'parallel streams, the first second omitted, received rate; then 200 pings at 5 ms, median round trip; then iperf3 UDP ' +
    'at full speed with datagrams that fill the path\'s MTU. Paths take turns (rotating start) for several rounds; medians. ' +
    'Before the rounds, each path gets a fresh 1 s UDP sender of full-size datagrams. Fragment counters come from ' +
    '/proc/net/snmp{,6} (IPv4 + IPv6) of the host and the container on each side, around each run.',
  async run(opts: Options): Promise<Outcome> {
    const cfg = opts.quick ? { rounds: 1, seconds: 2, streams: 2, pings: 20 } : { rounds: 3, seconds: 5, streams: 2, pings: 200 };
    const samples: Sample[] = [];
    const mtus: Record<string, Record<PathName, number>> = {};
    const first: Record<string, Record<PathName, string>> = {};
    for (const u of ['v4', 'v6'] as const) {
      const r = await underlayRun(u, cfg);
      samples.push(...r.samples);
      mtus[u] = r.mtu;
      first[u] = r.firstContact;
    }
    const of = (u: Underlay, p: PathName): Sample[] => samples.filter((s) => s.underlay === u && s.path === p);
    const med = (u: Underlay, p: PathName, f: (s: Sample) => number): number => median(of(u, p).map(f));
    const rows = (['v4', 'v6'] as const).flatMap((u) =>
      (['underlay', 'vpc', 'naive'] as const).map((p) => [
        u === 'v4' ? 'IPv4' : 'IPv6',
        p === 'underlay' ? 'host to host' : p === 'vpc' ? 'meshvpc (MTU rule)' : 'naive (mtu=1500)',
        mtus[u]?.[p] ?? null,
        fmt(med(u, p, (s) => s.gbps)),
        fmt(ratio(med(u, p, (s) => s.gbps), med(u, 'underlay', (s) => s.gbps))),
        Math.round(med(u, p, (s) => s.retransmits)),
        Math.round(med(u, p, (s) => s.fragCreates)),
        fmt(med(u, p, (s) => s.senderCpu), 0),
        fmt(med(u, p, (s) => s.rttMs), 3),
        fmt(ratio(med(u, p, (s) => s.rttMs), med(u, 'underlay', (s) => s.rttMs))),
      ]),
    );
    const table: Table = {
      title: `Data plane (2-host labs; iperf3 -P ${cfg.streams} -t ${cfg.seconds}, ${cfg.rounds} rounds, medians)`,
      columns: ['underlay', 'path', 'MTU', 'Gbit/s', 'x underlay', 'retransmits', 'fragments', 'sender CPU %', 'RTT ms', 'RTT x underlay'],
      rows,
      note: 'MTU = the sender\'s eth0. fragments = IP fragments the sending side (host1 and its container) made during the iperf3 run. sender CPU % = iperf3\'s own figure for the client side (100% = one CPU).',
    };
    const udpTable: Table = {
      title: `Full-size UDP datagrams (iperf3 -u -b 0 -l MTU-headers -t ${cfg.seconds}; medians)`,
      columns: ['underlay', 'path', 'datagram B', 'fresh sender', 'received Gbit/s', 'x underlay', 'lost %', 'fragments made', 'reassemblies'],
      rows: (['v4', 'v6'] as const).flatMap((u) =>
        (['underlay', 'vpc', 'naive'] as const).map((p) => [
          u === 'v4' ? 'IPv4' : 'IPv6',
          p === 'underlay' ? 'host to host' : p === 'vpc' ? 'meshvpc (MTU rule)' : 'naive (mtu=1500)',
          of(u, p)[0]?.udp.payload ?? null,
          first[u]?.[p] ?? null,
          fmt(med(u, p, (s) => s.udp.gbps)),
          fmt(ratio(med(u, p, (s) => s.udp.gbps), med(u, 'underlay', (s) => s.udp.gbps))),
          fmt(med(u, p, (s) => s.udp.lostPercent), 1),
          Math.round(med(u, p, (s) => s.udp.fragCreates)),
          Math.round(med(u, p, (s) => s.udp.reasmReqds)),
        ]),
      ),
      note:
        'Each datagram fills the sender\'s MTU. fresh sender = a first 1 s run at 100 Mbit/s before any other traffic on the path. ' +
        'The other columns come from the rounds, which follow the TCP run on the same path. ' +
        'fragments made = by host1 and its container, reassemblies = by host2 and its container, per run (IPv4 + IPv6 counters).',
    };
    const targets: Target[] = (['v4', 'v6'] as const).map((u) => {
      const r = ratio(med(u, 'vpc', (s) => s.gbps), med(u, 'underlay', (s) => s.gbps));
      return { what: `throughput VPC / underlay, IPv${u.slice(1)}`, goal: `>= ${TARGET}`, value: fmt(r), met: Number.isFinite(r) ? r >= TARGET : null };
    });
    return { tables: [table, udpTable], targets, data: { config: cfg, mtu: mtus, udpFirstContact: first, samples: samples.map((s) => ({ ...s, gbps: round(s.gbps, 3) })) } };
  },
};
