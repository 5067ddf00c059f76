/**
 * Joining and trust: first contact by password or by the caller's own key,
 * refused credentials, a changed host key refused until re-pinned, and a
 * cluster key that can run nothing but meshvpc's remote calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execOn } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { mv, ok, sh, shOk, withLab } from './lab-helpers.js';

test('first contact by key, wrong password refused, host key pinned, cluster key restricted', { timeout: 180_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    // host1's administrator has a personal key that host2 accepts: no password needed.
    await shOk(lab, 1, 'ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/root/.ssh/id_ed25519');
    const adminKey = await shOk(lab, 1, 'cat', '/root/.ssh/id_ed25519.pub');
    const add = await systemExecutor.run(
      ['nsenter', '-t', String(lab.hosts[1]?.pid), '-m', '--', 'tee', '-a', '/root/.ssh/authorized_keys'],
      adminKey,
    );
    assert.equal(add.code, 0, add.stderr);
    const byKey = await execOn(lab, 1, ['meshvpc', 'node', 'mode=add', 'node=192.0.2.2']); // no MESHVPC_PASSWORD
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.match(byKey.stdout, /host2: added/);
    // Both sides know each other after one add.
    assert.match(await ok(lab, 2, 'node', 'mode=list'), /host1/);
    // The peer got our cluster key restricted to meshvpc's remote calls.
    const authorized = await shOk(lab, 2, 'cat', '/root/.ssh/authorized_keys');
    assert.match(authorized, /^restrict,command="meshvpc remote caller=host1" ssh-ed25519 \S+ meshvpc:host1$/m);

    // Keys and state are root's alone.
    const modes = await shOk(lab, 1, 'stat', '-c', '%n %a', '/var/db/meshvpc', '/var/db/meshvpc/id_ed25519', '/var/db/meshvpc/meshvpc.sqlite', '/root/.ssh/authorized_keys');
    for (const line of modes.trim().split('\n')) assert.match(line, / (600|700)$/, `mode of ${line}`);
    const wal = await sh(lab, 1, 'stat', '-c', '%a', '/var/db/meshvpc/meshvpc.sqlite-wal');
    if (wal.code === 0) assert.equal(wal.stdout.trim(), '600', 'the WAL too');

    // A wrong password and no key: refused, nothing recorded.
    const wrong = await execOn(lab, 3, ['meshvpc', 'node', 'mode=add', 'node=192.0.2.1'], { MESHVPC_PASSWORD: 'not-the-password' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /cannot reach 192\.0\.2\.1 .*authentication failed/);
    assert.doesNotMatch(await ok(lab, 3, 'node', 'mode=list'), /host1/);

    // The cluster key cannot run a shell command: sshd forces `meshvpc remote`.
    const canary = '/tmp/meshvpc-shell-canary';
    rmSync(canary, { force: true });
    const shell = await sh(lab, 1, 'ssh', '-i', '/var/db/meshvpc/id_ed25519', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@192.0.2.2', `touch ${canary}; echo shell-ran`);
    assert.doesNotMatch(shell.stdout, /shell-ran/);
    assert.match(shell.stdout, /"ok":false,"error":"bad request: not JSON"/);
    assert.equal(existsSync(canary), false, 'the command sent with the cluster key did not run');

    // host2 is reinstalled: new sshd host key (SIGHUP makes sshd re-read it).
    const keyFile = join(lab.hosts[1]?.dir ?? '', 'ssh', 'ssh_host_ed25519_key');
    const oldKey = readFileSync(`${keyFile}.pub`, 'utf8');
    rmSync(keyFile);
    rmSync(`${keyFile}.pub`);
    await systemExecutor.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    assert.notEqual(readFileSync(`${keyFile}.pub`, 'utf8'), oldKey);
    await systemExecutor.run(['kill', '-HUP', String(lab.hosts[1]?.pid)]);
    await new Promise((r) => setTimeout(r, 500));
    await ok(lab, 1, 'vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    const refused = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout, /host2: UNREACHABLE: host key of host2 \(192\.0\.2\.2\) has changed: pinned SHA256:\S+, offered SHA256:\S+; refusing/);
    const again = await mv(lab, 1, 'node', 'mode=add', 'node=192.0.2.2');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /has changed: pinned SHA256:\S+, offered SHA256:\S+/);
    // An explicit re-pin accepts the new key; then the cluster works again.
    assert.match(await ok(lab, 1, 'node', 'mode=repin', 'node=host2'), /host2: host key SHA256:\S+ -> SHA256:\S+/);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1'), /vpc1: 2 of 2 hosts converged/);
  });
});
