/**
 * A small etcd v3 client over etcd's JSON gateway (`/v3/...`), with
 * `node:https` and the cluster's CA plus this host's client certificate: no
 * gRPC stack to carry. Keys and values are strings here; the gateway's
 * base64 stays inside this file. Revisions are numbers (JavaScript's safe
 * integers reach 2^53, far beyond any etcd's revision); lease ids stay
 * strings (etcd's int64s do not fit a number).
 *
 * Several endpoints may be given: a request that cannot reach one tries the
 * next, so a dead member changes nothing for callers. A refusal by a
 * reachable member (a failed compare, a bad request) is not retried.
 */
import { request as httpsRequest, Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { signerOf, verifierOf, type Opened, type Signer, type Verifier } from './signed.js';
import { UserError } from '../../core/errors.js';

export interface EtcdTls {
  /** PEM: the cluster CA, this host's client certificate and key. Without cert/key the client offers none. */
  readonly ca: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface EtcdOptions {
  /** https://ADDR:PORT of each member (checked by parseEndpoint). */
  readonly endpoints: readonly string[];
  readonly tls: EtcdTls;
  /** Per request, per endpoint (default 5000 ms). */
  readonly timeoutMs?: number;
  /** This host's name: what it writes is signed as this node's (its client certificate must name it). */
  readonly node?: string;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string | null;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  readonly count: number;
}

export type CompareTarget = 'mod_revision' | 'create_revision' | 'version' | 'value';

/** One condition of a transaction: the key's target compared with a number (a value: a string). */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly result: 'equal' | 'not_equal' | 'greater' | 'less';
  readonly operand: number | string;
}

export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly delete: { readonly key: string; readonly prefix?: boolean } }
  | { readonly range: { readonly key: string; readonly prefix?: boolean } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** The ranges' results of the branch that ran, in order (null for a put or delete). */
  readonly ranges: readonly (RangeResult | null)[];
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** '' for a delete. */
  readonly value: string;
  readonly modRevision: number;
}

export interface WatchOptions {
  readonly prefix?: boolean;
  /** The first revision to report (a resumed watch passes the last one it handled + 1). */
  readonly fromRevision?: number;
  /**
   * A batch of events in revision order; the watch's nextRevision has moved past them when this
   * runs. It runs inside the stream's data handler: it must not throw (catch and report instead).
   */
  readonly onEvents: (events: readonly WatchEvent[]) => void;
  /**
   * Connection state changes: 'connected' when the watch is established (again),
   * 'disconnected' when every endpoint failed and a retry is scheduled. A watch keeps
   * trying until closed.
   */
  readonly onState?: (state: 'connected' | 'disconnected', why?: string) => void;
  /**
   * The watch cannot go on: the revision asked for was compacted away
   * (`kind` conflict, detail compact_revision). The caller re-reads and watches again.
   */
  readonly onFatal?: (e: UserError) => void;
  /** Retry delay after all endpoints failed (default 500 ms). */
  readonly retryMs?: number;
}

export interface Watch {
  /** Where a resumed watch should start: the revision after the last event delivered. */
  readonly nextRevision: () => number;
  close(): void;
}

/** An endpoint URL as users and peers give it: https, an address or host name, a port; nothing else. */
export function parseEndpoint(raw: string, key = 'endpoints'): string {
  const bad = (why: string): UserError => new UserError(`invalid ${key} ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw)}: ${why}`);
  const m = /^https:\/\/(\[[0-9A-Fa-f:.]{2,45}\]|[0-9.]{7,15}|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})\/?$/.exec(raw);
  if (!m) throw bad('use https://ADDR:PORT (IPv6 in brackets), e.g. https://192.0.2.1:2379');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw bad('the port must be 1-65535');
  let host = m[1] as string;
  try {
    // URL normalises the address (IPv6 compressed, IPv4 checked for range).
    host = new URL(`https://${host}:${port}`).hostname;
  } catch {
    throw bad('not a valid address');
  }
  if (/^[0-9.]+$/.test(host) && !/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(host)) throw bad('not a valid IPv4 address');
  return `https://${host}:${port}`;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');
const num = (x: unknown): number => {
  const n = typeof x === 'string' ? Number(x) : typeof x === 'number' ? x : 0;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};

/** The end of a prefix range: the prefix with its last byte incremented (etcd's own rule). */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] as number) < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = (b[i] as number) + 1;
      return end.toString('base64');
    }
  }
  // Every byte 0xff (or empty): to the end of the keyspace.
  return Buffer.from([0]).toString('base64');
}

