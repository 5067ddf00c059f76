/**
 * Shell completion. The bash script (`meshvpc completion bash`) only passes
 * the command line to `meshvpc __complete` and hands back what it prints;
 * every decision is made here, from the catalog: command names, modes,
 * the argument names of the chosen command and mode (not those already
 * given), and the values that can be known: fixed choices (the catalog's
 * enums and the literal words of its placeholders, as in 0|auto|A/N), a
 * listing's columns, and VPC, node and guest names from this host's
 * database. `candidates` is pure; only `completeLine` reads the database,
 * and only when a name is asked for.
 */
import { operationsOf, type Arg, type Operation } from '../../app/catalog.js';
import { shown, UserError } from '../../core/errors.js';
import type { Invocation } from './args.js';
import { COMMANDS } from './help.js';

/** What this host knows, for values that are names. */
export interface Known {
  readonly vpcs: readonly string[];
  /** The known peers. */
  readonly nodes: readonly string[];
  /** The name of the host completing, when it has one. */
  readonly self?: string | undefined;
  readonly guests: readonly { readonly name: string; readonly kind: 'jail' | 'vm' }[];
}

export const NOTHING_KNOWN: Known = { vpcs: [], nodes: [], guests: [] };

/** How one argument's value is completed. */
interface ArgSpec {
  readonly name: string;
  /** A comma separated list: each element is completed, none twice. */
  readonly list?: boolean;
  readonly files?: boolean;
  readonly values?: (known: Known) => readonly string[];
}

interface CommandSpec {
  /** Arguments of a command without modes. */
  readonly args: readonly ArgSpec[];
  readonly modes?: Readonly<Record<string, readonly ArgSpec[]>>;
  /** Whether mode= may be left out (server runs by default: its first mode's arguments apply). */
  readonly modeOptional?: boolean;
  /** A first bare word stands for this argument (`jwhereis NAME`, `lab up`, `help vpc`). */
  readonly word?: string;
}

const fixed =
  (...values: string[]) =>
  (): readonly string[] =>
    values;

/** The literal words of a placeholder: `0|auto|A/N` offers 0 and auto, `N|none` offers none. */
const literals = (placeholder: string): string[] => placeholder.split('|').filter((w) => /^[a-z0-9]+$/.test(w));

const guestsOf =
  (kind: 'jail' | 'vm' | undefined) =>
  (k: Known): string[] =>
    k.guests.filter((g) => kind === undefined || g.kind === kind).map((g) => g.name);

/** Which guests an operation's jname= names: none for a new one, VMs for the b commands, containers for the j commands. */
function guestKind(op: Operation): 'jail' | 'vm' | 'any' | 'new' {
  if (op.id === 'jcreate' || op.id === 'bcreate') return 'new';
  if (op.id === 'jwhereis') return 'any';
  return op.command.startsWith('b') ? 'vm' : 'jail';
}

/** Value sources for the arguments that name things this host knows. */
function namedValues(a: Arg, op: Operation): ((k: Known) => readonly string[]) | undefined {
  switch (a.name) {
    case 'vpc_name':
      // vpc mode=init names a new VPC.
      return op.id === 'vpc.init' ? undefined : (k) => k.vpcs;
    case 'interface':
      return (k) => k.vpcs;
    case 'node_member':
      return (k) => ['all', ...(k.self ? [k.self] : []), ...k.nodes];
    case 'node':
      // node mode=add names a new host, by address.
      return op.id === 'node.add' ? undefined : (k) => k.nodes;
    case 'jname': {
      const kind = guestKind(op);
      return kind === 'new' ? undefined : guestsOf(kind === 'any' ? undefined : kind);
    }
    default:
      return undefined;
  }
}

function argSpec(a: Arg, op: Operation): ArgSpec {
  const named = namedValues(a, op);
  const choices = [...new Set([...((a.schema?.enum as string[] | undefined) ?? []), ...literals(a.placeholder)])];
  const values = named ? (k: Known): readonly string[] => [...choices, ...named(k)] : choices.length > 0 ? fixed(...choices) : undefined;
  return { name: a.name, ...(a.kind === 'list' ? { list: true } : {}), ...(a.placeholder === 'PATH' ? { files: true } : {}), ...(values ? { values } : {}) };
}

/** An operation's arguments, with the output options it honours (--json, header=, display=). */
function opArgs(op: Operation): ArgSpec[] {
  const out = op.args.map((a) => argSpec(a, op));
  if (op.output !== 'text') out.push({ name: 'json', values: fixed('1', '0') });
  if (op.output === 'listing') {
    out.push({ name: 'header', values: fixed('0', '1') });
    out.push({ name: 'display', list: true, values: fixed(...(op.columns ?? [])) });
  }
  return out;
}

function catalogSpec(command: string): CommandSpec {
  const ops = operationsOf(command);
  const moded = ops.filter((o) => o.mode !== undefined);
  if (moded.length === 0) {
    const op = ops[0] as Operation;
    return { args: opArgs(op), ...(op.word ? { word: op.word } : {}) };
  }
  return { args: [], modes: Object.fromEntries(moded.map((o) => [o.mode as string, opArgs(o)])) };
}

