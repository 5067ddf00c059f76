/**
 * CBSD-style arguments: `key=value` and `--key=value` (a bare `--flag` means
 * flag=1). Parameters come first; from the first token that is not one (or
 * after `--`) the rest is passed through untouched, for `jexec ... CMD ARGS`;
 * positionals.ts decides which commands may have such a rest. A single-dash
 * option other than -h is refused: meshvpc has none, and ignoring one hides
 * a typo. Hand-written because no CLI library speaks `key=value`; it is 40
 * lines and unit tested.
 */
import { shown, UserError } from '../../core/errors.js';

export interface Invocation {
  readonly command: string | null;
  readonly params: Params;
  readonly rest: readonly string[];
}

const KEY = /^[a-z][a-z0-9_]{0,31}$/;

export function parseArgs(argv: readonly string[]): Invocation {
  const params = new Map<string, string>();
  let command: string | null = null;
  let i = 0;
  for (; i < argv.length; i++) {
    const tok = argv[i] as string;
    if (tok === '--') {
      i++;
      break;
    }
    const m = /^(?:--)?([^=]+)=(.*)$/s.exec(tok) ?? (/^--([^=]+)$/.exec(tok) ? [tok, tok.slice(2), '1'] : null);
    if (m) {
      const key = (m[1] as string).replace(/-/g, '_');
      if (!KEY.test(key)) throw new UserError(`invalid argument name ${shown(m[1] as string)}: use key=value with a lowercase key`);
      if (params.has(key)) throw new UserError(`argument ${key} given twice`);
      params.set(key, m[2] as string);
    } else if (tok === '-h') {
      params.set('help', '1');
    } else if (tok.startsWith('-')) {
      throw new UserError(`unknown option ${shown(tok)}: arguments are key=value or --key=value (meshvpc help)`);
    } else if (command === null && params.size === 0) {
      command = tok;
    } else {
      break;
    }
  }
  return { command, params: new Params(params), rest: argv.slice(i) };
}

export class Params {
  private readonly used = new Set<string>();
  /**
   * Every column of the listing this invocation prints, set by options.ts from
   * its table, so that display= may name a column no row happens to have.
   */
  listingColumns: readonly string[] = [];
  constructor(private readonly map: ReadonlyMap<string, string>) {}

  /** These parameters and `more` together; a key in both is refused, as in parseArgs. */
  merge(more: ReadonlyMap<string, string> | Params): Params {
    const merged = new Map(this.map);
    const entries = more instanceof Params ? more.map : more;
    for (const [k, v] of entries) {
      if (merged.has(k)) throw new UserError(`argument ${k} given twice`);
      merged.set(k, v);
    }
    return new Params(merged);
  }

  has(key: string): boolean {
    this.used.add(key);
    return this.map.has(key);
  }

  get(key: string): string | undefined {
    this.used.add(key);
    return this.map.get(key);
  }

  require(key: string, hint: string): string {
    const v = this.get(key);
    if (v === undefined || v === '') throw new UserError(`missing ${key}=: ${hint}`);
    return v;
  }

  flag(key: string): boolean {
    const v = this.get(key);
    if (v === undefined) return false;
    if (v === '1' || v === 'yes' || v === 'true') return true;
    if (v === '0' || v === 'no' || v === 'false') return false;
    throw new UserError(`invalid ${key} ${shown(v)}: use 1 or 0`);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  /** Refuse arguments the command does not know, naming the ones it does. */
  only(allowed: readonly string[], context: string): void {
    const common = ['json', 'header', 'display', 'help', 'dryrun', 'force', 'platform'];
    for (const k of this.map.keys()) {
      if (!allowed.includes(k) && !common.includes(k)) {
        throw new UserError(`unknown argument ${k}= for ${context}; ${allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'it takes none'}`);
      }
    }
  }
}
