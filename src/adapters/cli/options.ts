/**
 * The shared options (--json, header=, display=, dryrun=, force=, platform=)
 * are checked before any command runs: their value, and that this command
 * (and mode) does something with them. Where each applies comes from the
 * catalog (an operation that takes dryrun=, a listing that prints columns),
 * plus the lab's own listings, which only the CLI has.
 */
import { UserError } from '../../core/errors.js';
import { contextOf, DECLARED, OPERATIONS, operationsOf } from '../../app/catalog.js';
import type { Invocation } from './args.js';
import { parseDisplay } from './output.js';

const LAB_LISTINGS: Readonly<Record<string, readonly string[]>> = {
  'lab mode=up': ['host', 'name', 'address', 'netns', 'sshd_pid'],
  'lab mode=list': ['lab', 'hosts', 'underlay', 'dir'],
};

/** Every listing and every column display= may name, default columns first. */
export const LISTINGS: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(OPERATIONS.filter((o) => o.output === 'listing').map((o) => [contextOf(o), o.columns ?? []])),
  ...LAB_LISTINGS,
};

/** The contexts whose operations take `arg`, a whole command named once when all its operations do. */
function takers(arg: string): string[] {
  const out: string[] = [];
  for (const o of DECLARED) {
    if (!o.args.some((a) => a.name === arg)) continue;
    const all = operationsOf(o.command).every((x) => x.args.some((a) => a.name === arg));
    const context = all ? o.command : contextOf(o);
    if (!out.includes(context)) out.push(context);
  }
  return out;
}

/** Who does something with each shared option. An entry without mode= covers every mode of the command. */
const HONOURED: Readonly<Record<string, readonly string[]>> = {
  json: [...Object.keys(LISTINGS), ...OPERATIONS.filter((o) => o.output === 'json').map(contextOf)],
  header: Object.keys(LISTINGS),
  display: Object.keys(LISTINGS),
  dryrun: takers('dryrun'),
  force: takers('force'),
  platform: takers('platform'),
};

/** The CLI's own commands that honour a shared option (named only in their own refusals). */
const OWN: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  server: { dryrun: ['server mode=install'] },
  etcd: { dryrun: ['etcd mode=install'] },
  agent: { dryrun: ['agent mode=install'] },
};

/** Options whose value is 1 or 0 (yes/no, true/false), as Params.flag reads them. */
const FLAGS = ['json', 'header', 'dryrun', 'force', 'help'];

/** Options that shape what is printed: the CLI's own, never an operation's input. */
export const OUTPUT_OPTIONS = ['json', 'header', 'display', 'help'];

/** Commands whose mode= chooses what they do; without one they refuse by themselves. */
export const isModed = (command: string): boolean => command === 'lab' || command === 'etcd' || command === 'agent' || operationsOf(command).some((o) => o.mode !== undefined);

/**
 * Check the shared options of `inv` (after checkPositionals) and note the
 * listing's columns on its Params for printRows. Throws a UserError naming
 * the option and where it applies.
 */
export function checkSharedOptions(inv: Invocation): void {
  const command = inv.command ?? '';
  const p = inv.params;
  for (const key of FLAGS) if (p.has(key)) p.flag(key);
  const mode = p.get('mode');
  // Without a mode the command says "missing mode=", which is the better first message.
  if (isModed(command) && mode === undefined) return;
  // server's mode is optional (run by default).
  const context = isModed(command) || (command === 'server' && mode !== undefined) ? `${command} mode=${mode}` : command;
  for (const [key, catalog] of Object.entries(HONOURED)) {
    const where = [...catalog, ...(OWN[command]?.[key] ?? [])];
    if (p.has(key) && !where.includes(context) && !where.includes(command)) {
      throw new UserError(`${key}= does not apply to ${context}; it applies to ${where.join(', ')}`);
    }
  }
  const columns = LISTINGS[context];
  if (!columns) return;
  p.listingColumns = columns;
  const display = p.get('display');
  if (display !== undefined) parseDisplay(display, columns);
}
