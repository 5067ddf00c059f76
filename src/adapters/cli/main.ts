/**
 * The CLI: parse CBSD-style arguments, refuse what no operation would use
 * (stray words, shared options a command ignores, bad values) before any
 * state is opened, run the operation through the application layer, print
 * its result, and turn it into an exit status. The only place in meshvpc
 * that has exit statuses. Modules load on demand so `meshvpc help` does not
 * pay for SQLite, SSH or drivers.
 */
import { hostname } from 'node:os';
import { shown, UserError } from '../../core/errors.js';
import { isSqliteError, StorageError, storageError } from '../../store/faults.js';
import { operationsOf, parseInput, type Operation } from '../../app/catalog.js';
import { parseArgs, type Invocation } from './args.js';
import { commandHelp, generalHelp, unknownCommand } from './help.js';
import { checkSharedOptions, OUTPUT_OPTIONS } from './options.js';
import { checkPositionals } from './positionals.js';
import { exitStatus } from './exit-status.js';

export type CommandRun = (inv: Invocation) => Promise<number>;

/** Commands only the CLI has: they are faces of their own, not operations. */
const OWN: Record<string, () => Promise<CommandRun>> = {
  lab: async () => (await import('./lab.js')).run,
  remote: async () => (await import('../remote/serve.js')).run,
  server: async () => (await import('./server.js')).run,
  etcd: async () => (await import('./etcd.js')).run,
  agent: async () => (await import('./agent.js')).run,
  completion: async () => (await import('./completion.js')).run,
  tui: async () => (await import('../tui/run.js')).run,
  // The reference's name for its menus.
  'bsdconfig-tui': async () => (await import('../tui/run.js')).run,
};

function printHelp(topic: string | undefined): number {
  process.stdout.write(topic === undefined ? generalHelp() : commandHelp(topic));
  return 0;
}

async function printVersion(): Promise<number> {
  process.stdout.write(`${(await import('../../core/version.js')).VERSION}\n`);
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

/** The operation a catalog command and its mode= name. */
function chooseOperation(command: string, inv: Invocation): Operation {
  const ops = operationsOf(command);
  const moded = ops.filter((o) => o.mode !== undefined);
  if (moded.length === 0) return ops[0] as Operation;
  const modes = moded.map((o) => o.mode as string);
  const mode = inv.params.require('mode', `use one of ${modes.join(', ')}`);
  const op = moded.find((o) => o.mode === mode);
  if (!op) throw new UserError(`unknown ${command} mode ${shown(mode)}; modes: ${modes.join(', ')}`);
  return op;
}

/** Defaults that come from where the CLI runs (its host name, its environment). */
function cliDefaults(op: Operation, given: Map<string, string>): void {
  if (op.id === 'initenv' && !given.has('nodename')) given.set('nodename', hostname().split('.')[0] ?? '');
  const concurrency = process.env.MESHVPC_CONCURRENCY;
  if (concurrency !== undefined && !given.has('concurrency') && op.args.some((a) => a.name === 'concurrency')) given.set('concurrency', concurrency);
}

async function runCatalog(command: string, inv: Invocation): Promise<number> {
  const op = chooseOperation(command, inv);
  const p = inv.params;
  const given = new Map(p.keys().filter((k) => k !== 'mode' && !OUTPUT_OPTIONS.includes(k)).map((k) => [k, p.get(k) as string]));
  cliDefaults(op, given);
  const input = parseInput(op, given);
  const { runOperation } = await import('../../app/operations.js');
  const { render, eventPrinter } = await import('./render.js');
  const password = async (prompt: string): Promise<string | null> => (await import('./password.js')).readPassword(prompt);
  const events = eventPrinter(op.id, p.flag('json'));
  const ctx = { events, password };
  if (op.id === 'jexec') {
    const argv = (await runOperation(op.id, { ...input, argv: inv.rest }, ctx)) as string[];
    return (await import('./exec.js')).runOnTerminal(argv);
  }
  let result: unknown;
  try {
    result = await runOperation(op.id, input, ctx);
  } finally {
    // A live progress view draws its final state before the summary (or the error).
    events.finish();
  }
  return render(op.id, result, p);
}

/** What the bash completion script runs (`meshvpc __complete BREAKS LINE`): hidden, and never an error. */
async function completeForShell(argv: readonly string[]): Promise<number> {
  try {
    process.stdout.write(await (await import('./completion.js')).completeLine(argv[0] ?? '', argv[1] ?? ''));
  } catch {
    // No candidates is the only failure a shell's completion can show.
  }
  return 0;
}

async function run(argv: readonly string[]): Promise<number> {
  if (argv[0] === '__complete') return completeForShell(argv.slice(1));
  const inv = checkPositionals(parseArgs(argv));
  const name = inv.command;
  if (name === null) return withoutCommand(inv);
  if (name === 'help') {
    inv.params.only(['topic'], 'help');
    checkSharedOptions(inv);
    return printHelp(inv.params.get('topic'));
  }
  const own = OWN[name];
  if (name !== 'version' && !own && operationsOf(name).length === 0) throw unknownCommand(name);
  if (inv.params.flag('help')) return printHelp(name === 'bsdconfig-tui' ? 'tui' : name);
  // version takes no arguments at all; the others (remote: caller= only) check their own.
  if (name === 'version') inv.params.only([], name);
  checkSharedOptions(inv);
  if (name === 'version') return printVersion();
  if (own) return (await own())(inv);
  return runCatalog(name, inv);
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
      err = storageError(e, (await import('../../store/db.js')).dbPath());
    }
    if (err instanceof UserError) {
      process.stderr.write(`meshvpc: ${err.message.split('\n')[0]}\n`);
      if (process.env.MESHVPC_DEBUG && err instanceof StorageError && err.original instanceof Error) process.stderr.write(`${err.original.stack}\n`);
      return exitStatus(err.kind);
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`meshvpc: ${msg.split('\n')[0]}\n`);
    if (process.env.MESHVPC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
