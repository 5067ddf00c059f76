/**
 * The HTTP API server: idle RSS, `GET /api/v1/vpcs/{name}/status` latency
 * under 50 concurrent clients for 10 s (autocannon), and the time from a
 * tunnel going down (or up) to its Server-Sent Event. All on a 3-host lab
 * with the server on host 1; the load generator and the event listener run
 * inside host 1's network namespace, so nothing crosses the lab's edge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { onHost, type LabState } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { BenchError, joinFromHost1, mvOk, runArgv, shOk, sleep } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { median } from './lib/stats.js';
import type { Table } from './lib/table.js';

const PORT = 8089;
const require = createRequire(import.meta.url);
const AUTOCANNON = require.resolve('autocannon/autocannon.js');

/** Prints one line per event: the wall clock (ms) it arrived at, then the event's data. */
const LISTENER = `
const [port, token] = process.argv.slice(1);
const res = await fetch('http://127.0.0.1:' + port + '/api/v1/events', { headers: { authorization: 'Bearer ' + token } });
const dec = new TextDecoder(); let buf = '';
console.log('OPEN');
for await (const chunk of res.body) {
  buf += dec.decode(chunk, { stream: true });
  let i;
  while ((i = buf.indexOf('\\n\\n')) >= 0) {
    const block = buf.slice(0, i); buf = buf.slice(i + 2);
    const ev = /^event: (.*)$/m.exec(block); const data = /^data: (.*)$/m.exec(block);
    if (ev && data) console.log(Date.now() + ' ' + ev[1] + ' ' + data[1]);
  }
}
`;

interface Spawned {
  readonly child: ChildProcess;
  readonly lines: string[];
}

function start(lab: LabState, host: number, argv: string[]): Spawned {
  const full = onHost(lab, host, argv);
  const child = spawn(full[0] as string, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let rest = '';
  child.stdout?.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.on('data', () => undefined);
  return { child, lines };
}

const stop = (s: Spawned): Promise<void> =>
  new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
    setTimeout(() => s.child.kill('SIGKILL'), 3000).unref();
  });

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new BenchError(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);

