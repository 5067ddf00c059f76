/**
 * SSH transport on the ssh2 package (pure JavaScript, maintained, gives us the
 * raw host key to pin and several auth methods in one handshake). Only ED25519
 * host keys are accepted, so a pin is one key per host.
 */
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ssh2';
import { ssh2 } from '../core/lazy.js';
import { fingerprint } from './keys.js';
import { UserError } from '../core/errors.js';

export interface SshTarget {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** Used in messages: a node name, or the address on first contact. */
  readonly label: string;
}

/** How we check the server: a pinned key, or trust-on-first-use that records what it saw. */
export type HostCheck = { readonly pinned: string } | { readonly firstContact: true };

export type AuthMethod =
  | { readonly type: 'publickey'; readonly key: Buffer }
  | { readonly type: 'password'; readonly password: string }
  | { readonly type: 'agent'; readonly agent: string };

export interface Connection {
  readonly hostKey: string;
  exec(command: string, input: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The connection failed or went away: a new one is needed. */
  closed(): boolean;
  close(): void;
}

const CONNECT_TIMEOUT_MS = Number(process.env.MESHVPC_SSH_TIMEOUT_MS) || 8000;
/**
 * A remote call that outlives this is abandoned (the peer is reported
 * unreachable and the caller's locks are released). Deploy's slowest call is
 * an apply of a few hundred interfaces: seconds, not minutes.
 */
const CALL_DEADLINE_MS = Number(process.env.MESHVPC_CALL_DEADLINE_MS) || 120_000;
/** A peer whose session died (kill -9, a cut cable) stops answering keepalives: noticed within ~interval x count. */
const KEEPALIVE_MS = Number(process.env.MESHVPC_SSH_KEEPALIVE_MS) || 2000;
/** Twice the largest request (a full 256-member map), the most any reply may be. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;
const KEEPALIVE_COUNT = 3;

export function connect(target: SshTarget, check: HostCheck, auth: readonly AuthMethod[]): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const client = new (ssh2().Client)();
    let seen = '';
    let refused: string | null = null;
    let lost: Error | null = null;
    const pending = new Set<(e: Error) => void>();
    client.on('ready', () =>
      resolve({
        hostKey: seen,
        exec: (command, input) => {
          if (lost) return Promise.reject(lost);
          return execOn(client, command, input, target, pending);
        },
        closed: () => lost !== null,
        close: () => client.end(),
      }),
    );
    client.on('error', (err: Error & { level?: string }) => {
      if (refused) return reject(new UserError(refused, 'host_key'));
      const why = err.level === 'client-authentication' ? 'authentication failed' : err.message;
      const e = new UserError(`cannot reach ${target.label} (${target.address} port ${target.port}): ${why}`, 'unreachable');
      lost = e;
      for (const fail of pending) fail(e);
      reject(e);
    });
    // The connection went away under a running call (its session was killed, the peer rebooted).
    client.on('close', () => {
      const e = new UserError(`lost ${target.label} (${target.address} port ${target.port}): the connection closed during a call`, 'unreachable');
      lost ??= e;
      for (const fail of pending) fail(lost);
    });
    client.connect({
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: CONNECT_TIMEOUT_MS,
      keepaliveInterval: KEEPALIVE_MS,
      keepaliveCountMax: KEEPALIVE_COUNT,
      algorithms: { serverHostKey: ['ssh-ed25519'] },
      hostVerifier: (key: Buffer) => {
        seen = key.toString('base64');
        if ('pinned' in check && check.pinned !== seen) {
          refused =
            `host key of ${target.label} (${target.address}) has changed: pinned ${fingerprint(check.pinned)}, ` +
            `offered ${fingerprint(seen)}; refusing to connect (if the host was reinstalled, run: meshvpc node mode=repin node=${target.label})`;
          return false;
        }
        return true;
      },
      authHandler: auth.map((a) => ({ ...a, username: target.user })) as never,
    });
  });
}

/**
 * One command on an open connection, bounded: it fails when the connection
 * dies, when the peer's session ends without an exit status (killed), or at
 * the deadline, whichever comes first; it never waits forever.
 */
function execOn(
  client: Client,
  command: string,
  input: string,
  target: SshTarget,
  pending: Set<(e: Error) => void>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      pending.delete(fail);
      fn();
    };
    const fail = (e: Error): void => finish(() => reject(e));
    pending.add(fail);
    const timer = setTimeout(() => {
      fail(new UserError(`${target.label} did not answer within ${Math.round(CALL_DEADLINE_MS / 1000)}s (MESHVPC_CALL_DEADLINE_MS); the call was abandoned`, 'unreachable'));
      client.end();
    }, CALL_DEADLINE_MS);
    client.exec(command, (err, stream) => {
      if (err) return fail(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let exitCode: number | null = null;
      let size = 0;
      // A reply larger than any request may be is not read on: a peer cannot fill this host's memory.
      const take = (into: Buffer[]) => (b: Buffer): void => {
        size += b.length;
        if (size > MAX_REPLY_BYTES) {
          fail(new UserError(`${target.label} sent more than ${MAX_REPLY_BYTES} bytes; the call was abandoned`, 'failed'));
          stream.destroy();
          return;
        }
        into.push(b);
      };
      stream.on('data', take(out));
      stream.stderr.on('data', take(errOut));
      stream.on('exit', (code: number | null) => {
        exitCode = code;
      });
      stream.on('close', () => {
        if (exitCode === null && out.length === 0) {
          return fail(new UserError(`lost ${target.label}: its session ended before meshvpc answered (killed?)`, 'unreachable'));
        }
        finish(() => resolve({ code: exitCode ?? 255, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() }));
      });
      stream.end(input);
    });
  });
}

/**
 * Credentials for first contact: the password from MESHVPC_PASSWORD (or the
 * one typed at a prompt), the caller's agent, and the caller's own keys.
 */
export function firstContactAuth(password: string | null): AuthMethod[] {
  const methods: AuthMethod[] = [];
  const sock = process.env.SSH_AUTH_SOCK;
  if (sock) methods.push({ type: 'agent', agent: sock });
  const sshDir = join(process.env.HOME || homedir(), '.ssh');
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const path = join(sshDir, name);
    if (existsSync(path)) methods.push({ type: 'publickey', key: readFileSync(path) });
  }
  if (password !== null) methods.push({ type: 'password', password });
  return methods;
}
