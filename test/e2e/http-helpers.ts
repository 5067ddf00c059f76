/**
 * `meshvpc server` on a lab host, and a client for it. The server listens on
 * 127.0.0.1 inside the host's network namespace, where the test process
 * cannot connect; a small relay started inside the host joins a Unix socket
 * in the host's state directory (which the test sees on disk) to that port.
 * Nothing listens in the root namespace.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostOf, onHost, type LabState } from '../../src/lab/lab.js';
import { ok } from './lab-helpers.js';

export interface HttpAnswer {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
  readonly headers: IncomingMessage['headers'];
}

export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  /** ms since the stream opened */
  readonly at: number;
}

export interface EventStream {
  readonly events: SseEvent[];
  /** Wait until an event matches, up to `ms`. */
  waitFor(match: (e: SseEvent) => boolean, ms: number): Promise<SseEvent>;
  close(): void;
}

export interface LabServer {
  readonly host: number;
  readonly port: number;
  /** Valid inside the host's network namespace. */
  readonly url: string;
  readonly adminToken: string;
  readonly readToken: string;
  request(method: string, path: string, body?: unknown, token?: string | null): Promise<HttpAnswer>;
  events(token?: string): Promise<EventStream>;
  /** What the server wrote on stderr. */
  log(): string;
  stop(): Promise<void>;
}

const RELAY = `
const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer((c) => {
  const t = net.connect(Number(port), '127.0.0.1');
  c.pipe(t); t.pipe(c);
  c.on('error', () => t.destroy()); t.on('error', () => c.destroy());
}).listen(sock);
`;

async function token(lab: LabState, host: number, name: string, role: string): Promise<string> {
  const out = await ok(lab, host, 'token', 'mode=create', `name=${name}`, `role=${role}`, '--json');
  return (JSON.parse(out) as { token: string }).token;
}

function killTree(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export async function startServer(lab: LabState, host: number, port = 8089): Promise<LabServer> {
  const h = hostOf(lab, host);
  const suffix = Math.random().toString(36).slice(2, 8);
  const adminToken = await token(lab, host, `admin-${suffix}`, 'admin');
  const readToken = await token(lab, host, `read-${suffix}`, 'read');
  const sockName = `api-${suffix}.sock`;
  const socketPath = join(h.dir, 'db', sockName);
  let stderr = '';
  const serverArgv = onHost(lab, host, ['meshvpc', 'server', `listen=127.0.0.1:${port}`]);
  const server = spawn(serverArgv[0] as string, serverArgv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const relayArgv = onHost(lab, host, ['node', '-e', RELAY, `/var/db/meshvpc/${sockName}`, String(port)]);
  const relay = spawn(relayArgv[0] as string, relayArgv.slice(1), { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    await Promise.all([killTree(server), killTree(relay)]);
  };

  const request = (method: string, path: string, body?: unknown, tok: string | null = adminToken): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = httpRequest(
        { socketPath, method, path, headers: { ...(tok === null ? {} : { authorization: `Bearer ${tok}` }), ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }) } },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => {
            let json: unknown = null;
            try {
              json = JSON.parse(data);
            } catch {
              json = null;
            }
            resolve({ status: res.statusCode ?? 0, json, text: data, headers: res.headers });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      if (text !== undefined) req.write(text);
      req.end();
    });

  const events = (tok: string = adminToken): Promise<EventStream> =>
    new Promise((resolve, reject) => {
      const opened = Date.now();
      const list: SseEvent[] = [];
      const waiters: { match: (e: SseEvent) => boolean; done: (e: SseEvent) => void }[] = [];
      const req = httpRequest({ socketPath, method: 'GET', path: '/api/v1/events', headers: { authorization: `Bearer ${tok}` } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!event || data === undefined) continue;
            const e = { event, data: JSON.parse(data) as Record<string, unknown>, at: Date.now() - opened };
            list.push(e);
            for (const w of [...waiters]) if (w.match(e)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.done(e);
            }
          }
        });
        resolve({
          events: list,
          waitFor: (match, ms) =>
            new Promise((res2, rej2) => {
              const found = list.find(match);
              if (found) return res2(found);
              const timer = setTimeout(() => rej2(new Error(`no matching event within ${ms} ms; got ${list.map((x) => x.event).join(', ')}`)), ms);
              waiters.push({ match, done: (e) => { clearTimeout(timer); res2(e); } });
            }),
          close: () => req.destroy(),
        });
      });
      req.on('error', (e) => (list.length === 0 ? reject(e) : undefined));
      req.end();
    });

  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`meshvpc server exited ${server.exitCode}: ${stderr}`);
      if (existsSync(socketPath)) {
        const r = await request('GET', '/api/v1/host').catch(() => null);
        if (r?.status === 200) break;
      }
      if (Date.now() > deadline) throw new Error(`meshvpc server did not answer within 20 s: ${stderr}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  assert.ok(true);
  return { host, port, url: `http://127.0.0.1:${port}`, adminToken, readToken, request, events, log: () => stderr, stop };
}
