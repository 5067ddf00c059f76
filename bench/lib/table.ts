/** Tables: aligned text for the terminal, Markdown for RESULTS.md. Same rows, two renderings. */

export type Cell = string | number | null | undefined;

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** One line under the table: what the figures mean, or why one is missing. */
  readonly note?: string;
}

const text = (c: Cell): string => (c === null || c === undefined || (typeof c === 'number' && !Number.isFinite(c)) ? '-' : String(c));

export function renderText(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => text(r[i]).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [
    `== ${t.title}`,
    line(t.columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...t.rows.map((r) => line(t.columns.map((_, i) => text(r[i])))),
    ...(t.note ? [t.note] : []),
  ].join('\n');
}

export function renderMarkdown(t: Table): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `| ${t.columns.map(esc).join(' | ')} |`,
    `|${t.columns.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${t.columns.map((_, i) => esc(text(r[i]))).join(' | ')} |`),
    ...(t.note ? ['', t.note] : []),
  ].join('\n');
}

export function printTable(t: Table): void {
  process.stdout.write(`\n${renderText(t)}\n\n`);
}
