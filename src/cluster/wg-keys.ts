/**
 * This host's WireGuard key pair: made once (at initenv, or the first time an
 * encrypted VPC needs it) with Node's X25519, the curve WireGuard uses. The
 * private key lives in MESHVPC_HOME/wireguard/private.key, mode 0600, and is
 * handed to `wg` by path only; it never travels. The public key is derived
 * from it whenever it is needed, so the two cannot disagree.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wgKey } from '../core/seal.js';

export const wgKeyFile = (home: string): string => join(home, 'wireguard', 'private.key');

const fromJwk = (x: string | undefined): string => Buffer.from(x ?? '', 'base64url').toString('base64');

/** A new X25519 pair as WireGuard writes keys: base64 of the 32 raw bytes. */
export function newWgKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey: fromJwk(privateKey.export({ format: 'jwk' }).d), publicKey: fromJwk(publicKey.export({ format: 'jwk' }).x) };
}

/** The public key of a base64 WireGuard private key. */
export function wgPublicKey(privateKey: string): string {
  const d = Buffer.from(wgKey(privateKey, 'private key'), 'base64');
  // PKCS#8 for X25519 is a fixed 16-byte prefix and the 32 raw bytes.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), d]);
  const pub = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  return fromJwk(pub.export({ format: 'jwk' }).x);
}

/** Write a private key file atomically, mode 0600 from the start (a leftover temporary file is never reused). */
export function writeWgKey(home: string, privateKey: string): void {
  const file = wgKeyFile(home);
  mkdirSync(join(home, 'wireguard'), { recursive: true, mode: 0o700 });
  chmodSync(join(home, 'wireguard'), 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${privateKey}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

/** This host's public key, making the pair first if there is none (or what is there is not a key). */
export function ensureWgKey(home: string): { publicKey: string; created: boolean } {
  const file = wgKeyFile(home);
  if (existsSync(file)) {
    // A read error (EMFILE, EIO) is thrown, never taken for a missing key: that would rotate it unannounced.
    const text = readFileSync(file, 'utf8');
    let publicKey: string | null = null;
    try {
      publicKey = wgPublicKey(text.trim());
    } catch {
      // Not a key at all: it can never complete a handshake, so it is replaced (peers learn the new one at the next deploy).
    }
    if (publicKey !== null) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return { publicKey, created: false };
    }
  }
  const pair = newWgKeyPair();
  writeWgKey(home, pair.privateKey);
  return { publicKey: pair.publicKey, created: true };
}
