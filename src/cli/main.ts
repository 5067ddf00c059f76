/**
 * Entry point: parse CBSD-style arguments and hand over to one command module,
 * loaded on demand so `meshvpc help` does not pay for SQLite, SSH or drivers.
 */
import { UserError } from '../core/errors.js';
import { parseArgs, type Invocation } from './args.js';
import { COMMANDS, commandHelp, generalHelp } from './help.js';

export type CommandRun = (inv: Invocation) => Promise<number>;

const loaders: Record<string, () => Promise<CommandRun>> = {
  initenv: async () => (await import('../commands/initenv.js')).run,
  node: async () => (await import('../commands/node.js')).run,
  vpc: async () => (await import('../commands/vpc.js')).run,
  jcreate: async () => (await import('../commands/jail.js')).jcreate,
  jstart: async () => (await import('../commands/jail.js')).jstart,
  jstop: async () => (await import('../commands/jail.js')).jstop,
  jremove: async () => (await import('../commands/jail.js')).jremove,
  jls: async () => (await import('../commands/jail.js')).jls,
  jwhereis: async () => (await import('../commands/jail.js')).jwhereis,
  jexec: async () => (await import('../commands/jail.js')).jexec,
  lab: async () => (await import('../lab/command.js')).run,
  remote: async () => (await import('../commands/remote.js')).run,
};

export async function main(argv: readonly string[]): Promise<number> {
  // State, keys and the WAL files SQLite creates beside the database: root only.
  process.umask(0o077);
  try {
    const inv = parseArgs(argv);
    const name = inv.command;
    if (name === null || name === 'help' || name === '--help') {
      const topic = name === 'help' ? inv.rest[0] : undefined;
      process.stdout.write(topic ? commandHelp(topic) : generalHelp());
      return 0;
    }
    if (name === 'version' || name === '--version') {
      process.stdout.write(`${(await import('./version.js')).VERSION}\n`);
      return 0;
    }
    const load = loaders[name];
    if (!load) throw new UserError(`unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')} (meshvpc help)`);
    if (inv.params.flag('help')) {
      process.stdout.write(commandHelp(name));
      return 0;
    }
    return await (await load())(inv);
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`meshvpc: ${e.message}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`meshvpc: ${msg.split('\n')[0]}\n`);
    if (process.env.MESHVPC_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
