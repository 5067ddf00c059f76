/**
 * `meshvpc token` and `meshvpc server mode=install` through the built CLI
 * with a state directory of their own: a token is shown once and stored only
 * as a hash, bad names and roles are refused with exit 2 and no change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cli, withTemp } from './cli-helpers.js';

const rows = (home: string): unknown[] => {
  const db = new Database(join(home, 'meshvpc.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM api_token ORDER BY name').all();
  } finally {
    db.close();
  }
};

test('tokens: created once, listed without the secret, revoked; bad input refused with no change', () => {
  withTemp((home) => {
    assert.equal(cli(home, ['initenv', 'nodename=h1', 'nodeip=192.0.2.1']).code, 0);
    const made = cli(home, ['token', 'mode=create', 'name=ci', 'role=read', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const t = JSON.parse(made.stdout) as { name: string; role: string; token: string };
    assert.deepEqual([t.name, t.role], ['ci', 'read']);
    assert.match(t.token, /^mvpc_[A-Za-z0-9_-]{43}$/);
    const plain = cli(home, ['token', 'mode=create', 'name=admin']);
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /^mvpc_\S+\n$/);
    assert.match(plain.stderr, /token admin \(admin\) created; it is shown only this once/);

    // Only hashes are stored; the listing never shows a token.
    const stored = JSON.stringify(rows(home));
    assert.ok(!stored.includes(t.token) && !stored.includes(plain.stdout.trim()), 'a token was stored in clear');
    const list = cli(home, ['token', 'mode=list', '--json']);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string; role: string }[]).map((r) => [r.name, r.role]), [['admin', 'admin'], ['ci', 'read']]);
    assert.ok(!list.stdout.includes('mvpc_'));

    const before = JSON.stringify(rows(home));
    const refused: [string[], RegExp][] = [
      [['token', 'mode=create', 'name=ci'], /^meshvpc: a token named ci already exists/],
      [['token', 'mode=create', 'name=bad name'], /^meshvpc: invalid name "bad name"/],
      [['token', 'mode=create', 'name=x', 'role=root'], /^meshvpc: invalid role "root": use admin or read/],
      [['token', 'mode=create'], /^meshvpc: missing name=/],
      [['token', 'mode=create', 'name=x', 'dryrun=1'], /^meshvpc: dryrun= does not apply to token mode=create/],
      [['token', 'mode=revoke', 'name=nosuch'], /^meshvpc: no token named nosuch/],
      [['token', 'mode=steal'], /^meshvpc: unknown token mode "steal"; modes: create, list, revoke/],
    ];
    for (const [args, message] of refused) {
      const r = cli(home, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, 'one line');
    }
    assert.equal(JSON.stringify(rows(home)), before);

    assert.equal(cli(home, ['token', 'mode=revoke', 'name=ci']).code, 0);
    assert.deepEqual((JSON.parse(cli(home, ['token', 'mode=list', '--json']).stdout) as { name: string }[]).map((r) => r.name), ['admin']);
  });
});

test('server mode=install dryrun=1 prints the unit; bad listen= and half a certificate are refused', () => {
  withTemp((home) => {
    const unit = cli(home, ['server', 'mode=install', 'listen=[2001:db8::1]:8443', 'dryrun=1']);
    assert.equal(unit.code, 0, unit.stderr);
    assert.match(unit.stdout, /^\[dryrun\] \/etc\/systemd\/system\/meshvpc-server\.service:\n# Written by meshvpc/);
    assert.match(unit.stdout, /^ExecStart=\/usr\/bin\/env meshvpc server listen=\[2001:db8::1\]:8443$/m);
    assert.match(unit.stdout, /^\[dryrun\] systemctl enable --now meshvpc-server\.service$/m);
    for (const [args, message] of [
      [['server', 'listen=localhost:80'], /invalid listen "localhost:80": use ADDR:PORT/],
      [['server', 'listen=[::1]:99999'], /invalid listen "99999": use a whole number from 1 to 65535/],
      [['server', 'listen=2001:db8::1:80'], /invalid listen/],
      [['server', 'cert=/etc/hostname'], /HTTPS needs both cert=FILE and key=FILE/],
      [['server', 'cert=/nonexistent', 'key=/nonexistent'], /cannot read cert=\/nonexistent: ENOENT/],
      [['server', 'mode=walk'], /unknown server mode "walk"/],
      [['server', '--json'], /json= does not apply to server/],
    ] as [string[], RegExp][]) {
      const r = cli(home, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
