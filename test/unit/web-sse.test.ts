/**
 * The web console's reading of `GET /api/v1/events` (src/console/sse-parse.ts):
 * the stream parser fed in arbitrary chunks, and the events it acts on.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { eventParser, readEvent, type ServerEvent } from '../../src/console/sse-parse.js';

/** Feed `chunks` to a fresh parser; the events it emitted. */
function parse(...chunks: string[]): ServerEvent[] {
  const out: ServerEvent[] = [];
  const feed = eventParser((e) => out.push(e));
  for (const c of chunks) feed(c);
  return out;
}

const OP = 'event: operation\ndata: {"id":"7","op":"vpc.deploy","vpc":"vpc1","event":{"type":"checking","peers":2}}\n\n';
const OP_EVENT: ServerEvent = { event: 'operation', data: { id: '7', op: 'vpc.deploy', vpc: 'vpc1', event: { type: 'checking', peers: 2 } } };

describe('eventParser', () => {
  test('one event in one chunk', () => {
    assert.deepEqual(parse(OP), [OP_EVENT]);
  });

  test('an event split at every possible point gives the same event', () => {
    for (let i = 1; i < OP.length; i++) assert.deepEqual(parse(OP.slice(0, i), OP.slice(i)), [OP_EVENT], `split at ${i}`);
  });

  test('one character per chunk, and several events in one chunk', () => {
    assert.deepEqual(parse(...(OP + OP).split('')), [OP_EVENT, OP_EVENT]);
    assert.deepEqual(parse(OP + OP + OP), [OP_EVENT, OP_EVENT, OP_EVENT]);
  });

  test('nothing is emitted before the blank line that ends an event', () => {
    assert.deepEqual(parse('event: tunnel\ndata: {"vpc":"v"}\n'), []);
    assert.deepEqual(parse('event: tunnel\ndata: {"vpc":"v"}\n', '\n'), [{ event: 'tunnel', data: { vpc: 'v' } }]);
  });

  test('CRLF and lone CR line endings, including a CRLF split between chunks', () => {
    const crlf = OP.replace(/\n/g, '\r\n');
    assert.deepEqual(parse(crlf), [OP_EVENT]);
    for (let i = 1; i < crlf.length; i++) assert.deepEqual(parse(crlf.slice(0, i), crlf.slice(i)), [OP_EVENT], `CRLF split at ${i}`);
    assert.deepEqual(parse(OP.replace(/\n/g, '\r')), [OP_EVENT]);
    // A CR ending a chunk ends its line at once (no wait for the next chunk); a LF opening the next is its other half.
    assert.deepEqual(parse('data: 1\r\r'), [{ event: 'message', data: 1 }]);
    assert.deepEqual(parse('data: 1\r', '\r'), [{ event: 'message', data: 1 }]);
    assert.deepEqual(parse('data: 1\r', '\n\r\n'), [{ event: 'message', data: 1 }]);
    assert.deepEqual(parse('data: 1\r', '\n', '\r', '\n'), [{ event: 'message', data: 1 }]);
    assert.deepEqual(parse('data: 1\r', '', '\n', 'data: 2\n\n'), [{ event: 'message', data: '1\n2' }], 'a CRLF split by an empty chunk is one line end, not a blank line');
    assert.deepEqual(parse('data: 1\r', '\r\n'), [{ event: 'message', data: 1 }]);
  });

  test('comments (keepalives) are skipped, alone or inside an event', () => {
    assert.deepEqual(parse(': keepalive\n\n'), []);
    assert.deepEqual(parse(':\n\n: keepalive\n\n'), []);
    assert.deepEqual(parse(': keepalive\n\n', OP, ': keepalive\n\n'), [OP_EVENT]);
    assert.deepEqual(parse('event: tunnel\n: in between\ndata: {"up":true}\n\n'), [{ event: 'tunnel', data: { up: true } }]);
  });

  test('several data lines are joined with newlines', () => {
    assert.deepEqual(parse('data: {"a":\ndata: 1}\n\n'), [{ event: 'message', data: { a: 1 } }]);
    assert.deepEqual(parse('data: line one\ndata: line two\n\n'), [{ event: 'message', data: 'line one\nline two' }]);
    assert.deepEqual(parse('data: x\ndata:\ndata: y\n\n'), [{ event: 'message', data: 'x\n\ny' }]);
  });

  test('data that is not JSON stays text; only one leading space is dropped', () => {
    assert.deepEqual(parse('data: hello\n\n'), [{ event: 'message', data: 'hello' }]);
    assert.deepEqual(parse('data:hello\n\n'), [{ event: 'message', data: 'hello' }]);
    assert.deepEqual(parse('data:  two\n\n'), [{ event: 'message', data: ' two' }]);
    assert.deepEqual(parse('data: {"broken":\n\n'), [{ event: 'message', data: '{"broken":' }]);
    assert.deepEqual(parse('data\n\n'), [{ event: 'message', data: '' }]);
  });

  test('an event without data is not emitted, and its name does not leak into the next one', () => {
    assert.deepEqual(parse('event: operation\n\n'), []);
    assert.deepEqual(parse('event: operation\n\ndata: 2\n\n'), [{ event: 'message', data: 2 }]);
  });

  test('unknown events and fields pass through the parser untouched (id, retry and others are ignored)', () => {
    assert.deepEqual(parse('id: 5\nretry: 100\nevent: something_new\nfoo: bar\ndata: {"x":1}\n\n'), [{ event: 'something_new', data: { x: 1 } }]);
  });

  test('multi-byte text split between chunks arrives whole (the stream is decoded before the parser)', () => {
    const e = 'event: operation\ndata: {"id":"1","event":{"message":"réseau ↔ ✓"}}\n\n';
    for (let i = 1; i < e.length; i++) assert.deepEqual(parse(e.slice(0, i), e.slice(i))[0]?.data, { id: '1', event: { message: 'réseau ↔ ✓' } });
  });
});

