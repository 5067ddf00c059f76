/** WireGuard keys: wgKey's validation (core/seal.ts) and the host's key pair (cluster/wg-keys.ts), checked against wg(8) where it is installed. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { wgKey } from '../../src/core/seal.js';
import { UserError } from '../../src/core/errors.js';
import { ensureWgKey, newWgKeyPair, wgKeyFile, wgPublicKey, writeWgKey } from '../../src/cluster/wg-keys.js';
import { WG_KEYS } from './seal-fixtures.js';

/** RFC 7748 section 6.1: Alice's X25519 private key and the public key it gives. */
const RFC7748_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
const RFC7748_PUBLIC = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');

function refusedKey(value: string, message: RegExp, key?: string): void {
  assert.throws(
    () => (key === undefined ? wgKey(value) : wgKey(value, key)),
    (e: unknown) => e instanceof UserError && e.kind === 'invalid' && message.test(e.message) && !e.message.includes('\n'),
    JSON.stringify(value),
  );
}

describe('wgKey', () => {
  test('a key as wg prints it is returned as it is', () => {
    for (const k of [...Object.values(WG_KEYS), RFC7748_PRIVATE, RFC7748_PUBLIC, `${'A'.repeat(43)}=`, `${'/'.repeat(42)}8=`]) assert.equal(wgKey(k), k);
  });

  test('the base64 of any 32 bytes is a key, and nothing of another length is', () => {
    for (let i = 0; i < 500; i++) {
      const bytes = randomBytes(32);
      assert.equal(wgKey(bytes.toString('base64')), bytes.toString('base64'));
      assert.deepEqual(Buffer.from(bytes.toString('base64'), 'base64'), bytes);
    }
    for (const n of [0, 1, 16, 31, 33, 48, 64]) refusedKey(randomBytes(n).toString('base64'), /^invalid wireguard key /);
  });

  test('refusals name the value and say what a key looks like', () => {
    const k = WG_KEYS.node1 as string;
    const why = /: a WireGuard key is 44 characters of base64 \(32 bytes\), as wg pubkey prints it$/;
    refusedKey('', /^invalid wireguard key "": a WireGuard key/);
    refusedKey(k.slice(0, -1), why); // no padding
    refusedKey(`${k}=`, why);
    refusedKey(`${k.slice(0, 42)}t=`, why); // "t" leaves bits past the 32nd byte: not what any key encodes to
    refusedKey(`${k.slice(0, 42)}B=`, why);
    refusedKey(k.replace(/\+/g, '-').replace(/\//g, '_'), why); // base64url is not what wg prints
    refusedKey(` ${k}`, why);
    refusedKey(`${k}\n`, why); // the message stays on one line (refusedKey checks)
    refusedKey(`${k.slice(0, 43)}==`, why);
    // A long value is cut short in the message.
    refusedKey('x'.repeat(500), /^invalid wireguard key "x{40}\.\.\.": /);
    // The caller names the field.
    refusedKey('nope', /^invalid wgKey "nope": a WireGuard key/, 'wgKey');
  });
});

describe('the host\'s WireGuard key pair', () => {
  test('RFC 7748\'s test vector: the public key of Alice\'s private key', () => {
    assert.equal(wgPublicKey(RFC7748_PRIVATE), RFC7748_PUBLIC);
  });

  test('a new pair: two keys as wg writes them, the public one derived from the private one; never the same twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const pair = newWgKeyPair();
      assert.equal(wgKey(pair.privateKey), pair.privateKey);
      assert.equal(wgKey(pair.publicKey), pair.publicKey);
      assert.equal(wgPublicKey(pair.privateKey), pair.publicKey);
      assert.notEqual(pair.privateKey, pair.publicKey);
      assert.ok(!seen.has(pair.privateKey));
      seen.add(pair.privateKey);
    }
  });

  test('wgPublicKey refuses what is not a key, naming it a private key', () => {
    assert.throws(() => wgPublicKey('short'), (e: unknown) => e instanceof UserError && /^invalid private key "short"/.test(e.message));
  });

  test('the key file: 0600 in a 0700 directory, made once, kept, and replaced when it is damaged', () => {
    const home = mkdtempSync(join(tmpdir(), 'mvwg-'));
    try {
      const file = wgKeyFile(home);
      assert.equal(file, join(home, 'wireguard', 'private.key'));
      const first = ensureWgKey(home);
      assert.equal(first.created, true);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
      assert.equal(wgPublicKey(text.trim()), first.publicKey);
      assert.deepEqual(ensureWgKey(home), { publicKey: first.publicKey, created: false });

      writeFileSync(file, 'not a key\n');
      const again = ensureWgKey(home);
      assert.equal(again.created, true);
      assert.notEqual(again.publicKey, first.publicKey);
      assert.equal(wgPublicKey(readFileSync(file, 'utf8').trim()), again.publicKey);

      // writeWgKey replaces the file whole (no temporary left behind) and keeps its mode.
      writeWgKey(home, RFC7748_PRIVATE);
      assert.deepEqual(ensureWgKey(home), { publicKey: RFC7748_PUBLIC, created: false });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dirname(file)), ['private.key']);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

const wg = (args: string[], input?: string): { code: number | null; stdout: string } => {
  const r = spawnSync('wg', args, { input, encoding: 'utf8' });
  return { code: r.error ? null : r.status, stdout: (r.stdout ?? '').trim() };
};
const hasWg = spawnSync('sh', ['-c', 'command -v wg'], { encoding: 'utf8' }).status === 0;

test('wg(8) agrees: wg pubkey of a private key made here, and of wg genkey\'s, is what wgPublicKey says', { skip: hasWg ? false : 'no wg binary (wireguard-tools)' }, () => {
  for (let i = 0; i < 10; i++) {
    const pair = newWgKeyPair();
    const r = wg(['pubkey'], `${pair.privateKey}\n`);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, pair.publicKey);
    const made = wg(['genkey']).stdout;
    assert.equal(wgKey(made), made);
    assert.equal(wgPublicKey(made), wg(['pubkey'], `${made}\n`).stdout);
  }
  assert.equal(wg(['pubkey'], `${RFC7748_PRIVATE}\n`).stdout, RFC7748_PUBLIC);
  for (const k of Object.values(WG_KEYS)) assert.equal(wgKey(k), k);
});
