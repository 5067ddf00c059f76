/**
 * Many iproute2 commands as one `ip -batch -` process. A deploy applies tens
 * of ops per host; one process instead of one per command is most of the
 * apply time on a busy machine. ip stops at the first failing line and names
 * it ("Command failed -:N"), which maps back to the argv that failed.
 */
import { CommandError, type ExecResult } from '../exec.js';

/** One argv (after "ip") as a batch line; ip's batch reader honours double quotes and backslashes. */
function batchLine(args: readonly string[]): string {
  return args.map((a) => (/^[^\s"'\\#]+$/.test(a) ? a : `"${a.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(' ');
}

/** `tool`: ip, or bridge (whose -batch reads the same lines). */
export function batchScript(cmds: readonly (readonly string[])[], tool: 'ip' | 'bridge' = 'ip'): string {
  return cmds
    .map((argv) => {
      if (argv[0] !== tool) throw new Error(`not an ${tool} command: ${argv.join(' ')}`);
      return `${batchLine(argv.slice(1))}\n`;
    })
    .join('');
}

/** The error of a failed batch, naming the command on the line ip reported. */
export function batchError(cmds: readonly (readonly string[])[], result: ExecResult, tool: 'ip' | 'bridge' = 'ip'): CommandError {
  const line = Number(/Command failed -:(\d+)/.exec(result.stderr)?.[1]);
  const failed = Number.isInteger(line) && line >= 1 ? cmds[line - 1] : undefined;
  const why = result.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Command failed')).pop() ?? '';
  return new CommandError(failed ?? [tool, '-batch', '-'], { ...result, stderr: why });
}
