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
  close(): void;
}

const CONNECT_TIMEOUT_MS = Number(process.env.MESHVPC_SSH_TIMEOUT_MS) || 8000;

export function connect(target: SshTarget, check: HostCheck, auth: readonly AuthMethod[]): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const client = new (ssh2().Client)();
    let seen = '';
    let refused: string | null = null;
    client.on('ready', () =>
      resolve({
        hostKey: seen,
        exec: (command, input) => execOn(client, command, input),
        close: () => client.end(),
      }),
    );
    client.on('error', (err: Error & { level?: string }) => {
      if (refused) return reject(new UserError(refused, 3));
      const why = err.level === 'client-authentication' ? 'authentication failed' : err.message;
      reject(new Error(`cannot reach ${target.label} (${target.address} port ${target.port}): ${why}`));
    });
    client.connect({
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: CONNECT_TIMEOUT_MS,
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

function execOn(client: Client, command: string, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      stream.on('data', (b: Buffer) => out.push(b));
      stream.stderr.on('data', (b: Buffer) => errOut.push(b));
      stream.on('close', (code: number | null) =>
        resolve({ code: code ?? 255, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() }),
      );
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
