/**
 * `GET /api/v1/events` read with fetch and a stream parser (an EventSource
 * cannot send the Authorization header); reconnects when the stream drops.
 */
import { eventParser, type ServerEvent } from '../../src/console/sse-parse.js';

export { readEvent, type ConsoleEvent, type ServerEvent } from '../../src/console/sse-parse.js';

export type StreamState = 'connecting' | 'live' | 'retrying';

/** Keep a stream open until `close()` is called; 401 stops it and calls `unauthorized`. */
export function openEvents(
  token: string,
  onEvent: (e: ServerEvent) => void,
  onState: (s: StreamState) => void,
  unauthorized: () => void,
): () => void {
  const abort = new AbortController();
  let delay = 1000;
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      onState('connecting');
      // One connection: dropped when the page closes it, or when the server goes quiet
      // for longer than two keepalives (15 s each) — a dead link that never reported an error.
      const conn = new AbortController();
      const stop = (): void => conn.abort();
      abort.signal.addEventListener('abort', stop);
      let quiet: ReturnType<typeof setTimeout> | undefined;
      const heard = (): void => {
        clearTimeout(quiet);
        quiet = setTimeout(stop, 40_000);
      };
      try {
        heard();
        const res = await fetch('/api/v1/events', {
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
          signal: conn.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          unauthorized();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        onState('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const feed = eventParser(onEvent);
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          heard();
          feed(value);
        }
      } catch {
        /* dropped or refused: retried below */
      } finally {
        clearTimeout(quiet);
        abort.signal.removeEventListener('abort', stop);
      }
      if (abort.signal.aborted) return;
      onState('retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => abort.abort();
}
