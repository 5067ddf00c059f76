/**
 * Revocation with real openssl: the CA's state at init gives an empty CRL;
 * revoking a host puts its client certificate's serial in the next one; a
 * member takes a CRL only from its own CA and never an older one; the wire
 * checks etcd_crl; a host without the CA key (or removing an etcd member)
 * refuses before anything changes; and a real etcd 3.4 started with the CRL
 * accepts clients, then refuses the revoked certificate on a new connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putClusterConfig } from '../../src/store/cluster-config.js';
import { atomically } from '../../src/store/tx.js';
import type { Host } from '../../src/app/host.js';
import { withHost } from './host-fixture.js';
import { caStateDir, crlSerials, initCaState, issue, issuedSerial, makeCa, pkiPaths, revokeClient, storeCredentials, verifyCrl, type CertPair } from '../../src/cluster/pki.js';
import { etcdArgv, memberAt } from '../../src/cluster/etcd-member.js';
import { requestFromWire } from '../../src/cluster/wire.js';
import { crlHere, planRevocation, revokeAndPush } from '../../src/app/cluster-revoke.js';
import { EtcdClient } from '../../src/store/etcd/client.js';
import { systemExecutor as exec } from '../../src/platform/exec.js';
import { UserError } from '../../src/core/errors.js';
import { freePort } from './etcd-fixture.js';

const serialOf = async (home: string, c: CertPair): Promise<string> => {
  const path = join(home, 'x.crt');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, c.cert);
  const out = (await exec.run(['openssl', 'x509', '-in', path, '-noout', '-serial'])).stdout;
  rmSync(path);
  return out.trim().replace('serial=', '');
};

/** A CA and its openssl state in `home`, client certificates for h1..h4. */
async function caHere(home: string): Promise<{ ca: CertPair; clients: Map<string, CertPair>; crl: string }> {
  const ca = await makeCa(exec, 'unit');
  const clients = new Map<string, CertPair>();
  for (const n of ['h1', 'h2', 'h3', 'h4']) clients.set(n, await issue(exec, ca, 'client', { name: n }));
  const crl = await initCaState(exec, home, ca, clients);
  return { ca, clients, crl };
}