interface Load {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rps: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function load(lab: LabState, token: string, seconds: number): Promise<Load> {
  const r = await runArgv(onHost(lab, 1, ['node', AUTOCANNON, '-c', '50', '-d', String(seconds), '-j', '-H', `authorization=Bearer ${token}`, `http://127.0.0.1:${PORT}/api/v1/vpcs/vpc1/status`]));
  if (r.code !== 0) throw new BenchError(`autocannon exited ${r.code}: ${r.stderr.slice(-300)}`);
  const j = JSON.parse(r.stdout) as { latency: { p50: number; p99: number; max: number }; requests: { average: number }; non2xx: number; errors: number };
  return { p50: j.latency.p50, p99: j.latency.p99, max: j.latency.max, rps: j.requests.average, non2xx: j.non2xx, errors: j.errors };
}

export const serverBench: Benchmark = {
  name: 'server',
  title: 'HTTP API server',
  method:
    'A 3-host IPv4 lab, vpc1 deployed on all three, `meshvpc server` on host 1. Idle RSS: /proc/PID/status VmRSS of the server ' +
    '5 s after it first answered, and again after the load runs. Status latency: autocannon (50 connections, 10 s each run, 3 runs) ' +
    'against GET /api/v1/vpcs/vpc1/status from inside host 1; the server answers from a status it refreshes in the background once older than 5 s, computed once for ' +
    'all concurrent callers (each refresh asks both peers over SSH, on connections kept open, and pings every tunnel), after one warm-up request. Event latency: a listener on ' +
    '/api/v1/events inside host 1 stamps each `tunnel` event with the wall clock; the bench takes the clock, then sets one of ' +
    "host 2's tunnels down (or back up) with ip(8); the figure is event time minus that (same machine, same clock), 6 changes.",
  async run(opts: Options): Promise<Outcome> {
    const seconds = opts.quick ? 3 : 10;
    const runs = opts.quick ? 1 : 3;
    const flips = opts.quick ? 2 : 6;
    return withLab({ hosts: 3, underlay: 'v4' }, async (lab) => {
      await joinFromHost1(lab);
      await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
      const token = (JSON.parse(await mvOk(lab, 1, 'token', 'mode=create', 'name=bench', '--json')) as { token: string }).token;
      const server = start(lab, 1, ['meshvpc', 'server', `listen=127.0.0.1:${PORT}`]);
      let listener: Spawned | null = null;
      try {
        await waitFor('server answers', async () => (await runArgv(onHost(lab, 1, ['ss', '-Hltn', 'sport', '=', `:${PORT}`]))).stdout.trim() !== '', 20_000);
        const pid = server.child.pid as number;
        await sleep(5000);
        const idle = rssKiB(pid);

        // One status first: the first one is computed while its caller waits; the load measures the steady state.
        await runArgv(onHost(lab, 1, ['node', '-e', `fetch('http://127.0.0.1:${PORT}/api/v1/vpcs/vpc1/status', { headers: { authorization: 'Bearer ${token}' } }).then((r) => r.text())`]));
        const loads: Load[] = [];
        for (let i = 0; i < runs; i++) loads.push(await load(lab, token, seconds));
        const afterLoad = rssKiB(pid);
        await sleep(10_000);
        const settled = rssKiB(pid);

        listener = start(lab, 1, ['node', '--input-type=module', '-e', LISTENER, String(PORT), token]);
        await waitFor('event stream open', () => listener?.lines.includes('OPEN') ?? false, 10_000);
        const status = JSON.parse(await shOk(lab, 2, 'ip', '-j', 'link', 'show', 'type', 'vxlan')) as { ifname: string }[];
        const tunnel = status[0]?.ifname;
        if (!tunnel) throw new BenchError('host2 has no tunnel');
        // Let the watcher see the tunnel once before it changes.
        await sleep(3000);
        const delays: number[] = [];
        for (let i = 0; i < flips; i++) {
          const up = i % 2 === 1;
          const seen = listener.lines.length;
          const t0 = Date.now();
          await shOk(lab, 2, 'ip', 'link', 'set', 'dev', tunnel, up ? 'up' : 'down');
          let at = Number.NaN;
          await waitFor(`tunnel ${up ? 'up' : 'down'} event`, () => {
            for (const l of listener?.lines.slice(seen) ?? []) {
              const m = /^(\d+) tunnel (.*)$/.exec(l);
              if (!m) continue;
              const d = JSON.parse(m[2] as string) as { node: string; tunnel: string; up: boolean };
              if (d.node === 'host2' && d.tunnel === tunnel && d.up === up) {
                at = Number(m[1]);
                return true;
              }
            }
            return false;
          }, 20_000);
          delays.push(at - t0);
          await sleep(1000);
        }

        const p99s = loads.map((l) => l.p99);
        const medP99 = median(p99s);
        const tables: Table[] = [
          {
            title: 'Server memory (MiB, VmRSS)',
            columns: ['when', 'RSS'],
            rows: [
              ['idle, 5 s after start', fmt(idle / 1024, 1)],
              [`right after ${runs} x ${seconds} s of load`, fmt(afterLoad / 1024, 1)],
              ['10 s after the load', fmt(settled / 1024, 1)],
            ],
          },
          {
            title: `GET /api/v1/vpcs/vpc1/status, 50 connections, ${seconds} s per run (ms)`,
            columns: ['run', 'p50', 'p99', 'max', 'req/s', 'non-2xx', 'errors'],
            rows: loads.map((l, i) => [String(i + 1), fmt(l.p50, 1), fmt(l.p99, 1), fmt(l.max, 1), fmt(l.rps, 0), String(l.non2xx), String(l.errors)]),
          },
          {
            title: 'Tunnel change to its SSE event (ms)',
            columns: ['min', 'median', 'max', 'changes'],
            rows: [[fmt(Math.min(...delays), 0), fmt(median(delays), 0), fmt(Math.max(...delays), 0), String(delays.length)]],
            note: 'The watcher looks every 2 s while someone listens; a status takes a few hundred ms (SSH to each peer, a ping per tunnel).',
          },
        ];
        return {
          tables,
          targets: [
            { what: 'server idle RSS', goal: '<= 80 MiB', value: `${fmt(idle / 1024, 1)} MiB`, met: idle / 1024 <= 80 },
            { what: 'status p99, 50 clients, 3-host VPC', goal: '<= 50 ms', value: `${fmt(Math.min(...p99s), 1)}-${fmt(Math.max(...p99s), 1)} ms (median ${fmt(medP99, 1)})`, met: Math.max(...p99s) <= 50 },
            { what: 'tunnel change to SSE event', goal: '<= 5000 ms', value: `${fmt(Math.min(...delays), 0)}-${fmt(Math.max(...delays), 0)} ms (median ${fmt(median(delays), 0)})`, met: Math.max(...delays) <= 5000 },
          ],
          data: { idleRssKiB: idle, afterLoadRssKiB: afterLoad, settledRssKiB: settled, loads, eventDelaysMs: delays },
        };
      } finally {
        if (listener) await stop(listener);
        await stop(server);
      }
    });
  },
};
