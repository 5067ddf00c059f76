/** Running things on lab hosts and inside their containers, timed. */
import { spawn } from 'node:child_process';
import { execOn, meshvpc, onHost, type LabState } from '../../src/lab/lab.js';
import type { ExecResult } from '../../src/platform/exec.js';
import { now } from './stats.js';

export class BenchError extends Error {
  override name = 'BenchError';
}

const describe = (what: string, r: ExecResult): string => `${what} exited ${r.code}: ${(r.stderr + r.stdout).trim().split('\n').slice(-5).join(' | ')}`;

/** meshvpc on a host, which must succeed; its stdout. */
export async function mvOk(lab: LabState, host: number, ...args: string[]): Promise<string> {
  const r = await meshvpc(lab, host, args);
  if (r.code !== 0) throw new BenchError(describe(`host${host}: meshvpc ${args.join(' ')}`, r));
  return r.stdout;
}

export async function shOk(lab: LabState, host: number, ...argv: string[]): Promise<string> {
  const r = await execOn(lab, host, argv);
  if (r.code !== 0) throw new BenchError(describe(`host${host}: ${argv.join(' ')}`, r));
  return r.stdout;
}

export interface Timed extends ExecResult {
  /** Wall time seen from here, nsenter and env included (a few ms). */
  readonly ms: number;
  /** Peak resident set of the meshvpc process, from GNU time; null if it could not be read. */
  readonly maxRssKiB: number | null;
  /** CPU time (user + system) of the meshvpc process and its children, from GNU time. */
  readonly cpuS: number | null;
}

const TAG = 'BENCH_TIME=';

/**
 * meshvpc on a host under GNU time (`/usr/bin/time`, Debian package `time`)
 * for its peak RSS and CPU time. GNU time prints one tagged line last on
 * stderr; it is taken off so stderr reads as meshvpc wrote it.
 */
export async function timedMv(lab: LabState, host: number, ...args: string[]): Promise<Timed> {
  const t = now();
  const r = await execOn(lab, host, ['/usr/bin/time', '-f', `${TAG}%M %U %S`, 'meshvpc', ...args], { MESHVPC_PASSWORD: lab.password });
  const ms = now() - t;
  const lines = r.stderr.split('\n');
  const tagAt = lines.findIndex((l) => l.startsWith(TAG));
  const f = tagAt >= 0 ? (lines[tagAt] ?? '').slice(TAG.length).split(' ').map(Number) : [];
  const stderr = tagAt >= 0 ? [...lines.slice(0, tagAt), ...lines.slice(tagAt + 1)].join('\n') : r.stderr;
  const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);
  return { code: r.code, stdout: r.stdout, stderr, ms, maxRssKiB: known(f[0]) ? f[0] : null, cpuS: known(f[1]) && known(f[2]) ? f[1] + f[2] : null };
}

export async function timedMvOk(lab: LabState, host: number, ...args: string[]): Promise<Timed> {
  const r = await timedMv(lab, host, ...args);
  if (r.code !== 0) throw new BenchError(describe(`host${host}: meshvpc ${args.join(' ')}`, r));
  return r;
}

/**
 * argv that runs a command inside a container (a network namespace named in the
 * host's own /run/netns). Going straight to `ip netns exec` instead of
 * `meshvpc jexec` keeps Node's start-up out of every probe.
 */
export const inGuest = (lab: LabState, host: number, jname: string, argv: readonly string[]): string[] => onHost(lab, host, ['ip', 'netns', 'exec', jname, ...argv]);

export function runArgv(argv: readonly string[], cwd?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('empty command'));
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: out, stderr: err }));
  });
}

/** Every host joins host1's cluster; one `node mode=add` joins both sides. */
export async function joinFromHost1(lab: LabState): Promise<void> {
  for (const h of lab.hosts) {
    if (h.index !== 1) await mvOk(lab, 1, 'node', 'mode=add', `node=${h.ip4 ?? h.ip6}`);
  }
}

/** Map over items with at most `limit` in flight (2 CPUs: more only queues). */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