const flag = (name: string): ArgSpec => ({ name, values: fixed('1', '0') });
const underlay: ArgSpec = { name: 'underlay', values: fixed('v4', 'v6') };

/** The CLI's own commands (their arguments are checked in their own files: lab.ts, server.ts). */
const OWN: Readonly<Record<string, CommandSpec>> = {
  server: {
    args: [],
    modeOptional: true,
    modes: {
      run: [{ name: 'listen' }, { name: 'cert', files: true }, { name: 'key', files: true }],
      install: [{ name: 'listen' }, { name: 'cert', files: true }, { name: 'key', files: true }, flag('dryrun')],
    },
  },
  etcd: { args: [], modes: { run: [], install: [flag('dryrun')] } },
  agent: { args: [], modes: { run: [], install: [flag('dryrun')] } },
  lab: {
    args: [],
    word: 'mode',
    modes: { up: [{ name: 'hosts' }, underlay, { name: 'etcd', values: fixed('0', '1', '3', '5', '7') }], down: [{ name: 'lab' }], list: [], run: [{ name: 'lab' }, { name: 'host' }], demo: [underlay, flag('keep')] },
  },
  remote: { args: [] },
  tui: { args: [] },
  completion: { args: [], word: 'mode', modes: { bash: [] } },
  help: { args: [], word: 'topic' },
  version: { args: [] },
};

const specOf = (command: string): CommandSpec | undefined => (Object.hasOwn(COMMANDS, command) ? (OWN[command] ?? catalogSpec(command)) : undefined);

/** The values a bare first word may take. */
function wordValues(spec: CommandSpec, known: Known): readonly string[] {
  if (spec.word === 'mode') return Object.keys(spec.modes ?? {});
  if (spec.word === 'topic') return Object.keys(COMMANDS);
  return spec.args.find((a) => a.name === spec.word)?.values?.(known) ?? [];
}

/** `key=value`, `--key=value` and `--key` as parseArgs reads them. */
function asParam(word: string): [string, string] | null {
  const m = /^(?:--)?([^=]+)=(.*)$/s.exec(word) ?? (/^--([^=]+)$/.exec(word) ? [word, word.slice(2), '1'] : null);
  return m ? [(m[1] as string).replace(/-/g, '_'), m[2] as string] : null;
}

/** Values of a list: complete its last element, offering none of the earlier ones again (and all only alone). */
function listValues(value: string, values: readonly string[]): string[] {
  const head = value.split(',').slice(0, -1);
  const stem = head.length > 0 ? `${head.join(',')},` : '';
  return values.filter((x) => !head.includes(x) && !(head.length > 0 && x === 'all')).map((x) => stem + x);
}

export interface Completion {
  /** Full words, each starting with the word completed. */
  readonly words: readonly string[];
  /** The value is a file name: the shell completes it. */
  readonly files: boolean;
}

/** The completion of `words[cword]`; words[0] is meshvpc itself. */
export function complete(words: readonly string[], cword: number, known: Known): Completion {
  const cur = words[cword] ?? '';
  const done = (list: readonly string[]): Completion => ({ words: [...new Set(list)].filter((w) => w.startsWith(cur)), files: false });
  if (cword < 1) return done([]);
  if (cword === 1) return done(cur.startsWith('-') ? ['--help', '--version'] : Object.keys(COMMANDS));
  const spec = specOf(words[1] as string);
  if (!spec) return done([]);
  const given = new Map<string, string>();
  const bare: string[] = [];
  for (const w of words.slice(2, cword)) {
    const p = bare.length === 0 && w !== '--' ? asParam(w) : null;
    if (p) given.set(p[0], p[1]);
    else bare.push(w);
  }
  if (spec.word !== undefined && bare.length > 0 && !given.has(spec.word)) given.set(spec.word, bare.shift() as string);
  // After the arguments comes a command line (jexec, lab run), or nothing the command takes.
  if (bare.length > 0) return done([]);
  const mode = given.get('mode');
  const needsMode = spec.modes !== undefined && !spec.modeOptional;
  const args = spec.modes === undefined ? spec.args : mode !== undefined ? (spec.modes[mode] ?? []) : needsMode ? [] : (Object.values(spec.modes)[0] ?? []);

  const param = cur.includes('=') ? asParam(cur) : null;
  if (param) {
    const [key, value] = param;
    const prefix = cur.slice(0, cur.length - value.length);
    if (key === 'mode' && spec.modes) return done(Object.keys(spec.modes).map((m) => prefix + m));
    const a = args.find((x) => x.name === key);
    if (!a) return done([]);
    if (a.files) return { words: [], files: true };
    const values = a.values?.(known) ?? [];
    return done((a.list ? listValues(value, values) : values).map((x) => prefix + x));
  }

  const out: string[] = [];
  if (spec.word !== undefined && !given.has(spec.word)) out.push(...wordValues(spec, known));
  if (spec.modes !== undefined && mode === undefined) out.push('mode=');
  if (!needsMode || mode !== undefined) out.push(...args.filter((a) => !given.has(a.name)).map((a) => `${a.name}=`));
  if (cur.startsWith('-')) return done(['--help', ...out.filter((w) => w.endsWith('=')).map((w) => (w === 'json=' ? '--json' : `--${w}`))]);
  return done(out);
}