function rangeBody(key: string, prefix: boolean | undefined): Record<string, string> {
  if (key === '' && !prefix) throw new UserError('etcd: an empty key');
  return prefix ? { key: key === '' ? Buffer.from([0]).toString('base64') : b64(key), range_end: prefixEnd(key) } : { key: b64(key) };
}

function kvOf(x: unknown): KeyValue {
  const o = (x ?? {}) as Record<string, unknown>;
  return {
    key: unb64(o.key),
    value: unb64(o.value),
    createRevision: num(o.create_revision),
    modRevision: num(o.mod_revision),
    version: num(o.version),
    lease: typeof o.lease === 'string' && o.lease !== '0' ? o.lease : null,
  };
}

function rangeOf(x: unknown): RangeResult {
  const o = (x ?? {}) as Record<string, unknown>;
  const header = (o.header ?? {}) as Record<string, unknown>;
  const kvs = Array.isArray(o.kvs) ? o.kvs.map(kvOf) : [];
  return { revision: num(header.revision), kvs, count: num(o.count) };
}

/** gRPC status codes the gateway returns, as the project's error kinds. */
function kindOfCode(code: number): 'invalid' | 'not_found' | 'conflict' | 'busy' | 'unreachable' | 'failed' {
  switch (code) {
    case 3: // INVALID_ARGUMENT
    case 11: // OUT_OF_RANGE (a compacted or future revision)
      return 'invalid';
    case 5: // NOT_FOUND (a lease)
      return 'not_found';
    case 6: // ALREADY_EXISTS
    case 9: // FAILED_PRECONDITION
    case 10: // ABORTED
      return 'conflict';
    case 8: // RESOURCE_EXHAUSTED (too many requests, no space)
      return 'busy';
    case 4: // DEADLINE_EXCEEDED
    case 14: // UNAVAILABLE (no leader, stopping)
      return 'unreachable';
    default:
      return 'failed';
  }
}

/** A network-level failure: this endpoint is worth skipping for the next. */
class Unreachable extends Error {}

const TLS_REFUSED = /certificate|handshake|alert|SSL|TLS|self.signed|unable to verify|ERR_TLS|EPROTO/i;

export class EtcdClient {
  private readonly agent: Agent;
  private readonly endpoints: string[];
  private readonly timeoutMs: number;
  /** The endpoint that answered last: tried first next time. */
  private preferred = 0;
  private readonly verifier: Verifier;
  private signer: Signer | null = null;

  constructor(private readonly opts: EtcdOptions) {
    if (opts.endpoints.length === 0) throw new UserError('etcd: no endpoints');
    this.endpoints = opts.endpoints.map((e) => parseEndpoint(e));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.verifier = verifierOf(opts.tls.ca);
    this.agent = new Agent({ ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, keepAlive: true, maxSockets: 16 });
  }

  get endpointList(): readonly string[] {
    return this.endpoints;
  }

  close(): void {
    this.agent.destroy();
  }

  /** A value to write under `key`, signed as this host's (store/etcd/signed.ts); `prev`: the key's revision it replaces. */
  seal(key: string, body: string, prev = 0): string {
    if (!this.signer) {
      const { node, tls } = this.opts;
      if (node === undefined || tls.cert === undefined || tls.key === undefined) throw new UserError('etcd: this client has no identity to sign with');
      this.signer = signerOf(node, tls.cert, tls.key);
    }
    return this.signer.seal(key, body, prev);
  }

  /** A value read from `key`: its writer (from its certificate) and body; throws a UserError saying why it is not believed. */
  open(key: string, raw: string): Opened {
    return this.verifier.open(key, raw);
  }

