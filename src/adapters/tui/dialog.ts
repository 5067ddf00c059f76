/**
 * The system's `dialog` (Debian) or `bsddialog` (FreeBSD base), run with
 * argv arrays: it draws on the terminal and writes the answer to file
 * descriptor 3, which this module reads. Cancel and Escape are `null`
 * ("back"); nothing a user typed is ever read by a shell.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ui, FormField, Gauge } from './ui.js';

/** The dialog program here: Debian's dialog, else FreeBSD's bsddialog (same options for what is used). */
export function findDialog(): string | null {
  for (const p of ['dialog', 'bsddialog']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', p], { encoding: 'utf8' }).status === 0) return p;
  }
  return null;
}

/** Fits an 80x24 terminal: boxes are at most 76 columns and 20 rows. */
const W = 76;
const H = 20;

/** A list box as tall as its items need (and its text), within the terminal. */
const listHeight = (text: string, items: number): [string, string] => {
  const rows = Math.max(1, Math.min(items, H - 8));
  return [String(Math.min(H, rows + 7 + Math.ceil(text.length / (W - 4)))), String(rows)];
};

export class Dialog implements Ui {
  constructor(
    private readonly program: string,
    private readonly backtitle: string,
  ) {}

  private run(args: readonly string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.program, ['--ascii-lines', '--backtitle', this.backtitle, '--output-fd', '3', ...args], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
      const out: Buffer[] = [];
      (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => out.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 1, out: Buffer.concat(out).toString('utf8') }));
    });
  }

  async menu(title: string, text: string, items: readonly (readonly [string, string])[]): Promise<string | null> {
    const [h, rows] = listHeight(text, items.length);
    const r = await this.run(['--title', title, '--menu', text, h, String(W), rows, ...items.flat()]);
    return r.code === 0 ? r.out.trim() : null;
  }

  async form(title: string, text: string, fields: readonly FormField[]): Promise<string[] | null> {
    const label = Math.max(...fields.map((f) => f.label.length)) + 2;
    const spec = fields.flatMap((f, i) => [f.label, String(i + 1), '1', f.value, String(i + 1), String(label + 1), String(W - label - 8), '256']);
    const r = await this.run(['--title', title, '--form', text, String(Math.min(H, fields.length + 9)), String(W), String(fields.length), ...spec]);
    if (r.code !== 0) return null;
    // One line per field; a trailing newline after the last.
    const lines = r.out.split('\n');
    return fields.map((_, i) => lines[i] ?? '');
  }

  async checklist(title: string, text: string, items: readonly (readonly [string, string, boolean])[]): Promise<string[] | null> {
    const [h, rows] = listHeight(text, items.length);
    const r = await this.run(['--separate-output', '--title', title, '--checklist', text, h, String(W), rows, ...items.flatMap(([t, l, on]) => [t, l, on ? 'on' : 'off'])]);
    return r.code === 0 ? r.out.split('\n').filter((x) => x !== '') : null;
  }

  async radiolist(title: string, text: string, items: readonly (readonly [string, string, boolean])[]): Promise<string | null> {
    const [h, rows] = listHeight(text, items.length);
    const r = await this.run(['--title', title, '--radiolist', text, h, String(W), rows, ...items.flatMap(([t, l, on]) => [t, l, on ? 'on' : 'off'])]);
    return r.code === 0 ? r.out.trim() : null;
  }

  async input(title: string, text: string, value = ''): Promise<string | null> {
    const r = await this.run(['--title', title, '--inputbox', text, '9', String(W), value]);
    return r.code === 0 ? r.out.replace(/\n$/, '') : null;
  }

  async password(title: string, text: string): Promise<string | null> {
    const r = await this.run(['--insecure', '--title', title, '--passwordbox', text, '9', String(W)]);
    return r.code === 0 ? r.out.replace(/\n$/, '') : null;
  }

  async yesno(title: string, text: string): Promise<boolean> {
    return (await this.run(['--defaultno', '--title', title, '--yesno', text, '9', String(W)])).code === 0;
  }

  async message(title: string, text: string): Promise<void> {
    await this.run(['--title', title, '--msgbox', text, String(Math.min(H, text.split('\n').length + 6)), String(W)]);
  }

  /** A table or a log: shown from a file so long text scrolls and spacing is kept. */
  async text(title: string, text: string): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'meshvpc-tui-'));
    try {
      const file = join(dir, 'view.txt');
      writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
      await this.run(['--title', title, '--textbox', file, String(H), String(W)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  gauge(title: string, text: string): Gauge {
    const child = spawn(this.program, ['--ascii-lines', '--backtitle', this.backtitle, '--title', title, '--gauge', text, String(H - 4), String(W), '0'], { stdio: ['pipe', 'inherit', 'inherit'] });
    child.stdin.on('error', () => undefined);
    const closed = new Promise<void>((res) => child.on('close', () => res()));
    return {
      update(percent: number, body: string): void {
        // XXX ... XXX replaces the text; a line of its own inside must not be "XXX".
        const safe = body.split('\n').map((l) => (l.trim() === 'XXX' ? ' XXX' : l)).join('\n');
        child.stdin.write(`XXX\n${Math.max(0, Math.min(100, Math.round(percent)))}\n${safe}\nXXX\n`);
      },
      async close(): Promise<void> {
        child.stdin.end();
        await closed;
      },
    };
  }
}
