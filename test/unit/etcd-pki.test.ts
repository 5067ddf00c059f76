/** The etcd PKI, with the real openssl: chains verify, SANs and CNs are right, keys are private. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, leafExtensions, makeCa, pemCert, pemKey, pkiPaths, storeCredentials } from '../../src/cluster/pki.js';
import { etcdArgv, memberAt } from '../../src/cluster/etcd-member.js';
import { runChecked, systemExecutor } from '../../src/platform/exec.js';
import type { Executor } from '../../src/platform/exec.js';

const exec = systemExecutor;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mv-pki-test-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const text = (dir: string, pem: string): Promise<string> => {
  const f = join(dir, `c${Math.random().toString(16).slice(2)}.pem`);
  writeFileSync(f, pem);
  return runChecked(exec, ['openssl', 'x509', '-in', f, '-noout', '-text']);
};

test('a CA signs member and client certificates that openssl verifies, with the SANs and CN asked for', async () => {
  await withDir(async (dir) => {
    const ca = await makeCa(exec, 'abc123');
    const server = await issue(exec, ca, 'server', { name: 'host1', addresses: ['192.0.2.1', '2001:db8:0:1::1'] });
    const client = await issue(exec, ca, 'client', { name: 'host4' });
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'server.crt'), server.cert);
    writeFileSync(join(dir, 'client.crt'), client.cert);
    const verified = await runChecked(exec, ['openssl', 'verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt'), join(dir, 'client.crt')]);
    assert.match(verified, /server\.crt: OK/);
    assert.match(verified, /client\.crt: OK/);
    const s = await text(dir, server.cert);
    assert.match(s, /Subject: O = meshvpc, OU = server, CN = host1/);
    assert.match(s, /DNS:host1, IP Address:192\.0\.2\.1, IP Address:2001:DB8:0:1:0:0:0:1/);
    assert.match(s, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(s, /CA:FALSE/);
    const c = await text(dir, client.cert);
    assert.match(c, /Subject: O = meshvpc, OU = client, CN = host4/);
    assert.doesNotMatch(c, /Alternative Name/);
    assert.doesNotMatch(c, /Server Authentication/);
    assert.match(await text(dir, ca.cert), /CA:TRUE, pathlen:0/);
    // The private key matches the certificate.
    writeFileSync(join(dir, 'server.key'), server.key);
    const pubCert = await runChecked(exec, ['openssl', 'x509', '-in', join(dir, 'server.crt'), '-noout', '-pubkey']);
    const pubKey = await runChecked(exec, ['openssl', 'pkey', '-in', join(dir, 'server.key'), '-pubout']);
    assert.equal(pubCert, pubKey);
  });
});

test('a certificate from another CA does not verify against this one', async () => {
  await withDir(async (dir) => {
    const ca = await makeCa(exec, 'one');
    const other = await makeCa(exec, 'two');
    const leaf = await issue(exec, other, 'client', { name: 'intruder' });
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'leaf.crt'), leaf.cert);
    const r = await exec.run(['openssl', 'verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')]);
    assert.notEqual(r.code, 0);
  });
});

test('subjects are checked before openssl sees them; openssl runs by argv only', async () => {
  const calls: (readonly string[])[] = [];
  const recording: Executor = { run: async (argv, input) => (calls.push(argv), exec.run(argv, input)) };
  const ca = await makeCa(recording, 'x');
  await assert.rejects(issue(recording, ca, 'client', { name: 'evil/CN=root' }), /invalid name "evil\/CN=root"/);
  await assert.rejects(issue(recording, ca, 'server', { name: 'h1', addresses: ['192.0.2.1,DNS:evil'] }), /invalid address/);
  await assert.rejects(issue(recording, ca, 'server', { name: 'h1' }), /needs at least one address/);
  await assert.rejects(makeCa(recording, 'a b'), /invalid CA id/);
  assert.ok(calls.every((argv) => argv[0] === 'openssl'));
  assert.throws(() => leafExtensions('server', { name: 'h1', addresses: ['not-an-ip'] }), /invalid address/);
});

test('stored credentials: directory 0700, keys 0600; PEM from the wire is checked', async () => {
  await withDir(async (home) => {
    const ca = await makeCa(exec, 'x');
    const client = await issue(exec, ca, 'client', { name: 'h2' });
    storeCredentials(home, { ca: ca.cert, client });
    const at = pkiPaths(home);
    assert.equal(statSync(join(home, 'etcd')).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'etcd', 'pki')).mode & 0o777, 0o700);
    assert.equal(statSync(at.clientKey).mode & 0o777, 0o600);
    assert.equal(statSync(at.clientCert).mode & 0o777, 0o644);
    assert.equal(pemCert(client.cert, 'cert'), client.cert);
    assert.equal(pemKey(client.key, 'key'), client.key);
    assert.throws(() => pemCert(`${client.cert}${client.cert}`, 'cert'), /not one PEM certificate/);
    assert.throws(() => pemCert('-----BEGIN CERTIFICATE-----\n$(reboot)\n-----END CERTIFICATE-----\n', 'cert'), /not one PEM/);
    assert.throws(() => pemKey(client.cert, 'key'), /not one PEM private key/);
  });
});

test('the etcd command line: TLS with client certificates on both sides, every member in the initial cluster', () => {
  const m = [memberAt('host1', ['2001:db8:0:1::1']), memberAt('host2', ['192.0.2.2', '2001:db8:0:1::2']), memberAt('host3', ['192.0.2.3'])];
  const argv = etcdArgv({ home: '/var/db/meshvpc', self: m[1]!, members: m, clusterToken: 'meshvpc-abc' });
  const opt = (k: string): string | undefined => argv[argv.indexOf(k) + 1];
  assert.equal(argv[0], 'etcd');
  for (const flag of ['--client-cert-auth', '--peer-client-cert-auth']) assert.ok(argv.includes(flag), flag);
  assert.equal(opt('--listen-client-urls'), 'https://192.0.2.2:2379,https://[2001:db8:0:1::2]:2379');
  assert.equal(opt('--initial-cluster'), 'host1=https://[2001:db8:0:1::1]:2380,host2=https://192.0.2.2:2380,host2=https://[2001:db8:0:1::2]:2380,host3=https://192.0.2.3:2380');
  assert.equal(opt('--data-dir'), '/var/db/meshvpc/etcd/data');
  assert.equal(opt('--trusted-ca-file'), '/var/db/meshvpc/etcd/pki/ca.crt');
  assert.equal(opt('--peer-key-file'), '/var/db/meshvpc/etcd/pki/peer.key');
  assert.throws(() => etcdArgv({ home: '/x', self: memberAt('other', ['192.0.2.9']), members: m, clusterToken: 't' }), /not one of the etcd members/);
  assert.throws(() => memberAt('host9', []), /no underlay address/);
});
