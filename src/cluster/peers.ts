/**
 * Calls to other cluster hosts, with one SSH connection per host kept open for
 * the life of a command (deploy makes several calls per host).
 */
import { readPrivateKey } from './keys.js';
import { connect, type AuthMethod, type Connection, type SshTarget } from './ssh.js';
import { REMOTE_COMMAND } from './keys.js';
import type { NodeRecord } from '../core/types.js';
import type { Request, Response } from './protocol.js';
import { isErrorKind, UserError, type ErrorDetail } from '../core/errors.js';

/** A reply's detail, checked like anything else a peer says: a few short strings and numbers. */
function detailFromWire(x: unknown): ErrorDetail | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return undefined;
  const entries = Object.entries(x).filter(([k, v]) => /^[a-z_]{1,32}$/.test(k) && ((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 200)));
  return entries.length > 0 && entries.length <= 16 ? (Object.fromEntries(entries) as ErrorDetail) : undefined;
}

/**
 * A peer's error message as this host repeats it (tables, the API, a
 * console): its first line, printable characters only, at most 300 of them.
 */
export function oneLine(x: unknown): string {
  const text = typeof x === 'string' ? x : 'no reason given';
  const line = (text.split('\n')[0] ?? '').replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?').replace(/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

export const targetOf = (n: NodeRecord): SshTarget => ({ address: n.sshAddress, port: n.sshPort, user: n.sshUser, label: n.name });

/** Send one request on an open connection; a remote error becomes a thrown Error. */
export async function request<T>(conn: Connection, req: Request, label: string): Promise<T> {
  const r = await conn.exec(REMOTE_COMMAND, JSON.stringify(req));
  let parsed: Response;
  try {
    parsed = JSON.parse(r.stdout) as Response;
  } catch {
    const why = r.stderr.trim().split('\n').pop() || r.stdout.trim().split('\n').pop() || `exit status ${r.code}`;
    throw new UserError(`${label}: remote meshvpc did not answer: ${why}`, 'failed');
  }
  // A refusal keeps its kind (and detail) across the wire; a 0.1 peer sends neither.
  if (!parsed.ok) throw new UserError(`${label}: ${oneLine(parsed.error)}`, isErrorKind(parsed.kind) ? parsed.kind : 'failed', detailFromWire(parsed.detail));
  return parsed.result as T;
}

export interface PeersOptions {
  /**
   * Keep connections open between calls and close one after this long
   * unused (a long-lived server); without it they live until close().
   */
  readonly idleMs?: number;
}

export class Peers {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly open = new Map<string, Connection>();
  private readonly idle = new Map<string, NodeJS.Timeout>();
  private readonly auth: AuthMethod[];

  constructor(
    home: string,
    private readonly options: PeersOptions = {},
  ) {
    this.auth = [{ type: 'publickey', key: readPrivateKey(home) }];
  }

  /** A connection is for one node at one address with one pinned key: a changed record gets a new one. */
  private static key(node: NodeRecord): string {
    return `${node.name}|${node.sshAddress}|${node.sshPort}|${node.sshUser}|${node.hostKey}`;
  }

  private drop(key: string): void {
    this.open.get(key)?.close();
    this.open.delete(key);
    this.conns.delete(key);
    clearTimeout(this.idle.get(key));
    this.idle.delete(key);
  }

  private conn(node: NodeRecord): Promise<Connection> {
    const key = Peers.key(node);
    if (this.open.get(key)?.closed()) this.drop(key);
    let c = this.conns.get(key);
    if (!c) {
      c = connect(targetOf(node), { pinned: node.hostKey }, this.auth);
      c.then((x) => this.open.set(key, x)).catch(() => undefined);
      // A failed connection is not cached: a later call may try again.
      c.catch(() => this.conns.delete(key));
      this.conns.set(key, c);
    }
    if (this.options.idleMs !== undefined) {
      clearTimeout(this.idle.get(key));
      const t = setTimeout(() => this.drop(key), this.options.idleMs);
      t.unref();
      this.idle.set(key, t);
    }
    return c;
  }

  async call<T>(node: NodeRecord, req: Request): Promise<T> {
    return request<T>(await this.conn(node), req, node.name);
  }

  close(): void {
    for (const c of this.conns.values()) c.then((x) => x.close()).catch(() => undefined);
    for (const t of this.idle.values()) clearTimeout(t);
    this.conns.clear();
    this.open.clear();
    this.idle.clear();
  }
}