test('the CA state at init: an empty CRL; revoking h4 lists its serial (once), and nobody else\'s', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mv-revoke-pki-'));
  try {
    const { ca, clients, crl } = await caHere(home);
    assert.deepEqual(await crlSerials(exec, crl), []);
    assert.equal(statSync(caStateDir(home)).mode & 0o777, 0o700);
    assert.equal(statSync(join(caStateDir(home), 'index.txt')).mode & 0o777, 0o600);
    const h4 = await serialOf(home, clients.get('h4') as CertPair);
    assert.equal(await issuedSerial(exec, home, 'h4'), h4);
    assert.equal(await issuedSerial(exec, home, 'h9'), null);
    const r = await revokeClient(exec, home, ca, 'h4');
    assert.equal(r.serial, h4);
    assert.deepEqual(await crlSerials(exec, r.crl), [h4]);
    // Signed by the CA, and newer than the first.
    assert.ok((await verifyCrl(exec, ca.cert, r.crl, crl)) > (await verifyCrl(exec, ca.cert, crl, null)));
    // Again: not revoked twice, still listed once; then h3 too.
    assert.deepEqual(await crlSerials(exec, (await revokeClient(exec, home, ca, 'h4')).crl), [h4]);
    const h3 = await serialOf(home, clients.get('h3') as CertPair);
    assert.deepEqual((await crlSerials(exec, (await revokeClient(exec, home, ca, 'h3')).crl)).sort(), [h3, h4].sort());
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a CRL of another CA, or an older one, is refused', async () => {
  const a = mkdtempSync(join(tmpdir(), 'mv-revoke-a-'));
  const b = mkdtempSync(join(tmpdir(), 'mv-revoke-b-'));
  try {
    const mine = await caHere(a);
    const other = await caHere(b);
    await assert.rejects(verifyCrl(exec, mine.ca.cert, other.crl, null), (e: UserError) => e.kind === 'conflict' && /not signed by this cluster's CA/.test(e.message));
    const newer = (await revokeClient(exec, a, mine.ca, 'h4')).crl;
    await assert.rejects(verifyCrl(exec, mine.ca.cert, mine.crl, newer), /older \(number 4096\) than the one this host has \(4097\)/);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('etcd_crl from the wire: one PEM CRL and one PEM certificate, nothing else', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mv-revoke-wire-'));
  try {
    const { ca, crl } = await caHere(home);
    const req = { op: 'etcd_crl', ca: ca.cert, crl };
    assert.deepEqual(requestFromWire(JSON.stringify(req)), req);
    assert.throws(() => requestFromWire(JSON.stringify({ ...req, crl: `${crl}${crl}` })), /crl is not one PEM CRL/);
    assert.throws(() => requestFromWire(JSON.stringify({ ...req, crl: ca.cert })), /crl is not one PEM CRL/);
    assert.throws(() => requestFromWire(JSON.stringify({ ...req, crl: crl.replace('-----\n', '-----\n$(x)') })), /crl is not one PEM CRL/);
    assert.throws(() => requestFromWire(JSON.stringify({ op: 'etcd_crl', ca: ca.cert })), /crl is not a string/);
    assert.throws(() => requestFromWire(JSON.stringify({ ...req, ca: crl })), /ca is not one PEM certificate/);
    // etcd_join carries the first CRL, checked the same way.
    const client = await issue(exec, ca, 'client', { name: 'h2' });
    const join1 = { op: 'etcd_join', ca: ca.cert, client, config: { clusterToken: 'meshvpc-0123456789ab', members: [memberAt('h1', ['192.0.2.1'])] }, crl };
    assert.deepEqual(requestFromWire(JSON.stringify(join1)), join1);
    assert.throws(() => requestFromWire(JSON.stringify({ ...join1, crl: 'x' })), /crl is not one PEM CRL/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

/** h2 as a member of a 3-member cluster of `ca`, with its first CRL. */
function memberHost(h: Host, ca: CertPair, client: CertPair, crl: string): void {
  storeCredentials(h.home, { ca: ca.cert, client, server: client, peer: client, crl, caHolder: 'h1' });
  const p = pkiPaths(h.home);
  atomically(h.db, () => {
    putClusterConfig(h.db, { backend: 'etcd', managed: true, clusterToken: 'meshvpc-0123456789ab', caFile: p.caCert, certFile: p.clientCert, keyFile: p.clientKey, members: [memberAt('h1', ['192.0.2.1']), memberAt('h2', ['192.0.2.2']), memberAt('h3', ['192.0.2.3'])] });
    h.db.prepare("INSERT INTO node (name, ssh_address, ssh_port, ssh_user, ip4, ip6, host_key, platform) VALUES ('h1', '192.0.2.1', 22, 'root', '192.0.2.1', NULL, 'AAAA', 'linux')").run();
  });
}

test('etcd_crl here: only from a known node, for this CA, signed by it and newer; the file is replaced atomically', async () => {
  const caHome = mkdtempSync(join(tmpdir(), 'mv-revoke-ca-'));
  const otherHome = mkdtempSync(join(tmpdir(), 'mv-revoke-other-'));
  try {
    const { ca, clients, crl } = await caHere(caHome);
    const other = await caHere(otherHome);
    await withHost(async (h) => {
      memberHost(h, ca, clients.get('h2') as CertPair, crl);
      const path = pkiPaths(h.home).crl;
      const caller = { kind: 'member', node: 'h1' } as const;
      const revoked = (await revokeClient(exec, caHome, ca, 'h4')).crl;
      await assert.rejects(crlHere(h, { kind: 'member', node: 'h9' }, { op: 'etcd_crl', ca: ca.cert, crl: revoked }), /h9 is not a known node here/);
      await assert.rejects(crlHere(h, { kind: 'legacy' }, { op: 'etcd_crl', ca: ca.cert, crl: revoked }), /needs a cluster key bound/);
      await assert.rejects(crlHere(h, caller, { op: 'etcd_crl', ca: other.ca.cert, crl: other.crl }), /the CRL is for another etcd cluster/);
      // The CA it names is ours, but the CRL is signed by another: refused, the file unchanged.
      await assert.rejects(crlHere(h, caller, { op: 'etcd_crl', ca: ca.cert, crl: other.crl }), /not signed by this cluster's CA/);
      assert.equal(readFileSync(path, 'utf8'), crl);
      // No etcd mode=run here: the file is replaced and etcd reads it when it starts.
      assert.deepEqual(await crlHere(h, caller, { op: 'etcd_crl', ca: ca.cert, crl: revoked }), { node: 'h2', crl_number: '4097', etcd: 'not running' });
      assert.equal(readFileSync(path, 'utf8'), revoked);
      assert.equal(statSync(path).mode & 0o777, 0o644);
      // The first (empty) CRL again would un-revoke h4: refused.
      await assert.rejects(crlHere(h, caller, { op: 'etcd_crl', ca: ca.cert, crl }), /older/);
      assert.equal(readFileSync(path, 'utf8'), revoked);
      // With etcd_join's CRL, memberArgv starts etcd with it for clients and peers.
      const argv = etcdArgv({ home: h.home, self: memberAt('h2', ['192.0.2.2']), members: [memberAt('h2', ['192.0.2.2'])], clusterToken: 'meshvpc-0123456789ab', crl: true });
      assert.deepEqual(argv.slice(argv.indexOf('--client-crl-file'), argv.indexOf('--client-crl-file') + 4), ['--client-crl-file', path, '--peer-crl-file', path]);
    }, 'h2', '192.0.2.2');
  } finally {
    rmSync(caHome, { recursive: true, force: true });
    rmSync(otherHome, { recursive: true, force: true });
  }
});

test('node mode=remove: a host without the CA key, or removing an etcd member, is refused before anything changes', async () => {
  const caHome = mkdtempSync(join(tmpdir(), 'mv-revoke-ca-'));
  try {
    const { ca, clients, crl } = await caHere(caHome);
    await withHost(async (h) => {
      // Embedded: nothing to revoke.
      assert.deepEqual(planRevocation(h, 'h4'), { kind: 'none' });
      assert.equal(await revokeAndPush(h, 'h4', { kind: 'none' }), null);
      memberHost(h, ca, clients.get('h2') as CertPair, crl);
      assert.throws(() => planRevocation(h, 'h4'), (e: UserError) => e.kind === 'conflict' && e.message === "refused: h2 does not hold the etcd cluster's CA key, so it cannot revoke h4's certificate; run node mode=remove node=h4 on h1, which holds it; nothing was changed");
      assert.throws(() => planRevocation(h, 'h3'), /refused: h3 is an etcd member \(h1, h2, h3\)/);
      assert.equal(existsSync(caStateDir(h.home)), false);
    }, 'h2', '192.0.2.2');
  } finally {
    rmSync(caHome, { recursive: true, force: true });
  }
});

test('etcd 3.4 with the CRL: an empty one is accepted; after a revocation a new connection with that certificate is refused, others go on', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mv-revoke-etcd-'));
  let proc: ReturnType<typeof spawn> | null = null;
  try {
    const { ca, clients, crl } = await caHere(home);
    const member = memberAt('m1', ['127.0.0.1'], { client: await freePort(), peer: await freePort() });
    const server = await issue(exec, ca, 'server', { name: 'm1', addresses: ['127.0.0.1'] });
    const peer = await issue(exec, ca, 'peer', { name: 'm1', addresses: ['127.0.0.1'] });
    storeCredentials(home, { ca: ca.cert, caKey: ca.key, client: clients.get('h1') as CertPair, server, peer, crl });
    const [cmd, ...args] = etcdArgv({ home, self: member, members: [member], clusterToken: 'test', crl: true });
    const log = openSync(join(home, 'etcd.log'), 'a');
    proc = spawn(cmd as string, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const endpoint = member.clientUrls[0] as string;
    const as = (n: string): EtcdClient => new EtcdClient({ endpoints: [endpoint], tls: { ca: ca.cert, cert: (clients.get(n) as CertPair).cert, key: (clients.get(n) as CertPair).key }, timeoutMs: 3000 });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      const c = as('h1');
      try {
        const s = await c.status(endpoint, 1000);
        up = s.leader !== '' && s.leader !== '0';
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        c.close();
      }
    }
    assert.ok(up, `etcd did not start with the empty CRL: ${readFileSync(join(home, 'etcd.log'), 'utf8').slice(-1500)}`);
    const h4 = as('h4');
    await h4.put('/t/a', '1');
    h4.close();
    // Revoke h4 and replace the file: no restart needed for new connections.
    const { crl: revoked } = await revokeClient(exec, home, ca, 'h4');
    storeCredentials(home, { ca: ca.cert, client: clients.get('h1') as CertPair, crl: revoked });
    const again = as('h4');
    await assert.rejects(again.get('/t/a'), (e: Error) => /unreachable|certificate|socket|ECONNRESET|TLS/i.test(e.message));
    again.close();
    const h2 = as('h2');
    assert.equal((await h2.get('/t/a'))?.value, '1');
    h2.close();
    assert.match(readFileSync(join(home, 'etcd.log'), 'utf8'), /revoked/);
  } finally {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    rmSync(home, { recursive: true, force: true });
  }
});
