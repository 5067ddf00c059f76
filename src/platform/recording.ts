/**
 * A recording Executor for tests: it runs nothing, remembers every argv it is
 * given, and answers with canned results. Drivers are thin, so a recorded run
 * shows exactly which commands a real host would have received, in order.
 */
import type { ExecResult, Executor } from './exec.js';

/** An exact argv, or a predicate for argvs whose details vary (temp names, addresses). */
export type ArgvMatcher = readonly string[] | ((argv: readonly string[]) => boolean);

/** A canned answer; missing fields default to success with empty output. */
export type Reply = Partial<ExecResult> | ((argv: readonly string[], input?: string) => Partial<ExecResult>);

export interface RecordedCall {
  readonly argv: readonly string[];
  readonly input?: string;
}

export interface RecordingOptions {
  /** Throw on a command no rule answers, instead of returning success with empty output. */
  readonly strict?: boolean;
}

interface Rule {
  readonly match: ArgvMatcher;
  readonly reply: Reply;
  remaining: number;
}

const sameArgv = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Characters that never need quoting when a command is shown as one line. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One command as a line of text: arguments joined by spaces, any argument that
 * is empty or holds a space or shell syntax in single quotes. For golden files
 * and messages only; nothing ever runs this string through a shell.
 */
export function argvLine(argv: readonly string[]): string {
  return argv.map((a) => (PLAIN.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export class RecordingExecutor implements Executor {
  readonly calls: RecordedCall[] = [];
  private readonly rules: Rule[] = [];

  constructor(private readonly options: RecordingOptions = {}) {}

  /**
   * Answer commands that match with `reply`, at most `times` times. The rule
   * added last is tried first, so a test can override a standing answer for
   * the next call (`once`) and fall back to it afterwards.
   */
  on(match: ArgvMatcher, reply: Reply, times = Number.POSITIVE_INFINITY): this {
    this.rules.push({ match, reply, remaining: times });
    return this;
  }

  once(match: ArgvMatcher, reply: Reply): this {
    return this.on(match, reply, 1);
  }

  async run(argv: readonly string[], input?: string): Promise<ExecResult> {
    const copy = [...argv];
    this.calls.push(input === undefined ? { argv: copy } : { argv: copy, input });
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const rule = this.rules[i] as Rule;
      if (rule.remaining <= 0) continue;
      const hit = typeof rule.match === 'function' ? rule.match(copy) : sameArgv(rule.match, copy);
      if (!hit) continue;
      rule.remaining--;
      const r = typeof rule.reply === 'function' ? rule.reply(copy, input) : rule.reply;
      return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    }
    if (this.options.strict) throw new Error(`unexpected command: ${argvLine(copy)}`);
    return { code: 0, stdout: '', stderr: '' };
  }

  /** Every argv run so far, in order. */
  get argvs(): string[][] {
    return this.calls.map((c) => [...c.argv]);
  }

  /** Every command run so far as display lines (see argvLine). */
  lines(): string[] {
    return this.calls.map((c) => argvLine(c.argv));
  }

  /** Forget the calls made so far; the rules stay. */
  clear(): void {
    this.calls.length = 0;
  }
}
