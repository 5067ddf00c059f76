/**
 * Running external commands. Always argv arrays, never a shell string, so no
 * user value can be read as shell syntax.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Executor {
  run(argv: readonly string[], input?: string): Promise<ExecResult>;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const why = result.stderr.trim().split('\n').pop() || `exit status ${result.code}`;
    super(`${argv.join(' ')}: ${why}`);
    this.name = 'CommandError';
  }
}

export const systemExecutor: Executor = {
  run(argv, input) {
    return new Promise((resolve, reject) => {
      const [cmd, ...args] = argv;
      if (!cmd) return reject(new Error('empty command'));
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        }),
      );
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  },
};

/** Run and insist on success; the error names the command and its last stderr line. */
export async function runChecked(exec: Executor, argv: readonly string[], input?: string): Promise<string> {
  const result = await exec.run(argv, input);
  if (result.code !== 0) throw new CommandError(argv, result);
  return result.stdout;
}
