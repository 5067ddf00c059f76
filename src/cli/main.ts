/**
 * Entry point: parse CBSD-style arguments, refuse what no command would use
 * (stray words, shared options a command ignores, bad flag values) before any
 * state is opened, and hand over to one command module, loaded on demand so
 * `meshvpc help` does not pay for SQLite, SSH or drivers.
 */
import { UserError } from '../core/errors.js';
import { isSqliteError, StorageError, storageError } from '../store/faults.js';
import { parseArgs, type Invocation } from './args.js';
import { commandHelp, generalHelp, unknownCommand } from './help.js';
import { checkSharedOptions } from './options.js';
import { checkPositionals } from './positionals.js';

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

function printHelp(topic: string | undefined): number {
  process.stdout.write(topic === undefined ? generalHelp() : commandHelp(topic));
  return 0;
}

async function printVersion(): Promise<number> {
  process.stdout.write(`${(await import('./version.js')).VERSION}\n`);
  return 0;
}

/** Arguments without a command: `meshvpc`, `meshvpc --help [CMD]`, `meshvpc --version`. */
async function withoutCommand(inv: Invocation): Promise<number> {
  const keys = inv.params.keys();
  const only = (key: string): boolean => keys.length === 1 && keys[0] === key && inv.params.flag(key);
  if (keys.length === 0 && inv.rest.length === 0) return printHelp(undefined);
  if (only('help') && inv.rest.length <= 1) return printHelp(inv.rest[0]);
  if (only('version') && inv.rest.length === 0) return printVersion();
  throw new UserError(`arguments before the command: write the command first, as in meshvpc vpc mode=list (meshvpc help)`);
}

async function run(argv: readonly string[]): Promise<number> {
  const inv = checkPositionals(parseArgs(argv));
  const name = inv.command;
  if (name === null) return withoutCommand(inv);
  if (name === 'help') {
    inv.params.only(['topic'], 'help');
    checkSharedOptions(inv);
    return printHelp(inv.params.get('topic'));
  }
  if (name !== 'version' && !loaders[name]) throw unknownCommand(name);
  if (inv.params.flag('help')) return printHelp(name);
  // version takes no arguments at all; the others (remote: caller= only) check their own.
  if (name === 'version') inv.params.only([], name);
  checkSharedOptions(inv);
  if (name === 'version') return printVersion();
  return (await (loaders[name] as () => Promise<CommandRun>)())(inv);
}

export async function main(argv: readonly string[]): Promise<number> {
  // State, keys and the WAL files SQLite creates beside the database: root only.
  process.umask(0o077);
  try {
    return await run(argv);
  } catch (e) {
    let err = e;
    // A query failing inside a command (a full disk at commit): name the file and the cause.
    if (isSqliteError(e)) {
      err = storageError(e, (await import('../store/db.js')).dbPath());
    }
    if (err instanceof UserError) {
      process.stderr.write(`meshvpc: ${err.message.split('\n')[0]}\n`);
      if (process.env.MESHVPC_DEBUG && err instanceof StorageError && err.original instanceof Error) process.stderr.write(`${err.original.stack}\n`);
      return err.exitCode;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`meshvpc: ${msg.split('\n')[0]}\n`);
    if (process.env.MESHVPC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