  /** One POST to one endpoint; resolves with the parsed JSON of a 2xx answer. */
  private post(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const url = new URL(path, endpoint);
      const req = httpsRequest(url, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new Unreachable(`${endpoint}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            return reject(new UserError(`etcd ${endpoint}${path}: HTTP ${res.statusCode ?? '?'}, not JSON`, 'failed'));
          }
          if ((res.statusCode ?? 500) >= 300 || typeof parsed.error === 'string') {
            const code = num(parsed.code);
            const msg = typeof parsed.message === 'string' ? parsed.message : typeof parsed.error === 'string' ? parsed.error : `HTTP ${res.statusCode ?? '?'}`;
            const kind = kindOfCode(code);
            // No leader, a member shutting down: another member may answer.
            if (kind === 'unreachable') return reject(new Unreachable(`${endpoint}: ${msg}`));
            return reject(new UserError(`etcd: ${msg}`, kind));
          }
          resolve(parsed);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const what = TLS_REFUSED.test(`${e.code ?? ''} ${e.message}`) ? `TLS refused: ${e.message}` : e.message;
        reject(new Unreachable(`${endpoint}: ${what}`));
      });
      req.end(JSON.stringify(body));
    });
  }

  /** POST to the preferred endpoint, then each other one while they are unreachable. */
  private async call(path: string, body: unknown): Promise<Record<string, unknown>> {
    const n = this.endpoints.length;
    const why: string[] = [];
    for (let k = 0; k < n; k++) {
      const i = (this.preferred + k) % n;
      try {
        const r = await this.post(this.endpoints[i] as string, path, body, this.timeoutMs);
        this.preferred = i;
        return r;
      } catch (e) {
        if (!(e instanceof Unreachable)) throw e;
        why.push(e.message);
      }
    }
    throw new UserError(`etcd unreachable: ${why.join('; ')}`, 'unreachable');
  }

  async get(key: string): Promise<KeyValue | null> {
    return (await this.range(key)).kvs[0] ?? null;
  }

  /** One key, or (prefix) every key that starts with it, in key order. */
  async range(key: string, opts: { prefix?: boolean; limit?: number; revision?: number } = {}): Promise<RangeResult> {
    const body = { ...rangeBody(key, opts.prefix), ...(opts.limit ? { limit: String(opts.limit) } : {}), ...(opts.revision ? { revision: String(opts.revision) } : {}) };
    return rangeOf(await this.call('/v3/kv/range', body));
  }

  /** Store a value; returns the revision it was written at. */
  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    if (key === '') throw new UserError('etcd: an empty key');
    const r = await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(opts.lease ? { lease: opts.lease } : {}) });
    return num((r.header as Record<string, unknown> | undefined)?.revision);
  }

  /** Delete a key (or every key under a prefix); returns how many went. */
  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    const r = await this.call('/v3/kv/deleterange', rangeBody(key, opts.prefix));
    return num(r.deleted);
  }

  /** If every compare holds, run `success`, else `failure`: atomically, at one revision. */
  async txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): Promise<TxnResult> {
    const cmp = compare.map((c) => {
      const target = c.target.toUpperCase().replace('_REVISION', '');
      const field = c.target === 'value' ? { value: b64(String(c.operand)) } : { [c.target]: String(c.operand) };
      return { key: b64(c.key), target, result: c.result.toUpperCase(), ...field };
    });
    const op = (o: TxnOp): Record<string, unknown> => {
      if ('put' in o) return { request_put: { key: b64(o.put.key), value: b64(o.put.value), ...(o.put.lease ? { lease: o.put.lease } : {}) } };
      if ('delete' in o) return { request_delete_range: rangeBody(o.delete.key, o.delete.prefix) };
      return { request_range: rangeBody(o.range.key, o.range.prefix) };
    };
    const r = await this.call('/v3/kv/txn', { compare: cmp, success: success.map(op), failure: failure.map(op) });
    const responses = Array.isArray(r.responses) ? (r.responses as Record<string, unknown>[]) : [];
    return {
      succeeded: r.succeeded === true,
      revision: num((r.header as Record<string, unknown> | undefined)?.revision),
      ranges: responses.map((x) => (x.response_range ? rangeOf(x.response_range) : null)),
    };
  }

  /** Put only if the key does not exist; false when another writer got there first. */
  async create(key: string, value: string, opts: { lease?: string } = {}): Promise<boolean> {
    return (await this.txn([{ key, target: 'create_revision', result: 'equal', operand: 0 }], [{ put: { key, value, ...(opts.lease ? { lease: opts.lease } : {}) } }])).succeeded;
  }

  /** Put only if the key is still at `modRevision` (0: absent); throws a conflict naming the key otherwise. */
  async putIf(key: string, value: string, modRevision: number): Promise<number> {
    const r = await this.txn([{ key, target: 'mod_revision', result: 'equal', operand: modRevision }], [{ put: { key, value } }]);
    if (!r.succeeded) throw new UserError(`etcd: ${key} changed meanwhile (expected revision ${modRevision})`, 'conflict', { key, expected: modRevision });
    return r.revision;
  }

  /** A lease of `ttlSeconds`; its id (an int64 as a string). */
  async grant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86400 * 365) throw new UserError(`etcd: invalid lease TTL ${ttlSeconds}`);
    const r = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (typeof r.ID !== 'string' || !/^-?\d{1,20}$/.test(r.ID)) throw new UserError('etcd: lease grant answered without an id', 'failed');
    return { id: r.ID, ttl: num(r.TTL) };
  }

  /** Renew a lease once; its remaining TTL. A lease that expired is not_found. */
  async keepAlive(id: string): Promise<number> {
    const r = await this.call('/v3/lease/keepalive', { ID: leaseId(id) });
    const result = (r.result ?? r) as Record<string, unknown>;
    const ttl = num(result.TTL);
    if (ttl <= 0) throw new UserError(`etcd: lease ${id} has expired`, 'not_found');
    return ttl;
  }

  /** End a lease now: every key attached to it goes. */
  async revoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: leaseId(id) });
    } catch (e) {
      // Revoking what already expired is done.
      if (!(e instanceof UserError && e.kind === 'not_found')) throw e;
    }
  }

  /** Cluster members as the cluster sees them. */
  async members(): Promise<{ id: string; name: string; clientURLs: string[]; peerURLs: string[]; learner: boolean }[]> {
    const r = await this.call('/v3/cluster/member/list', {});
    return (Array.isArray(r.members) ? r.members : []).map((m: Record<string, unknown>) => ({
      id: typeof m.ID === 'string' && /^\d{1,20}$/.test(m.ID) ? m.ID : '',
      name: typeof m.name === 'string' ? m.name : '',
      clientURLs: Array.isArray(m.clientURLs) ? m.clientURLs.filter((u): u is string => typeof u === 'string') : [],
      peerURLs: Array.isArray(m.peerURLs) ? m.peerURLs.filter((u): u is string => typeof u === 'string') : [],
      learner: m.isLearner === true,
    }));
  }

  /**
   * Add a member at `peerUrls` as a learner (it joins when its etcd starts
   * with --initial-cluster-state existing, and votes only once promoted, so
   * the quorum does not grow before it runs); its id.
   */
  async addMember(peerUrls: readonly string[]): Promise<string> {
    const r = await this.call('/v3/cluster/member/add', { peerURLs: peerUrls, isLearner: true });
    const id = (r.member as Record<string, unknown> | undefined)?.ID;
    if (typeof id !== 'string' || !/^\d{1,20}$/.test(id)) throw new UserError('etcd: member/add answered without the new member\'s id');
    return id;
  }

  /** Make a learner a voting member (etcd refuses while it is not in step with the leader). */
  async promoteMember(id: string): Promise<void> {
    await this.call('/v3/cluster/member/promote', { ID: id });
  }

  /** Take the member with this id out of the cluster (its etcd stops by itself). */
  async removeMember(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  /**
   * One member's own state, asked of that member only (no failover): its
   * version, the leader it follows, its database size. Throws unreachable.
   */
  async status(endpoint: string, timeoutMs = 2000): Promise<{ version: string; leader: string; memberId: string; dbSize: number; raftIndex: number }> {
    let r: Record<string, unknown>;
    try {
      r = await this.post(parseEndpoint(endpoint), '/v3/maintenance/status', {}, timeoutMs);
    } catch (e) {
      if (e instanceof Unreachable) throw new UserError(`etcd unreachable: ${e.message}`, 'unreachable');
      throw e;
    }
    const header = (r.header ?? {}) as Record<string, unknown>;
    return {
      version: typeof r.version === 'string' ? r.version : '',
      leader: typeof r.leader === 'string' ? r.leader : '',
      memberId: typeof header.member_id === 'string' ? header.member_id : '',
      dbSize: num(r.dbSize),
      raftIndex: num(r.raftIndex),
    };
  }

  /**
   * Watch a key or prefix from a revision. Events arrive in revision order; after a
   * lost connection the watch reconnects (to any endpoint) from the revision after
   * the last event it delivered, so nothing is missed or repeated.
   */
  watch(key: string, opts: WatchOptions): Watch {
    let next = opts.fromRevision ?? 0;
    let closed = false;
    let current: ReturnType<typeof httpsRequest> | null = null;
    let timer: NodeJS.Timeout | null = null;
    let attempt = 0;
    const create = (): Record<string, unknown> => ({ create_request: { ...rangeBody(key, opts.prefix), ...(next > 0 ? { start_revision: String(next) } : {}), progress_notify: true } });

    const connect = (): void => {
      if (closed) return;
      const endpoint = this.endpoints[(this.preferred + attempt) % this.endpoints.length] as string;
      let connected = false;
      let failed = false;
      const fail = (why: string): void => {
        if (failed || closed) return;
        failed = true;
        current?.destroy();
        current = null;
        attempt++;
        // Tried every endpoint once since the last success: say so and wait before the next round.
        const round = attempt % this.endpoints.length === 0;
        if (round || connected) opts.onState?.('disconnected', why);
        timer = setTimeout(connect, round ? (opts.retryMs ?? 500) : 0);
      };
      const req = httpsRequest(new URL('/v3/watch', endpoint), { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json' } }, (res: IncomingMessage) => {
        if ((res.statusCode ?? 500) >= 300) {
          res.resume();
          return fail(`${endpoint}: HTTP ${res.statusCode ?? '?'}`);
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line !== '') handle(line);
          }
        });
        res.on('end', () => fail(`${endpoint}: watch stream ended`));
        res.on('error', (e) => fail(`${endpoint}: ${e.message}`));
      });
      const handle = (line: string): void => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return fail(`${endpoint}: watch sent something other than JSON`);
        }
        if (msg.error) return fail(`${endpoint}: ${JSON.stringify(msg.error).slice(0, 200)}`);
        const r = (msg.result ?? {}) as Record<string, unknown>;
        if (r.created === true && !connected) {
          connected = true;
          // Watching from "now": a resumed watch must start right after it.
          if (next === 0) next = num(((r.header ?? {}) as Record<string, unknown>).revision) + 1;
          attempt = 0;
          opts.onState?.('connected');
        }
        if (r.canceled === true) {
          const compact = num(r.compact_revision);
          closed = true;
          current?.destroy();
          const e = compact > 0
            ? new UserError(`etcd: watch of ${key} from revision ${next} is no longer possible: history before ${compact} was compacted`, 'conflict', { compact_revision: compact })
            : new UserError(`etcd: watch of ${key} was cancelled: ${typeof r.cancel_reason === 'string' ? r.cancel_reason : 'no reason given'}`, 'failed');
          opts.onFatal?.(e);
          return;
        }
        const raw = Array.isArray(r.events) ? (r.events as Record<string, unknown>[]) : [];
        if (raw.length === 0) {
          // A progress notification: nothing before this revision is left to see.
          const rev = num(((r.header ?? {}) as Record<string, unknown>).revision);
          if (rev + 1 > next && connected && r.created !== true) next = rev + 1;
          return;
        }
        const events = raw.map((ev): WatchEvent => {
          const kv = kvOf(ev.kv);
          return { type: ev.type === 'DELETE' ? 'delete' : 'put', key: kv.key, value: kv.value, modRevision: kv.modRevision };
        }).filter((ev) => ev.modRevision >= next);
        if (events.length === 0) return;
        next = (events[events.length - 1] as WatchEvent).modRevision + 1;
        opts.onEvents(events);
      };
      req.on('error', (e) => fail(`${endpoint}: ${TLS_REFUSED.test(e.message) ? `TLS refused: ${e.message}` : e.message}`));
      req.setTimeout(0);
      // The request stays open: the stream is the response.
      req.write(JSON.stringify(create()));
      req.end();
      current = req;
    };
    connect();
    return {
      nextRevision: () => next,
      close: () => {
        closed = true;
        if (timer) clearTimeout(timer);
        current?.destroy();
        current = null;
      },
    };
  }
}

function leaseId(id: string): string {
  if (!/^-?\d{1,20}$/.test(id)) throw new UserError(`etcd: invalid lease id ${JSON.stringify(id)}`);
  return id;
}

/** Health of one member as `/health` says it (over TLS with the client certificate); never throws. */
export async function memberHealth(client: EtcdClient, endpoint: string, timeoutMs = 2000): Promise<{ healthy: boolean; error: string | null; version: string | null; isLeader: boolean }> {
  try {
    const s = await client.status(endpoint, timeoutMs);
    return { healthy: s.leader !== '' && s.leader !== '0', error: s.leader === '' || s.leader === '0' ? 'no leader' : null, version: s.version || null, isLeader: s.leader === s.memberId };
  } catch (e) {
    return { healthy: false, error: e instanceof Error ? e.message : String(e), version: null, isLeader: false };
  }
}
