/**
 * The live view of deploy/join/leave/sync on a terminal, pure: the progress
 * events folded into one row per host, and the frame those rows make, a line
 * per host fitted to the terminal's width. live-printer.ts draws it.
 */
import type { OperationEvent } from '../../app/operations.js';
import { eventLine } from './converge-output.js';

export type HostState = 'waiting' | 'connecting' | 'connected' | 'applying' | 'done' | 'failed' | 'unreachable';

export interface HostRow {
  readonly host: string;
  readonly state: HostState;
  /** What a done host did: converged, left (a leaving host), would apply (dry run), synced. */
  readonly verb: 'converged' | 'left' | 'would apply' | 'synced' | null;
  /** The meshvpc a connected host runs. */
  readonly version: string | null;
  readonly changes: number | null;
  /** sync: what the peer did with the definition (created, updated, unchanged). */
  readonly result: string | null;
  readonly seconds: number | null;
  /** Why it failed or could not be reached, on one line. */
  readonly reason: string | null;
}

export interface Progress {
  /** In the order the hosts were first announced (or expected). */
  readonly rows: readonly HostRow[];
  /** Peers being connected to before any of them is named (deploy's `checking`). */
  readonly peers: number;
}

const row = (host: string, state: HostState): HostRow => ({ host, state, verb: null, version: null, changes: null, result: null, seconds: null, reason: null });

/** `expect`: hosts known before any event, shown as waiting. */
export function newProgress(expect: readonly string[] = []): Progress {
  return { rows: [...new Set(expect)].map((h) => row(clean(h), 'waiting')), peers: 0 };
}

/**
 * Text from a peer made safe for one terminal line: control characters
 * (escape sequences, carriage returns, newlines, tabs) and bidirectional
 * overrides become spaces, runs of spaces one.
 */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

function put(p: Progress, host: string, change: (r: HostRow) => HostRow): Progress {
  const name = clean(host);
  const i = p.rows.findIndex((r) => r.host === name);
  const rows = [...p.rows];
  if (i >= 0) rows[i] = change(rows[i] as HostRow);
  else rows.push(change(row(name, 'waiting')));
  return { ...p, rows };
}

const finished = (r: HostRow): boolean => r.state === 'done' || r.state === 'failed' || r.state === 'unreachable';

/** Fold one progress event of deploy, join, leave or sync into the rows; other events leave them as they are. */
export function foldEvent(p: Progress, e: OperationEvent): Progress {
  switch (e.type) {
    case 'checking':
      return { rows: p.rows.map((r) => (r.state === 'waiting' ? { ...r, state: 'connecting' } : r)), peers: e.peers };
    case 'connected':
      return put(p, e.host, (r) => (finished(r) ? r : { ...r, state: 'connected', version: clean(e.version) }));
    case 'unreachable':
      return put(p, e.host, (r) => ({ ...r, state: 'unreachable', reason: clean(e.error) }));
    case 'applying':
      // Also after an outcome: a re-allocation round applies every host again.
      return put(p, e.host, (r) => ({ ...r, state: 'applying', reason: null }));
    case 'host': {
      const o = e.outcome;
      const verb = o.role === 'leaving' ? 'left' : o.dryrun ? 'would apply' : 'converged';
      return put(p, o.host, (r) => ({ ...r, state: o.ok ? 'done' : 'failed', verb: o.ok ? verb : null, changes: o.changes, seconds: o.seconds, reason: o.ok ? null : clean(o.error ?? '') }));
    }
    case 'synced': {
      const o = e.outcome;
      return put(p, o.host, (r) => ({ ...r, state: o.ok ? 'done' : 'failed', verb: o.ok ? 'synced' : null, result: o.result === null ? null : clean(o.result), seconds: o.seconds, reason: o.ok ? null : clean(o.error ?? '') }));
    }
    default:
      return p;
  }
}

/** The line an event prints above the frame (what is not about one host's progress), or null. */
export function noteLine(e: OperationEvent): string | null {
  switch (e.type) {
    case 'checking':
    case 'older_peer':
    case 'reallocating':
    case 'dryrun_command':
    case 'userspace_wireguard':
    case 'mtu_differs':
      return eventLine(e);
    default:
      return null;
  }
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
const changes = (n: number | null): string => (n === 0 || n === null ? 'no changes' : plural(n, 'change'));
const secs = (s: number | null): string => (s === null ? '' : ` (${s.toFixed(2)}s)`);

/** What a row says after its host's name. */
export function rowText(r: HostRow): string {
  switch (r.state) {
    case 'waiting':
      return 'waiting';
    case 'connecting':
      return 'connecting ...';
    case 'connected':
      return r.version ? `connected (meshvpc ${r.version})` : 'connected';
    case 'applying':
      return 'applying ...';
    case 'done':
      if (r.verb === 'synced') return `synced: ${r.result ?? ''}${secs(r.seconds)}`;
      if (r.verb === 'would apply') return `would apply ${changes(r.changes)}${secs(r.seconds)}`;
      return `${r.verb === 'left' ? 'left' : 'done'}, ${changes(r.changes)}${secs(r.seconds)}`;
    case 'failed':
      // The time first: a long reason is what gets cut.
      return `FAILED${secs(r.seconds)}: ${r.reason || 'no reason given'}`;
    case 'unreachable':
      return `UNREACHABLE: ${r.reason || 'no reason given'}`;
  }
}

/** Columns a code point takes on a terminal: 0 for combining marks, 2 for East Asian wide ones and emoji, else 1. */
function columns(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200d) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** The columns a (clean) line takes on a terminal. */
export function textWidth(text: string): number {
  let n = 0;
  for (const ch of text) n += columns(ch.codePointAt(0) ?? 0);
  return n;
}

/** `text` cut to `width` columns, ending in "..." when cut; never splits a character. */
export function fit(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const room = Math.max(0, width - 3);
  let out = '';
  let n = 0;
  for (const ch of text) {
    const w = columns(ch.codePointAt(0) ?? 0);
    if (n + w > room) break;
    out += ch;
    n += w;
  }
  return `${out}${'...'.slice(0, Math.max(0, width - n))}`;
}

const HOST_COLUMN_MAX = 24;

/**
 * The frame: a line per host, in the rows' order, none wider than `width`
 * columns. With more hosts than `maxLines`, the first rows and a line
 * counting the others by state.
 */
export function renderFrame(p: Progress, width: number, maxLines = Infinity): string[] {
  if (p.rows.length === 0) return p.peers > 0 ? [fit(`  connecting to ${plural(p.peers, 'peer')} ...`, width)] : [];
  const hostWidth = Math.min(HOST_COLUMN_MAX, Math.max(...p.rows.map((r) => textWidth(r.host))));
  const line = (r: HostRow): string => {
    const name = fit(r.host, hostWidth);
    return fit(`  ${name}${' '.repeat(hostWidth - textWidth(name))}  ${rowText(r)}`, width);
  };
  if (p.rows.length <= maxLines) return p.rows.map(line);
  const shown = p.rows.slice(0, Math.max(0, maxLines - 1));
  const rest = p.rows.slice(shown.length);
  const counts = new Map<string, number>();
  for (const r of rest) {
    const word = r.state === 'done' ? (r.verb === 'synced' ? 'synced' : 'done') : r.state;
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const summary = [...counts].map(([w, n]) => `${n} ${w}`).join(', ');
  return [...shown.map(line), fit(`  ... ${plural(rest.length, 'more host')}: ${summary}`, width)];
}
