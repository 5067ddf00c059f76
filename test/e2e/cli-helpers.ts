/**
 * The built CLI run directly (node bin/meshvpc.js, no lab, no PATH), with its
 * own MESHVPC_HOME; optionally inside a private mount namespace, so a test can
 * mount a tiny tmpfs or a read-only bind over the state directory without
 * anything outside seeing it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/meshvpc.js of this checkout (this file runs from dist/test/e2e/). */
export const BIN = fileURLToPath(new URL('../../../bin/meshvpc.js', import.meta.url));

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Only what the CLI needs: a state directory and a PATH for ip(8); no MESHVPC_DEBUG from outside. */
function env(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', MESHVPC_HOME: home, ...extra };
}

export function cli(home: string, args: readonly string[], extra: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env(home, extra), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A temp directory for one test, removed afterwards whatever happens. */
export function withTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'meshvpc-e2e-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * In a new private mount namespace (unshare -m), one step after another: a
 * string is a shell script that must succeed (mounts, filling a disk, copies),
 * an array is one meshvpc run whose result is returned. Mounts are seen by
 * nothing outside and go away with the namespace. Scripts get $H (the state
 * directory), $OUT (a directory outside it, for copies), and "$NODE" "$BIN"
 * run the CLI.
 */
export function inMountNamespace(home: string, out: string, steps: readonly (string | readonly string[])[]): Run[] {
  let n = 0;
  const lines = steps.map((step) => {
    if (typeof step === 'string') return step;
    const i = n++;
    return `set +e; "$NODE" "$BIN" ${step.map(quote).join(' ')} >"$OUT/${i}.out" 2>"$OUT/${i}.err"; echo $? >"$OUT/${i}.code"; set -e`;
  });
  const script = ['set -e', ...lines].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...env(home, {}), H: home, OUT: out, NODE: process.execPath, BIN },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`namespace script failed (${r.status}): ${r.stderr}`);
  return Array.from({ length: n }, (_, i) => ({
    code: Number(readFileSync(join(out, `${i}.code`), 'utf8')),
    stdout: readFileSync(join(out, `${i}.out`), 'utf8'),
    stderr: readFileSync(join(out, `${i}.err`), 'utf8'),
  }));
}

/** Every file of a directory (not recursive) with its bytes, to show that nothing changed. */
export function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, statSync(join(dir, f)).isFile() ? readFileSync(join(dir, f)).toString('base64') : 'dir']),
  );
}

/** The mount points this process sees: a test's mounts must not be among them. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4] ?? '');
}
