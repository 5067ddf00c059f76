/**
 * Listings: aligned tables by default, `--json` (or json=1) for machines,
 * `header=0` to drop the heading, `display=a,b` to choose and order columns.
 */
import { shown, UserError } from '../../core/errors.js';
import type { Params } from './args.js';

export type Cell = string | number | boolean | null;
export type Record_ = Readonly<Record<string, Cell>>;

export function renderTable(rows: readonly Record_[], columns: readonly string[], header: boolean): string {
  const text = (v: Cell): string => (v === null ? '-' : String(v));
  const widths = columns.map((c) => Math.max(header ? c.length : 0, ...rows.map((r) => text(r[c] ?? null).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const lines = rows.map((r) => line(columns.map((c) => text(r[c] ?? null))));
  return [...(header ? [line(columns.map((c) => c.toUpperCase()))] : []), ...lines].join('\n');
}

/**
 * The columns display= names, in its order; refuses an empty list, an unknown
 * column and a column named twice, naming the ones `available`.
 */
export function parseDisplay(value: string, available: Iterable<string>): string[] {
  const all = [...new Set(available)];
  const chosen = value.split(',').map((c) => c.trim());
  if (value.trim() === '') throw new UserError(`empty display=: name the columns, e.g. display=${all.slice(0, 2).join(',')}; available: ${all.join(', ')}`);
  chosen.forEach((c, i) => {
    if (!all.includes(c)) throw new UserError(`invalid display column ${shown(c)}; available: ${all.join(', ')}`);
    if (chosen.indexOf(c) !== i) throw new UserError(`display column ${shown(c)} given twice`);
  });
  return chosen;
}

/** Print rows as the user asked; `columns` is the default set and order. */
export function printRows(params: Params, rows: readonly Record_[], columns: readonly string[]): void {
  const display = params.get('display');
  const all = [...columns, ...params.listingColumns, ...rows.flatMap((r) => Object.keys(r))];
  const chosen = display === undefined ? columns : parseDisplay(display, all);
  if (params.flag('json')) {
    const picked = rows.map((r) => Object.fromEntries(chosen.map((c) => [c, r[c] ?? null])));
    process.stdout.write(`${JSON.stringify(picked, null, 2)}\n`);
    return;
  }
  const header = params.has('header') ? params.flag('header') : true;
  const out = renderTable(rows, chosen, header);
  if (out !== '') process.stdout.write(`${out}\n`);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
