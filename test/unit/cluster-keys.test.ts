/** Cluster key entries bind each key to its node; entries from meshvpc 0.1 are upgraded in place. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorize, authorizedBlob, authorizedKeyLine, upgradeAuthorizedKeys } from '../../src/cluster/keys.js';
import { callerOf } from '../../src/commands/remote.js';
import { parseArgs } from '../../src/cli/args.js';

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
  assert.deepEqual(callerOf(parseArgs(['remote', 'caller=host1']), { SSH_ORIGINAL_COMMAND: 'meshvpc remote' }), { kind: 'member', node: 'host1' });
  assert.deepEqual(callerOf(parseArgs(['remote']), { SSH_ORIGINAL_COMMAND: 'meshvpc remote' }), { kind: 'legacy' });
  assert.deepEqual(callerOf(parseArgs(['remote']), {}), { kind: 'root' });
  assert.throws(() => callerOf(parseArgs(['remote', 'caller=a;b']), {}), /invalid caller/);
});
