/**
 * deploy/join/leave/sync on a terminal: one live line per host, redrawn in
 * place (at most every `intervalMs`, and always at the end), with the lines
 * that are not about one host printed above it. What the rows say is
 * live-progress.ts; this only writes them.
 */
import type { OperationEvent } from '../../app/operations.js';
import { foldEvent, newProgress, noteLine, renderFrame } from './live-progress.js';

/** Where the CLI writes: process.stdout, or a test's stand-in. */
export interface Terminal {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

/** Prints each progress event; `finish` once the operation has ended, before its summary. */
export type EventPrinter = ((e: OperationEvent) => void) & { readonly finish: () => void };

export interface LiveOptions {
  readonly intervalMs?: number;
  readonly now?: () => number;
}

const UP = (n: number): string => `\r\x1b[${n}A`;
const CLEAR_LINE = '\x1b[2K';
const CLEAR_BELOW = '\x1b[J';

export function livePrinter(out: Terminal, opts: LiveOptions = {}): EventPrinter {
  const interval = opts.intervalMs ?? 100;
  const now = opts.now ?? Date.now;
  let progress = newProgress();
  let notes: string[] = [];
  /** The frame now on the screen, the cursor just below it. */
  let drawn: string[] = [];
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let finished = false;

  const draw = (final: boolean): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    // One column short of the width: a line that fills it exactly wraps on some terminals.
    const width = Math.max(10, (out.columns ?? 80) - 1);
    // Live, the frame stays within the screen (the cursor cannot go up past its top); the final one is whole.
    const maxLines = final || !out.rows ? Infinity : Math.max(1, out.rows - 1);
    const lines = renderFrame(progress, width, maxLines);
    if (notes.length === 0 && lines.join('\n') === drawn.join('\n')) return;
    last = now();
    let text = drawn.length > 0 ? UP(drawn.length) : '';
    // Notes may wrap over what the frame was: clear all of it first; else each line as it is rewritten.
    if (drawn.length > 0 && (notes.length > 0 || lines.length < drawn.length)) text += CLEAR_BELOW;
    for (const n of notes) text += `${n}\n`;
    for (const l of lines) text += `${CLEAR_LINE}${l}\n`;
    notes = [];
    drawn = lines;
    out.write(text);
  };

  const printer = (e: OperationEvent): void => {
    const note = noteLine(e);
    if (note !== null) notes.push(note);
    progress = foldEvent(progress, e);
    if (finished) return draw(true);
    const wait = interval - (now() - last);
    if (wait <= 0) return draw(false);
    if (timer === null) {
      timer = setTimeout(() => draw(false), wait);
      timer.unref?.();
    }
  };
  return Object.assign(printer, {
    finish: (): void => {
      if (finished) return;
      finished = true;
      draw(true);
    },
  });
}
