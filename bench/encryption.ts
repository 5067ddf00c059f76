/**
 * Encryption: what encrypt=wireguard costs the data plane, against a
 * cleartext VPC measured in the same run. Per underlay (IPv4, IPv6) one
 * 2-host lab with two VPCs side by side, `clear` (encrypt=none) and `sealed`
 * (encrypt=wireguard), and a container on each host in each. Paths take turns
 * round by round (rotating start), so the machine's drift and other work hit
 * both alike; every ratio is sealed over clear within one round.
 *
 * This machine's kernel has no WireGuard, so meshvpc runs Debian's userspace
 * wireguard-go (lab-facts.md): the figures are that implementation's on 2
 * shared CPUs, not the kernel module's, and are reported as such. The
 * implementation is read from `vpc mode=status` (column `sealed`), not
 * assumed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execOn, onHost, type LabState, type Underlay } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome, type Target } from './lib/bench.js';
import { ksoftirqds, machineCpuS, procChildren, procComm, procCpuS } from './lib/cpu.js';
import { BenchError, inGuest, joinFromHost1, mvOk, runArgv, sleep } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { udpRcvbufErrors, type Inside } from './lib/netstat.js';
import { reachFrom } from './lib/reach.js';
import { median, now, ratio, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

type PathName = 'clear' | 'sealed';
const PATHS: readonly PathName[] = ['clear', 'sealed'];

interface Path {
  readonly name: PathName;
  /** Container on host1, container on host2. */
  readonly guests: readonly [string, string];
  readonly target: string;
}

/** CPU seconds during one iperf3 run, by who spent them. */
interface CpuSplit {
  /** The iperf3 client (GNU time: its own rusage, from wait4). */
  readonly client: number;
  /** The iperf3 server (/proc/PID/stat before and after). */
  readonly server: number;
  /** Every wireguard-go process of both lab hosts (/proc/PID/stat). */
  readonly wireguardGo: number;
  /** The machine's ksoftirqd/N threads (/proc/PID/stat). */
  readonly ksoftirqd: number;
  /** The whole machine, /proc/stat user + nice + system + irq + softirq (other people's work included). */
  readonly machine: number;
}

interface Sample {
  readonly underlay: Underlay;
  readonly path: PathName;
  readonly round: number;
  readonly gbps: number;
  /** Gbit the server received over the whole run: what the CPU time is divided by. */
  readonly gbit: number;
  readonly retransmits: number;
  readonly cpu: CpuSplit;
  /** Bytes host1's WireGuard link sent during the run (0 when the path does not use it). */
  readonly wgTxBytes: number;
  /** UDP datagrams both lab hosts dropped for a full socket buffer during the run (wireguard-go's socket, on a sealed path). */
  readonly udpDrops: number;
  /** CPUs busy on the machine just before the round, with nothing of this benchmark running (other work). */
  readonly backgroundCpus: number;
  readonly rttMs: number;
  readonly pingsLost: number;
}

interface UnderlayResult {
  readonly samples: Sample[];
  readonly mtu: Record<PathName, number>;
  /** Distinct values of `sealed` in `vpc mode=status` over both hosts. */
  readonly sealedImpl: Record<PathName, string>;
  readonly wireguardGoPids: number[];
}

interface Config {
  readonly quick: boolean;
  readonly rounds: number;
  readonly seconds: number;
  readonly streams: number;
  readonly pings: number;
}

const PORT = '5201';
const TAG = 'BENCH_CPU=';
const WG_LINK = 'meshvpc-wg';

const dataCpu = (c: CpuSplit): number => c.client + c.server + c.wireguardGo + c.ksoftirqd;

/** The lab hosts themselves (not their containers): where wireguard-go's UDP socket lives. */
const hostsOf = (lab: LabState): Inside[] => lab.hosts.map((h) => (argv: readonly string[]) => onHost(lab, h.index, argv));

/** CPUs busy on the whole machine over `ms` while this benchmark runs nothing: the other work sharing it. */
async function background(ms: number): Promise<number> {
  const a = machineCpuS();
  const t = now();
  await sleep(ms);
  return (machineCpuS() - a) / ((now() - t) / 1000);
}