describe('readEvent', () => {
  test('operation: id, op, vpc and the step', () => {
    assert.deepEqual(readEvent(OP_EVENT), { kind: 'operation', id: '7', op: 'vpc.deploy', vpc: 'vpc1', event: { type: 'checking', peers: 2 } });
    assert.deepEqual(readEvent({ event: 'operation', data: { id: '8' } }), { kind: 'operation', id: '8', op: '', vpc: '', event: undefined });
  });

  test('operation_done: success, and anything else is a failure', () => {
    assert.deepEqual(readEvent({ event: 'operation_done', data: { id: '7', status: 'success' } }), { kind: 'operation_done', id: '7', status: 'success' });
    assert.deepEqual(readEvent({ event: 'operation_done', data: { id: '7', status: 'failure' } }), { kind: 'operation_done', id: '7', status: 'failure' });
    assert.deepEqual(readEvent({ event: 'operation_done', data: { id: '7', status: 'weird' } }), { kind: 'operation_done', id: '7', status: 'failure' });
    assert.deepEqual(readEvent({ event: 'operation_done', data: { id: '7' } }), { kind: 'operation_done', id: '7', status: 'failure' });
  });

  test('tunnel: present/up only when true, RTT only when a finite number', () => {
    const t = { vpc: 'vpc1', node: 'host1', peer: 'host2' };
    assert.deepEqual(readEvent({ event: 'tunnel', data: { ...t, present: true, up: true, rtt_ms: 0.4 } }), { kind: 'tunnel', ...t, present: true, up: true, rtt_ms: 0.4 });
    assert.deepEqual(readEvent({ event: 'tunnel', data: { ...t, present: 'yes', up: 1, rtt_ms: '3' } }), { kind: 'tunnel', ...t, present: false, up: false, rtt_ms: null });
    assert.deepEqual(readEvent({ event: 'tunnel', data: { ...t, present: true, up: false, rtt_ms: null } }), { kind: 'tunnel', ...t, present: true, up: false, rtt_ms: null });
  });

  test('unknown events, plain text data and events missing their keys are ignored', () => {
    assert.equal(readEvent({ event: 'message', data: 'hello' }), null);
    assert.equal(readEvent({ event: 'something_new', data: { id: '1' } }), null);
    assert.equal(readEvent({ event: 'operation', data: 'not json' }), null);
    assert.equal(readEvent({ event: 'operation', data: { id: 7 } }), null);
    assert.equal(readEvent({ event: 'operation_done', data: null }), null);
    assert.equal(readEvent({ event: 'tunnel', data: { vpc: 'vpc1', node: 'host1' } }), null);
  });

  test('the parser and the reader together: a keepalive-laden stream in odd chunks', () => {
    const stream = `: keepalive\n\n${OP}event: unknown\ndata: {}\n\nevent: operation_done\r\ndata: {"id":"7","op":"vpc.deploy","vpc":"vpc1","status":"success"}\r\n\r\n`;
    const seen: unknown[] = [];
    const feed = eventParser((e) => {
      const r = readEvent(e);
      if (r) seen.push(r.kind);
    });
    for (let i = 0; i < stream.length; i += 7) feed(stream.slice(i, i + 7));
    assert.deepEqual(seen, ['operation', 'operation_done']);
  });
});
