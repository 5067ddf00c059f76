/**
 * This host's cluster identity (an ED25519 key pair under MESHVPC_HOME) and
 * the authorized_keys entries that let peers run meshvpc's remote calls, and
 * nothing else, on this host.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ssh2 } from '../core/lazy.js';

export const keyPath = (home: string): string => join(home, 'id_ed25519');

/**
 * A key pair ssh2 can use. ssh2's generateKeyPairSync('ed25519') drops a
 * leading zero byte of the public key about once in 256 keys (measured: 11 of
 * 3,000): the public blob is 31 bytes instead of 32 and the private key does
 * not parse, so such a host can never authenticate with its cluster key.
 * Such a pair is thrown away and another made.
 */
export function generateClusterKey(comment: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 16; attempt++) {
    const pair = ssh2().utils.generateKeyPairSync('ed25519', { comment });
    if (usableKey(pair.private, pair.public)) return { private: pair.private, public: pair.public.trim() };
  }
  throw new Error('could not generate a usable ED25519 key pair');
}

/** The private key parses and its public half is a whole 32-byte ED25519 key. */
export function usableKey(privateKey: string, publicLine: string): boolean {
  const parsed = ssh2().utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) return false;
  const blob = Buffer.from(/^ssh-ed25519 (\S+)/.exec(publicLine.trim())?.[1] ?? '', 'base64');
  // string "ssh-ed25519" (4 + 11 bytes), string key (4 + 32 bytes)
  return blob.length === 51 && parsed.getPublicSSH().equals(blob);
}

/**
 * Make the key pair once; later calls keep the existing one, unless it is
 * one of ssh2's unusable ones (made by meshvpc 0.1), which never worked and
 * is replaced.
 */
export function ensureIdentity(home: string, comment: string): { created: boolean; replaced: boolean; publicKey: string } {
  const priv = keyPath(home);
  const exists = existsSync(priv);
  if (exists && usableKey(readFileSync(priv, 'utf8'), readFileSync(`${priv}.pub`, 'utf8'))) {
    return { created: false, replaced: false, publicKey: readFileSync(`${priv}.pub`, 'utf8').trim() };
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const pair = generateClusterKey(comment);
  writeFileSync(priv, pair.private, { mode: 0o600 });
  writeFileSync(`${priv}.pub`, `${pair.public}\n`, { mode: 0o644 });
  return { created: true, replaced: exists, publicKey: pair.public };
}

export function readPrivateKey(home: string): Buffer {
  return readFileSync(keyPath(home));
}

export function readPublicKey(home: string): string {
  return readFileSync(`${keyPath(home)}.pub`, 'utf8').trim();
}

/** "ssh-ed25519 AAAA... comment" -> the base64 blob. */
export function keyBlob(line: string): string {
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) ([A-Za-z0-9+/=]+)(?: .*)?$/.exec(line.trim());
  if (!m?.[2]) throw new Error('not an OpenSSH public key line');
  return m[2];
}

/** OpenSSH's SHA256 fingerprint, as `ssh-keygen -l` prints it. */
export function fingerprint(blobBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** This host's sshd ED25519 host key, which peers pin when we register with them. */
export function sshHostKey(): string {
  const path = process.env.MESHVPC_SSH_HOST_KEY || '/etc/ssh/ssh_host_ed25519_key.pub';
  return keyBlob(readFileSync(path, 'utf8'));
}

/**
 * The forced command every cluster key is bound to. `restrict` turns off
 * forwarding, pty and X11; `command=` makes sshd ignore what the client asked
 * to run, so a stolen cluster key runs meshvpc's JSON protocol and nothing else.
 */
export const REMOTE_COMMAND = 'meshvpc remote';

/**
 * The entry binds the key to the node it was registered for: sshd runs
 * `meshvpc remote caller=NODE` whatever the client asks, so the remote side
 * knows who is calling without believing the request. Node names are
 * validated DNS labels, safe inside the quoted command.
 */
export function authorizedKeyLine(publicKey: string, nodename: string): string {
  return `restrict,command="${REMOTE_COMMAND} caller=${nodename}" ssh-ed25519 ${keyBlob(publicKey)} meshvpc:${nodename}`;
}

const LEGACY_LINE = /^restrict,command="meshvpc remote" (ssh-ed25519 [A-Za-z0-9+/=]+) meshvpc:([A-Za-z0-9.-]+)$/;

function authorizedKeysPath(): string {
  return join(process.env.HOME || homedir(), '.ssh', 'authorized_keys');
}

/** Add (or replace) the entry of one peer; other lines are kept as they are. */
export function authorize(publicKey: string, nodename: string): void {
  editAuthorizedKeys(nodename, authorizedKeyLine(publicKey, nodename));
}

export function deauthorize(nodename: string): void {
  editAuthorizedKeys(nodename, null);
}

function readAuthorizedKeys(): string[] {
  const path = authorizedKeysPath();
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** The key blob a node's entry holds: the key that node authenticates with. */
export function authorizedBlob(nodename: string): string | null {
  const line = readAuthorizedKeys().find((l) => l.endsWith(` meshvpc:${nodename}`));
  return line ? (/ ssh-ed25519 ([A-Za-z0-9+/=]+) /.exec(line)?.[1] ?? null) : null;
}

/**
 * Entries written by meshvpc 0.1 carry no caller: rewrite them bound to the
 * node their marker names (the node they were registered for). Returns how
 * many were upgraded.
 */
export function upgradeAuthorizedKeys(): number {
  const old = readAuthorizedKeys();
  let changed = 0;
  const next = old.map((l) => {
    const m = LEGACY_LINE.exec(l);
    if (!m) return l;
    changed++;
    return authorizedKeyLine(m[1] as string, m[2] as string);
  });
  if (changed > 0) writeAuthorizedKeys(next);
  return changed;
}

function editAuthorizedKeys(nodename: string, line: string | null): void {
  const marker = ` meshvpc:${nodename}`;
  const kept = readAuthorizedKeys().filter((l) => !l.endsWith(marker));
  writeAuthorizedKeys([...kept, ...(line ? [line] : [])]);
}

function writeAuthorizedKeys(next: readonly string[]): void {
  const path = authorizedKeysPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.meshvpc-tmp`;
  writeFileSync(tmp, next.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}
