/**
 * Pure logic of the web console (web/): the text/event-stream parser and the
 * reading of the API's events. No DOM, no Preact: the console bundles it from
 * here, and the unit tests (test/unit/web-*.test.ts) compile it with the rest
 * of the project. (It lives outside web/ because tsc would emit web/ into
 * dist/web, which is the console's build directory and is emptied by Vite.)
 */

export interface ServerEvent {
  event: string;
  data: unknown;
}

/** Splits a text/event-stream into events; feed it chunks, it calls `emit` per complete event. */
export function eventParser(emit: (e: ServerEvent) => void): (chunk: string) => void {
  let buffer = '';
  let name = '';
  let data: string[] = [];
  const line = (l: string): void => {
    if (l === '') {
      if (data.length > 0) {
        const text = data.join('\n');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* plain text data */
        }
        emit({ event: name || 'message', data: parsed });
      }
      name = '';
      data = [];
      return;
    }
    if (l.startsWith(':')) return; // keepalive comment
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  };
  // A \r that ended a chunk has ended its line already; a \n opening the next chunk is its other half.
  let afterCR = false;
  return (chunk) => {
    buffer += chunk;
    if (afterCR && buffer.length > 0) {
      if (buffer.startsWith('\n')) buffer = buffer.slice(1);
      afterCR = false;
    }
    let i: number;
    while ((i = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const sep = buffer.startsWith('\r\n', i) ? 2 : 1;
      if (buffer[i] === '\r' && sep === 1 && i === buffer.length - 1) afterCR = true;
      line(buffer.slice(0, i));
      buffer = buffer.slice(i + sep);
    }
  };
}

/** What the console does with one event of `GET /api/v1/events` (docs/api.md); null: not for it. */
export type ConsoleEvent =
  | { kind: 'operation'; id: string; op: string; vpc: string; event: unknown }
  | { kind: 'operation_done'; id: string; status: 'success' | 'failure' }
  | { kind: 'tunnel'; vpc: string; node: string; peer: string; present: boolean; up: boolean; rtt_ms: number | null };

export function readEvent(e: ServerEvent): ConsoleEvent | null {
  const d = e.data && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : {};
  if (e.event === 'operation' && typeof d.id === 'string') {
    return { kind: 'operation', id: d.id, op: String(d.op ?? ''), vpc: String(d.vpc ?? ''), event: d.event };
  }
  if (e.event === 'operation_done' && typeof d.id === 'string') {
    // Anything but success is a failure: the console never shows an unknown ending as success.
    return { kind: 'operation_done', id: d.id, status: d.status === 'success' ? 'success' : 'failure' };
  }
  if (e.event === 'tunnel' && typeof d.node === 'string' && typeof d.peer === 'string') {
    return {
      kind: 'tunnel',
      vpc: String(d.vpc ?? ''),
      node: d.node,
      peer: d.peer,
      present: d.present === true,
      up: d.up === true,
      rtt_ms: typeof d.rtt_ms === 'number' && Number.isFinite(d.rtt_ms) ? d.rtt_ms : null,
    };
  }
  return null;
}