/** The candidates for `words[cword]`, full words (for a file name: none; the shell lists files). */
export const candidates = (words: readonly string[], cword: number, known: Known): string[] => [...complete(words, cword, known).words];

/**
 * A command line as the shell has it up to the cursor, in words (quotes
 * removed); the last is the one being completed. Leading VAR=value
 * assignments are not meshvpc's.
 */
export function splitLine(line: string): { words: string[]; cword: number } {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else word = (word ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word = word ?? '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? '') + c;
    }
  }
  words.push(word ?? '');
  while (words.length > 2 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] as string)) words.shift();
  return { words, cword: words.length - 1 };
}

/** The text readline completes: what follows the last word-break character. */
function partialOf(line: string, breaks: string): string {
  const stops = new Set([...breaks, ' ', '\t', '\n']);
  let start = line.length;
  while (start > 0 && !stops.has(line[start - 1] as string)) start--;
  return line.slice(start);
}

/**
 * What bash is to put in place of the text it completes: readline replaces
 * only what follows the last COMP_WORDBREAKS character (usually "=" or ":"),
 * so `vpc_name=vpc1` is offered as `vpc1` when the word is `vpc_name=v`.
 */
export function forBash(list: readonly string[], line: string, breaks: string): string[] {
  const partial = partialOf(line, breaks);
  const cur = splitLine(line).words.at(-1) ?? '';
  const cut = cur.endsWith(partial) ? cur.length - partial.length : 0;
  return list.map((w) => w.slice(cut));
}

/** This host's VPCs, nodes and guests, read-only; nothing when there is no database or it cannot be read. */
export async function readKnown(): Promise<Known> {
  try {
    const { homeDir, openDb } = await import('../../store/db.js');
    const repo = await import('../../store/repo.js');
    const db = openDb(homeDir(), 'read');
    if (!db) return NOTHING_KNOWN;
    try {
      return {
        vpcs: repo.listVpcs(db).map((v) => v.name),
        nodes: repo.listNodes(db).map((n) => n.name),
        self: repo.getSelf(db)?.nodename,
        guests: repo.listGuests(db).map((g) => ({ name: g.name, kind: g.kind })),
      };
    } finally {
      db.close();
    }
  } catch {
    return NOTHING_KNOWN;
  }
}

/**
 * `meshvpc __complete BREAKS LINE`, what the bash script runs: the first
 * line says `words` (then one replacement per line) or `files` (then the
 * text to complete file names from). The database is opened only when the
 * answer needs a name from it.
 */
export async function completeLine(breaks: string, line: string): Promise<string> {
  const { words, cword } = splitLine(line);
  let asked = false;
  const ask = <T>(v: T): T => {
    asked = true;
    return v;
  };
  const probe: Known = {
    get vpcs() {
      return ask([]);
    },
    get nodes() {
      return ask([]);
    },
    get self() {
      return ask(undefined);
    },
    get guests() {
      return ask([]);
    },
  };
  let result = complete(words, cword, probe);
  if (asked) result = complete(words, cword, await readKnown());
  const lines = result.files ? ['files', partialOf(line, breaks)] : ['words', ...forBash(result.words, line, breaks)];
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * The bash script. `complete -F` gives the function the line up to the
 * cursor; bash-completion is not needed. Words ending in "=" are completed
 * without a space after them, so the value can follow.
 */
export function bashScript(): string {
  return `# bash completion for meshvpc (meshvpc completion bash)
_meshvpc() {
    local line="\${COMP_LINE:0:COMP_POINT}" reply=() w
    mapfile -t reply < <("$1" __complete "\${COMP_WORDBREAKS-}" "$line" 2>/dev/null)
    COMPREPLY=()
    if [[ \${reply[0]-} == files ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "\${reply[1]-}")
    elif [[ \${reply[0]-} == words ]]; then
        COMPREPLY=("\${reply[@]:1}")
        for w in "\${COMPREPLY[@]}"; do
            if [[ $w == *= ]]; then compopt -o nospace 2>/dev/null; break; fi
        done
    fi
    return 0
}
complete -F _meshvpc meshvpc
`;
}

/** `meshvpc completion bash`. */
export async function run(inv: Invocation): Promise<number> {
  inv.params.only(['mode'], 'completion');
  const mode = inv.params.require('mode', 'use bash, as in meshvpc completion bash');
  if (mode !== 'bash') throw new UserError(`unknown completion mode ${shown(mode)}; modes: bash`);
  process.stdout.write(bashScript());
  return 0;
}