/** Every descendant of a process (it and its children, theirs, ...). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...procChildren(p));
  }
  return out;
}

/** The wireguard-go processes in a lab host's network namespace (it runs there as a daemon meshvpc started). */
async function wireguardGoPids(lab: LabState): Promise<number[]> {
  const pids: number[] = [];
  for (const h of lab.hosts) {
    const r = await runArgv(['ip', 'netns', 'pids', h.netns]);
    pids.push(...r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => procComm(p) === 'wireguard-go'));
  }
  return pids;
}

interface Server {
  readonly child: ChildProcess;
  /** The iperf3 process itself (the spawned one is `timeout`, its parent). */
  readonly pid: number;
}

/** An iperf3 server in host2's container of a path, bounded by `timeout` even if this process dies without its finally. */
async function startServer(lab: LabState, p: Path): Promise<Server> {
  const [cmd, ...args] = inGuest(lab, 2, p.guests[1], ['timeout', '900', 'iperf3', '-s', '-p', PORT]);
  const child = spawn(cmd as string, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await runArgv(inGuest(lab, 2, p.guests[1], ['ss', '-Hltn', 'sport', '=', `:${PORT}`]));
    const pid = child.pid ? descendants(child.pid).find((x) => procComm(x) === 'iperf3') : undefined;
    if (r.stdout.trim() !== '' && pid !== undefined) return { child, pid };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stopServer({ child, pid: 0 });
  throw new BenchError(`iperf3 server for ${p.name} did not start`);
}

/** SIGTERM reaches `timeout` (nsenter, env and ip netns exec all exec), which passes it to iperf3. */
async function stopServer(s: Server): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('close', () => r()));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(2000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Bytes sent by host1's WireGuard link so far, summed over its peers (`wg show LINK transfer`). */
async function wgTx(lab: LabState): Promise<number> {
  const r = await execOn(lab, 1, ['wg', 'show', WG_LINK, 'transfer']);
  if (r.code !== 0) return Number.NaN;
  return r.stdout.split('\n').filter((l) => l.trim() !== '').reduce((sum, l) => sum + Number(l.split('\t')[2] ?? 0), 0);
}

interface IperfEnd {
  end: { sum_received: { bits_per_second: number; bytes: number }; sum_sent: { retransmits?: number } };
}

/**
 * One iperf3 run from host1's container, with the CPU everyone spent meanwhile.
 * No -O: the CPU window covers the whole run, so the bytes must too.
 */
async function iperf(lab: LabState, p: Path, server: Server, wgPids: readonly number[], cfg: Config): Promise<Pick<Sample, 'gbps' | 'gbit' | 'retransmits' | 'cpu'>> {
  const argv = ['/usr/bin/time', '-f', `${TAG}%U %S`, 'iperf3', '-c', p.target, '-p', PORT, '-t', String(cfg.seconds), '-P', String(cfg.streams), '-J'];
  const soft = ksoftirqds();
  const sum = (pids: readonly number[]): number => pids.reduce((a, pid) => a + procCpuS(pid), 0);
  const before = { server: procCpuS(server.pid), wg: sum(wgPids), soft: sum(soft), machine: machineCpuS() };
  const r = await runArgv(inGuest(lab, 1, p.guests[0], argv));
  const after = { server: procCpuS(server.pid), wg: sum(wgPids), soft: sum(soft), machine: machineCpuS() };
  if (r.code !== 0) throw new BenchError(`iperf3 over ${p.name} exited ${r.code}: ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith(TAG));
  const [user, system] = (line ?? '').slice(TAG.length).split(' ').map(Number);
  if (user === undefined || system === undefined || !Number.isFinite(user + system)) throw new BenchError(`no CPU time from GNU time for iperf3 over ${p.name}: ${r.stderr.slice(-300)}`);
  const cpu: CpuSplit = {
    client: user + system,
    server: after.server - before.server,
    wireguardGo: after.wg - before.wg,
    ksoftirqd: after.soft - before.soft,
    machine: after.machine - before.machine,
  };
  if (!Number.isFinite(dataCpu(cpu))) throw new BenchError(`a process measured over ${p.name} went away during the run (iperf3 server or wireguard-go)`);
  const j = JSON.parse(r.stdout) as IperfEnd;
  return { gbps: j.end.sum_received.bits_per_second / 1e9, gbit: (j.end.sum_received.bytes * 8) / 1e9, retransmits: j.end.sum_sent.retransmits ?? 0, cpu };
}

/** Median of the per-echo round trips, and how many echoes got no answer. */
async function rtt(lab: LabState, p: Path, count: number): Promise<{ ms: number; lost: number }> {
  const r = await runArgv(inGuest(lab, 1, p.guests[0], ['ping', '-n', '-c', String(count), '-i', '0.01', '-W', '1', p.target]));
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length === 0) throw new BenchError(`ping over ${p.name}: ${r.stdout.trim().split('\n').pop()} ${r.stderr.trim()}`);
  return { ms: median(times), lost: count - times.length };
}

/** What `vpc mode=status` says carries a VPC's tunnels (column `sealed`), on every host that reports. */
async function sealedOf(lab: LabState, vpc: string): Promise<string> {
  const values = new Set<string>();
  for (const h of lab.hosts) {
    const rows = JSON.parse(await mvOk(lab, h.index, 'vpc', 'mode=status', `vpc_name=${vpc}`, '--json')) as { sealed?: string }[];
    for (const row of rows) values.add(row.sealed ?? '?');
  }
  return [...values].sort().join(', ') || '?';
}

const mtuOf = async (lab: LabState, p: Path): Promise<number> => Number((await runArgv(inGuest(lab, 1, p.guests[0], ['cat', '/sys/class/net/eth0/mtu']))).stdout.trim());

async function underlayRun(underlay: Underlay, cfg: Config): Promise<UnderlayResult> {
  return withLab({ hosts: 2, underlay }, async (lab) => {
    await joinFromHost1(lab);
    await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=clear', 'node_member=all', 'peer_network=198.51.100.0/28', 'encrypt=none');
    await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sealed', 'node_member=all', 'peer_network=198.51.100.16/28', 'encrypt=wireguard');
    for (const h of [1, 2]) {
      await mvOk(lab, h, 'jcreate', `jname=c${h}`, `ip4_addr=203.0.113.${h}/24`, 'interface=clear', 'vnet=1', 'runasap=1');
      // Same addresses on another segment: the two VPCs are separate Ethernets.
      await mvOk(lab, h, 'jcreate', `jname=s${h}`, `ip4_addr=203.0.113.${h}/24`, 'interface=sealed', 'vnet=1', 'runasap=1');
    }
    const paths: Path[] = [
      { name: 'clear', guests: ['c1', 'c2'], target: '203.0.113.2' },
      { name: 'sealed', guests: ['s1', 's2'], target: '203.0.113.2' },
    ];
    // The first packet through WireGuard starts its handshake: wait for an answer on each path before measuring.
    for (const p of paths) {
      const r = await reachFrom(lab, { host: 1, jname: p.guests[0], address: '203.0.113.1' }, [{ host: 2, jname: p.guests[1], address: p.target }], { deadlineS: 20, waitS: 0.5 });
      if (r.unreached.length > 0) throw new BenchError(`${p.name}: ${p.guests[0]} cannot reach ${p.guests[1]}: ${r.unreached.join(', ')}`);
    }
    const mtu = { clear: await mtuOf(lab, paths[0] as Path), sealed: await mtuOf(lab, paths[1] as Path) };
    const sealedImpl = { clear: await sealedOf(lab, 'clear'), sealed: await sealedOf(lab, 'sealed') };
    const wgPids = await wireguardGoPids(lab);
    // Its CPU is most of the sealed path's: without its processes the figure would be a quiet undercount.
    if (sealedImpl.sealed.includes('wireguard-go') && wgPids.length < lab.hosts.length) {
      throw new BenchError(`status says wireguard-go, but ${wgPids.length} wireguard-go process(es) found in ${lab.hosts.length} lab hosts`);
    }
    process.stdout.write(`  ${underlay}: MTU clear ${mtu.clear}, sealed ${mtu.sealed}; sealed: ${sealedImpl.sealed}; wireguard-go processes: ${wgPids.join(' ') || 'none'}\n`);
    const servers = new Map<PathName, Server>();
    const samples: Sample[] = [];
    try {
      for (const p of paths) servers.set(p.name, await startServer(lab, p));
      // One unrecorded second per path: neighbours, the handshake and TCP's first growth are behind us.
      for (const p of paths) await iperf(lab, p, servers.get(p.name) as Server, wgPids, { ...cfg, seconds: 1 });
      for (let round = 0; round < cfg.rounds; round++) {
        const backgroundCpus = await background(cfg.quick ? 500 : 1000);
        for (let k = 0; k < paths.length; k++) {
          const p = paths[(round + k) % paths.length] as Path;
          const tx0 = await wgTx(lab);
          const d0 = await udpRcvbufErrors(hostsOf(lab));
          const t = await iperf(lab, p, servers.get(p.name) as Server, wgPids, cfg);
          const tx1 = await wgTx(lab);
          const udpDrops = (await udpRcvbufErrors(hostsOf(lab))) - d0;
          const ping = await rtt(lab, p, cfg.pings);
          samples.push({ underlay, path: p.name, round, ...t, wgTxBytes: tx1 - tx0, udpDrops, backgroundCpus, rttMs: ping.ms, pingsLost: ping.lost });
          process.stdout.write(
            `  ${underlay} ${p.name}: ${fmt(t.gbps, 3)} Gbit/s (${fmt(t.gbit, 2)} Gbit), CPU s: client ${fmt(t.cpu.client)} server ${fmt(t.cpu.server)} ` +
              `wireguard-go ${fmt(t.cpu.wireguardGo)} ksoftirqd ${fmt(t.cpu.ksoftirqd)} machine ${fmt(t.cpu.machine)} (background ${fmt(backgroundCpus)} CPUs); ` +
              `WireGuard sent ${fmt((tx1 - tx0) / 1e9, 3)} GB, ${udpDrops} UDP receive-buffer drops, ${t.retransmits} retransmits; ` +
              `rtt ${fmt(ping.ms, 3)} ms (${ping.lost} lost)\n`,
          );
        }
      }
    } finally {
      await Promise.all([...servers.values()].map(stopServer));
    }
    return { samples, mtu, sealedImpl, wireguardGoPids: wgPids };
  });
}

const spread = (xs: readonly number[], digits = 2): string =>
  xs.length === 0 || xs.some((x) => !Number.isFinite(x)) ? '-' : `${fmt(Math.min(...xs), digits)} / ${fmt(median(xs), digits)} / ${fmt(Math.max(...xs), digits)}`;

const underlayName = (u: Underlay): string => (u === 'v4' ? 'IPv4' : 'IPv6');

export const encryptionBench: Benchmark = {
  name: 'encryption',
  title: 'Encryption: WireGuard against cleartext',
  method:
    'Per underlay (IPv4, IPv6) a fresh 2-host lab with two VPCs side by side: `clear` (encrypt=none) and `sealed` ' +
    '(encrypt=wireguard), a container on each host in each. The WireGuard implementation is what `vpc mode=status` reports ' +
    '(column `sealed`) on both hosts. After each path answers a ping and carries one unrecorded 1 s iperf3 run, the paths ' +
    'take turns for several rounds (rotating start): iperf3 TCP from host1\'s container to host2\'s (parallel streams, ' +
    'received rate over the whole run, no omitted second), then pings at 10 ms (median round trip). Ratios are sealed / ' +
    'clear within each round, given as min / median / max over the rounds. CPU per Gbit = CPU seconds spent during the ' +
    'iperf3 run by the processes that carry the traffic, divided by the Gbit the server received: the iperf3 client ' +
    '(its rusage, GNU time), the iperf3 server, every wireguard-go of both hosts and the ksoftirqd threads (utime + stime ' +
    'from /proc/PID/stat before and after). Per process and not from /proc/stat, because other work shares this machine: ' +
    'a process\'s time is the scheduler\'s exact runtime and, on this kernel (no IRQ_TIME_ACCOUNTING), includes the softirq ' +
    'work done while it ran: the network stack\'s for its own packets, mostly; what the kernel defers runs in ksoftirqd. ' +
    'The machine-wide figure (/proc/stat user + nice + system + irq + softirq, steal left out) is given beside it, and ' +
    'before each round the machine\'s use over 1 s with nothing of this benchmark running (the other work). Around each ' +
    'run: bytes host1\'s WireGuard link sent (`wg show meshvpc-wg transfer`) and UDP datagrams both hosts dropped for a full ' +
    'socket buffer (/proc/net/snmp{,6}). wireguard-go is userspace: its figures are not the kernel module\'s.',
  async run(opts: Options): Promise<Outcome> {
    const cfg: Config = opts.quick ? { quick: true, rounds: 1, seconds: 2, streams: 2, pings: 20 } : { quick: false, rounds: 5, seconds: 5, streams: 2, pings: 100 };
    const underlays: Underlay[] = ['v4', 'v6'];
    const runs: Partial<Record<Underlay, UnderlayResult>> = {};
    for (const u of underlays) runs[u] = await underlayRun(u, cfg);
    const samples = underlays.flatMap((u) => runs[u]?.samples ?? []);
    const of = (u: Underlay, p: PathName): Sample[] => samples.filter((s) => s.underlay === u && s.path === p).sort((a, b) => a.round - b.round);
    const perGbit = (s: Sample): number => dataCpu(s.cpu) / s.gbit;
    /** Sealed over clear, one figure per round. */
    const perRound = (u: Underlay, f: (s: Sample) => number): number[] => {
      const clear = of(u, 'clear');
      return of(u, 'sealed').map((s) => {
        const c = clear.find((x) => x.round === s.round);
        return c ? ratio(f(s), f(c)) : Number.NaN;
      });
    };
    const impl = (u: Underlay): string => runs[u]?.sealedImpl.sealed ?? '?';
    const table: Table = {
      title: `Cleartext and WireGuard VPCs in one lab (2 hosts; iperf3 -P ${cfg.streams} -t ${cfg.seconds}, ${cfg.pings} pings; min / median / max of ${cfg.rounds} rounds)`,
      columns: ['underlay', 'VPC', 'sealed', 'MTU', 'Gbit/s', 'RTT ms', 'CPU s per Gbit', 'machine CPU s per Gbit', 'via WireGuard', 'retransmits', 'UDP buffer drops', 'pings lost'],
      rows: underlays.flatMap((u) =>
        PATHS.map((p) => {
          const ss = of(u, p);
          const gbit = ss.reduce((a, s) => a + s.gbit, 0);
          return [
            underlayName(u),
            p === 'clear' ? 'clear (encrypt=none)' : 'sealed (encrypt=wireguard)',
            runs[u]?.sealedImpl[p] ?? '?',
            runs[u]?.mtu[p] ?? null,
            spread(ss.map((s) => s.gbps), 3),
            spread(ss.map((s) => s.rttMs), 3),
            spread(ss.map(perGbit)),
            spread(ss.map((s) => s.cpu.machine / s.gbit)),
            gbit > 0 ? `${fmt((ss.reduce((a, s) => a + s.wgTxBytes, 0) * 8) / 1e9 / gbit)}x` : '-',
            Math.round(median(ss.map((s) => s.retransmits))),
            Math.round(median(ss.map((s) => s.udpDrops))),
            ss.reduce((a, s) => a + s.pingsLost, 0),
          ];
        }),
      ),
      note:
        'sealed = `vpc mode=status` column `sealed` on both hosts. MTU = the container\'s eth0. CPU s per Gbit = iperf3 client + server + ' +
        'wireguard-go (both hosts) + ksoftirqd, per Gbit received; machine = all of /proc/stat\'s busy time, other work on the machine included. ' +
        'via WireGuard = bytes host1\'s WireGuard link sent during the runs over the bytes iperf3 delivered (0 for clear; over 1 for sealed: ' +
        'TCP/IP, Ethernet, VXLAN and WireGuard headers, and every retransmission). ' +
        'retransmits (TCP, sender) and UDP buffer drops (both hosts, /proc/net/snmp{,6} RcvbufErrors: datagrams a full socket buffer refused) are medians per run; pings lost: sum over the rounds.',
    };
    const ratios: Table = {
      title: `Sealed / clear, each round against its own cleartext run (min / median / max of ${cfg.rounds} rounds)`,
      columns: ['underlay', 'implementation', 'throughput', 'RTT', 'CPU per Gbit', 'machine CPU per Gbit'],
      rows: underlays.map((u) => [
        underlayName(u),
        impl(u),
        spread(perRound(u, (s) => s.gbps), 3),
        spread(perRound(u, (s) => s.rttMs)),
        spread(perRound(u, perGbit)),
        spread(perRound(u, (s) => s.cpu.machine / s.gbit)),
      ]),
      note: impl('v4').includes('wireguard-go') || impl('v6').includes('wireguard-go')
        ? 'wireguard-go is WireGuard in userspace (this kernel has no module): every packet crosses a tun device twice per host. These ratios are not what kernel WireGuard costs.'
        : 'Measured with the implementation named; on a kernel without the module meshvpc falls back to userspace wireguard-go.',
    };
    const split: Table = {
      title: 'Where the CPU went during one iperf3 run (CPU s, medians of the rounds)',
      columns: ['underlay', 'VPC', 'iperf3 client', 'iperf3 server', 'wireguard-go', 'ksoftirqd', 'sum', 'machine', 'rest of the machine', 'background before', 'Gbit moved'],
      rows: underlays.flatMap((u) =>
        PATHS.map((p) => {
          const ss = of(u, p);
          const m = (f: (c: CpuSplit) => number): number => median(ss.map((s) => f(s.cpu)));
          return [
            underlayName(u),
            p,
            fmt(m((c) => c.client)),
            fmt(m((c) => c.server)),
            fmt(m((c) => c.wireguardGo)),
            fmt(m((c) => c.ksoftirqd)),
            fmt(m(dataCpu)),
            fmt(m((c) => c.machine)),
            fmt(m((c) => c.machine - dataCpu(c))),
            fmt(median(ss.map((s) => s.backgroundCpus * cfg.seconds))),
            fmt(median(ss.map((s) => s.gbit))),
          ];
        }),
      ),
      note:
        `The machine has 2 CPUs: a ${cfg.seconds} s run can use at most about ${2 * cfg.seconds} CPU s. rest of the machine = machine minus sum: ` +
        'other work running here, and softirq work done while an idle or unrelated task was current (it can come out slightly negative: ' +
        '/proc/stat is sampled by tick, process times are exact). background before = what the machine used over the same ' +
        `length of time just before the round with nothing of this benchmark running (CPUs busy x ${cfg.seconds} s). ` +
        'The machine-wide figures are samples at the kernel\'s tick (250 Hz here).',
    };
    const targets: Target[] = underlays.map((u) => ({
      what: `WireGuard (${impl(u)}) / cleartext throughput, ${underlayName(u)}`,
      goal: 'report',
      value: spread(perRound(u, (s) => s.gbps), 3),
      met: null,
    }));
    return {
      tables: [table, ratios, split],
      targets,
      data: {
        config: cfg,
        underlays: Object.fromEntries(underlays.map((u) => [u, { mtu: runs[u]?.mtu, sealed: runs[u]?.sealedImpl, wireguardGoPids: runs[u]?.wireguardGoPids }])),
        ratios: Object.fromEntries(
          underlays.map((u) => [u, { throughput: perRound(u, (s) => s.gbps).map((x) => round(x, 4)), rtt: perRound(u, (s) => s.rttMs).map((x) => round(x, 3)), cpuPerGbit: perRound(u, perGbit).map((x) => round(x, 3)) }]),
        ),
        samples: samples.map((s) => ({ ...s, gbps: round(s.gbps, 4), gbit: round(s.gbit, 3), rttMs: round(s.rttMs, 4) })),
      },
    };
  },
};
