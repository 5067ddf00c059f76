/** jexec: the container's command runs on this terminal; its exit status is meshvpc's. */
import { spawn } from 'node:child_process';

export function runOnTerminal(argv: readonly string[]): Promise<number> {
  const [cmd, ...args] = argv;
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd as string, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
