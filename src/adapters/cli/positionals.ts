/**
 * Bare words among a command's arguments. parseArgs hands everything from the
 * first bare word on to the command as `rest`; only a few commands use it, and
 * the others used to ignore it silently (`meshvpc vpc mode=list json` printed
 * a table). Here, before any command runs, each command's rule decides what a
 * bare word may be, and any other one is refused.
 */
import { shown, UserError } from '../../core/errors.js';
import { OPERATIONS } from '../../app/catalog.js';
import { parseArgs, type Invocation, type Params } from './args.js';
import { COMMANDS } from './help.js';

interface Rule {
  /**
   * A first bare word stands for this parameter, as in CBSD (`jwhereis NAME`
   * is jname=NAME, `lab up` is mode=up, `help vpc` is topic=vpc, `completion
   * bash` is mode=bash). Parameters may follow it.
   */
  readonly word?: string;
  /** Whether the bare words after the parameters are a command line to run, passed on untouched. */
  readonly argv?: (params: Params) => boolean;
}

/** The catalog's (`jwhereis NAME`, `jexec ... CMD`) and the CLI's own commands'. */
const RULES: Readonly<Record<string, Rule>> = {
  ...Object.fromEntries(
    OPERATIONS.filter((o) => o.word !== undefined || o.argv).map((o): [string, Rule] => [o.command, { ...(o.word ? { word: o.word } : {}), ...(o.argv ? { argv: () => true } : {}) }]),
  ),
  help: { word: 'topic' },
  completion: { word: 'mode' },
  lab: { word: 'mode', argv: (p) => p.get('mode') === 'run' },
};

/** Shared options that are easy to type without their dashes. */
const FLAGS = ['json', 'dryrun', 'force', 'help'];

function unexpected(word: string, command: string, context: string): UserError {
  const hint = FLAGS.includes(word) ? ` (did you mean --${word}?)` : '';
  const usage = COMMANDS[command]?.usage ?? 'meshvpc COMMAND key=value ... (meshvpc help)';
  return new UserError(`unexpected argument ${shown(word)} for ${context}${hint}; usage: ${usage}`);
}

/** The invocation with its positional word moved into its parameter; refuses bare words the command does not take. */
export function checkPositionals(inv: Invocation): Invocation {
  const command = inv.command;
  if (command === null) return inv;
  const rule = RULES[command] ?? {};
  let params = inv.params;
  let rest = inv.rest;
  const first = rest[0];
  if (rule.word !== undefined && first !== undefined && !params.has(rule.word)) {
    const after = parseArgs([command, ...rest.slice(1)]);
    params = params.merge(new Map([[rule.word, first]])).merge(after.params);
    rest = after.rest;
  }
  const stray = rest[0];
  if (stray !== undefined && !(rule.argv?.(params) ?? false)) {
    const mode = params.get('mode');
    throw unexpected(stray, command, mode === undefined ? command : `${command} mode=${mode}`);
  }
  return { command, params, rest };
}
