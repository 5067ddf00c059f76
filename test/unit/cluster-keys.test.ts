/** Cluster key entries bind each key to its node; entries from meshvpc 0.1 are upgraded in place. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorize, authorizedBlob, authorizedKeyLine, ensureIdentity, generateClusterKey, upgradeAuthorizedKeys, usableKey } from '../../src/cluster/keys.js';
import { callerOf } from '../../src/app/remote.js';
import { parseArgs } from '../../src/adapters/cli/args.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

function withHome(fn: (file: string) => void): void {
  const home = mkdtempSync(join(tmpdir(), 'mvkeys-'));
  const old = process.env.HOME;
  process.env.HOME = home;
  try {
    mkdirSync(join(home, '.ssh'));
    fn(join(home, '.ssh', 'authorized_keys'));
  } finally {
    process.env.HOME = old;
    rmSync(home, { recursive: true, force: true });
  }
}

test('the entry forces `meshvpc remote caller=NODE`', () => {
  assert.equal(authorizedKeyLine(`ssh-ed25519 ${KEY} x`, 'host1'), `restrict,command="meshvpc remote caller=host1" ssh-ed25519 ${KEY} meshvpc:host1`);
});

test('0.1 entries are bound to the node their marker names; other lines are kept byte for byte', () => {
  withHome((file) => {
    const user = `ssh-ed25519 ${KEY} admin@laptop`;
    writeFileSync(file, `${user}\nrestrict,command="meshvpc remote" ssh-ed25519 ${KEY} meshvpc:host1\n# a comment\n`);
    assert.equal(upgradeAuthorizedKeys(), 1);
    assert.equal(readFileSync(file, 'utf8'), `${user}\nrestrict,command="meshvpc remote caller=host1" ssh-ed25519 ${KEY} meshvpc:host1\n# a comment\n`);
    assert.equal(upgradeAuthorizedKeys(), 0, 'idempotent');
    assert.equal(authorizedBlob('host1'), KEY);
    assert.equal(authorizedBlob('host9'), null);
    authorize(`ssh-ed25519 ${KEY}`, 'host9');
    assert.match(readFileSync(file, 'utf8'), /caller=host9" ssh-ed25519 \S+ meshvpc:host9\n$/);
  });
});

test('who is calling: bound by sshd, an old unbound entry, or a root login', () => {
  const caller = (argv: string[], env: NodeJS.ProcessEnv): ReturnType<typeof callerOf> => callerOf(parseArgs(argv).params.get('caller'), env.SSH_ORIGINAL_COMMAND);
  assert.deepEqual(caller(['remote', 'caller=host1'], { SSH_ORIGINAL_COMMAND: 'meshvpc remote' }), { kind: 'member', node: 'host1' });
  assert.deepEqual(caller(['remote'], { SSH_ORIGINAL_COMMAND: 'meshvpc remote' }), { kind: 'legacy' });
  assert.deepEqual(caller(['remote'], {}), { kind: 'root' });
  assert.throws(() => caller(['remote', 'caller=a;b'], {}), /invalid caller/);
});

test('every generated cluster key is usable (ssh2 alone makes an unusable one about once in 256)', () => {
  for (let i = 0; i < 3000; i++) {
    const pair = generateClusterKey('t');
    assert.ok(usableKey(pair.private, pair.public), pair.public);
    assert.equal(Buffer.from(pair.public.split(' ')[1] ?? '', 'base64').length, 51);
  }
});

test('an unusable key left by 0.1 is replaced at initenv; a usable one is kept', () => {
  const home = mkdtempSync(join(tmpdir(), 'mvid-'));
  try {
    // What ssh2 made for some 0.1 hosts: a 31-byte public key and a private key that does not parse.
    writeFileSync(join(home, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    writeFileSync(join(home, 'id_ed25519.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH6iOk0TsowzqnoKqPq52Xu4gO8aqAwsus1GWU3WWI5E= meshvpc@host1\n');
    const first = ensureIdentity(home, 'meshvpc@host1');
    assert.equal(first.replaced, true);
    assert.ok(usableKey(readFileSync(join(home, 'id_ed25519'), 'utf8'), first.publicKey));
    const again = ensureIdentity(home, 'meshvpc@host1');
    assert.deepEqual(again, { created: false, replaced: false, publicKey: first.publicKey });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
