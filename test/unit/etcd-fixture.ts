/**
 * A real etcd for tests: one member on 127.0.0.1 with random ports, TLS and
 * client-certificate auth on, its certificates made by meshvpc's own PKI, in
 * a temporary directory that stop() removes (call it in a finally).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, makeCa, storeCredentials, type CertPair } from '../../src/cluster/pki.js';
import { etcdArgv, memberAt, type EtcdMember } from '../../src/cluster/etcd-member.js';
import { EtcdClient, type EtcdTls } from '../../src/store/etcd/client.js';
import { systemExecutor } from '../../src/platform/exec.js';

export interface TestEtcd {
  readonly home: string;
  readonly member: EtcdMember;
  readonly endpoint: string;
  readonly ca: CertPair;
  readonly client: CertPair;
  readonly tls: EtcdTls;
  readonly proc: ChildProcess;
  connect(tls?: EtcdTls): EtcdClient;
  /** A client with a client certificate of its own naming `node` (OU=client, CN=node): it signs as that host. */
  connectAs(node: string): Promise<EtcdClient>;
  /** Kill the member, run `whileDown`, start it again on the same data and wait until it is healthy. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startEtcd(name = 'm1'): Promise<TestEtcd> {
  const home = mkdtempSync(join(tmpdir(), 'mv-etcd-test-'));
  const exec = systemExecutor;
  const ca = await makeCa(exec, 'test');
  const member = memberAt(name, ['127.0.0.1'], { client: await freePort(), peer: await freePort() });
  const server = await issue(exec, ca, 'server', { name, addresses: ['127.0.0.1'] });
  const peer = await issue(exec, ca, 'peer', { name, addresses: ['127.0.0.1'] });
  const client = await issue(exec, ca, 'client', { name: 'tester' });
  storeCredentials(home, { ca: ca.cert, caKey: ca.key, client, server, peer });
  const [cmd, ...args] = etcdArgv({ home, self: member, members: [member], clusterToken: 'test' });
  const launch = (): ChildProcess => {
    const log = openSync(join(home, 'etcd.log'), 'a');
    const child = spawn(cmd as string, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    return child;
  };
  let proc = launch();
  const endpoint = member.clientUrls[0] as string;
  const tls: EtcdTls = { ca: ca.cert, cert: client.cert, key: client.key };
  const clients: EtcdClient[] = [];
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGKILL');
      await gone;
    }
  };
  const stop = async (): Promise<void> => {
    for (const c of clients) c.close();
    await kill();
    rmSync(home, { recursive: true, force: true });
  };
  const connect = (t: EtcdTls = tls): EtcdClient => {
    const c = new EtcdClient({ endpoints: [endpoint], tls: t, timeoutMs: 3000 });
    clients.push(c);
    return c;
  };
  const connectAs = async (node: string): Promise<EtcdClient> => {
    const own = await issue(exec, ca, 'client', { name: node });
    const c = new EtcdClient({ endpoints: [endpoint], tls: { ca: ca.cert, cert: own.cert, key: own.key }, timeoutMs: 3000, node });
    clients.push(c);
    return c;
  };
  const healthy = async (): Promise<void> => {
    const probe = connect();
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`etcd exited: ${readFileSync(join(home, 'etcd.log'), 'utf8').slice(-2000)}`);
      try {
        const s = await probe.status(endpoint, 1000);
        if (s.leader !== '' && s.leader !== '0') break;
      } catch {
        // not yet
      }
      if (i > 100) throw new Error('etcd did not become healthy in 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const restart = async (whileDown?: () => Promise<void>): Promise<void> => {
    await kill();
    await whileDown?.();
    proc = launch();
    await healthy();
  };
  try {
    await healthy();
  } catch (e) {
    await stop();
    throw e;
  }
  return { home, member, endpoint, ca, client, tls, get proc() { return proc; }, connect, connectAs, restart, stop };
}
