/**
 * `meshvpc cluster`: the cluster's control plane. With no configuration a
 * cluster is the embedded default (SQLite per host, changes pushed over
 * SSH). `cluster mode=init backend=etcd etcd_members=...` makes a CA and the
 * certificates, hands every host its credentials over the SSH remote channel
 * (`etcd_join`), and records the configuration; `endpoints=` uses an etcd
 * that exists already. `cluster mode=show` reports the backend, the members
 * and each member's health. See docs/etcd.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shown, UserError } from '../core/errors.js';
import { requireBound, type Caller } from '../core/authority.js';
import type { NodeRecord } from '../core/types.js';
import { atomically } from '../store/tx.js';
import * as repo from '../store/repo.js';
import { getClusterConfig, putClusterConfig, type ClusterConfig } from '../store/cluster-config.js';
import { etcdArgv, etcdDataDir, joiningMarker, memberAddresses, memberAt, type EtcdMember } from '../cluster/etcd-member.js';
import { caStateDir, initCaState, recordMemberCerts, verifyCrl, issue, makeCa, pkiPaths, removeCredentials, storeCredentials, storedCa, privateDir, type CertPair } from '../cluster/pki.js';
import { EtcdClient, memberHealth } from '../store/etcd/client.js';
import { fanout } from '../cluster/fanout.js';
import type { EtcdForgetRequest, EtcdJoinRequest } from '../cluster/protocol.js';
import { systemExecutor, type Executor } from '../platform/exec.js';
import type { Host } from './host.js';
import type { NodeSaid } from './store-nodes.js';

/** etcd wants an odd number of members; more than 7 only slows its writes. */
export const MEMBER_COUNTS = [1, 3, 5, 7];

export interface InitInput {
  readonly backend: 'etcd';
  readonly etcd_members?: readonly string[];
  readonly endpoints?: readonly string[];
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly concurrency: number;
}

export interface HostHandOut {
  readonly node: string;
  readonly role: 'member' | 'client';
  readonly ok: boolean;
  readonly error: string | null;
}

export interface InitResult {
  readonly backend: 'etcd';
  readonly managed: boolean;
  readonly members: readonly { readonly name: string; readonly client_urls: readonly string[] }[];
  readonly hosts: readonly HostHandOut[];
  /** Every host got its credentials. */
  readonly ok: boolean;
  /** How to start the members (managed only). */
  readonly next: string | null;
}

export interface MemberHealth {
  readonly name: string;
  readonly client_urls: readonly string[];
  readonly healthy: boolean;
  readonly leader: boolean;
  readonly version: string | null;
  readonly error: string | null;
}

export interface ShowResult {
  readonly backend: 'embedded' | 'etcd';
  readonly managed: boolean | null;
  readonly members: readonly MemberHealth[];
  /** Every member answered with a leader (true when there are none: embedded). */
  readonly healthy: boolean;
  /**
   * The cluster's hosts as each one's agent describes itself in the store
   * (addresses, platform, meshvpc version; only its own signed word), by
   * name; empty on the embedded backend or when the store does not answer.
   */
  readonly hosts: readonly NodeSaid[];
}

/** A member named by this host's name or address, or a known node's. */
interface Target {
  readonly name: string;
  readonly addresses: string[];
  /** null: this host. */
  readonly node: NodeRecord | null;
}

export function resolveTarget(host: Host, ref: string): Target {
  const self = host.self;
  if (ref === self.nodename || ref === self.ip4 || ref === self.ip6) return { name: self.nodename, addresses: [self.ip4, self.ip6].filter((a): a is string => a !== null), node: null };
  const n = repo.findNode(host.db, ref);
  if (!n) throw new UserError(`invalid etcd_members ${shown(ref)}: not this host (${self.nodename}) nor a known node (meshvpc node mode=list); add it with meshvpc node mode=add first`, 'not_found');
  return { name: n.name, addresses: [n.ip4, n.ip6].filter((a): a is string => a !== null), node: n };
}

/**
 * An etcd data directory left by a cluster this host no longer records: etcd
 * would start from it (another cluster id) and ignore the new member list.
 */
export function refuseStaleData(home: string, who: string): void {
  const dir = etcdDataDir(home);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UserError(`refused: ${who} has etcd data from another cluster in ${dir}; stop that etcd and move the directory away first`, 'conflict');
  }
}

/** Everything init checks before it makes or sends anything. */
function checkInit(host: Host, input: InitInput): { managed: true; members: Target[] } | { managed: false; endpoints: string[]; files: { ca: string; cert: string; key: string } } {
  const existing = getClusterConfig(host.db);
  if (existing) {
    throw new UserError(`this host already has the ${existing.backend} backend (${existing.members.map((m) => m.name).join(', ')}; meshvpc cluster mode=show); a cluster is initialised once`, 'conflict');
  }
  const hasMembers = input.etcd_members !== undefined;
  const hasEndpoints = input.endpoints !== undefined;
  if (hasMembers === hasEndpoints) throw new UserError('backend=etcd needs either etcd_members=NODE,NODE,NODE (meshvpc runs etcd on them) or endpoints=https://ADDR:2379,... with ca=, cert= and key= (an etcd you run)');
  if (hasEndpoints) {
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => input[k] === undefined);
    if (missing.length > 0) throw new UserError(`endpoints= needs ${missing.map((k) => `${k}=FILE`).join(', ')}: the CA that signed the etcd servers' certificates, and this host's client certificate and key (PEM)`);
    const files = { ca: input.ca as string, cert: input.cert as string, key: input.key as string };
    for (const [k, path] of Object.entries(files)) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw new UserError(`cannot read ${k}=${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const want = k === 'key' ? /-----BEGIN (EC |RSA |)PRIVATE KEY-----/ : /-----BEGIN CERTIFICATE-----/;
      if (!want.test(text)) throw new UserError(`invalid ${k}=${path}: not a PEM ${k === 'key' ? 'private key' : 'certificate'}`);
    }
    const endpoints = [...new Set(input.endpoints)];
    if (endpoints.length !== input.endpoints?.length) throw new UserError('invalid endpoints: an endpoint is named twice');
    return { managed: false, endpoints, files };
  }
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (input[k] !== undefined) throw new UserError(`${k}= goes with endpoints= (an existing etcd); with etcd_members= meshvpc makes the CA and certificates itself`);
  }
  const refs = input.etcd_members as readonly string[];
  if (!MEMBER_COUNTS.includes(refs.length)) throw new UserError(`invalid etcd_members ${shown(refs.join(','))}: ${refs.length} members; use ${MEMBER_COUNTS.join(', ')} (an odd number keeps a majority when one fails)`);
  const members = refs.map((r) => resolveTarget(host, r));
  const names = members.map((m) => m.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UserError(`invalid etcd_members ${shown(refs.join(','))}: ${twice} is named twice`);
  for (const m of members) if (m.addresses.length === 0) throw new UserError(`etcd member ${m.name} has no underlay address: run meshvpc initenv with nodeip= or nodeip6= on it`);
  if (members.some((m) => m.node === null)) refuseStaleData(host.home, host.self.nodename);
  return { managed: true, members };
}

const fileConfig = (home: string, managed: boolean, token: string | null, members: readonly EtcdMember[]): ClusterConfig => {
  const p = pkiPaths(home);
  return { backend: 'etcd', managed, clusterToken: token, caFile: p.caCert, certFile: p.clientCert, keyFile: p.clientKey, members };
};

/**
 * `cluster mode=init backend=etcd`. Nothing is stored anywhere until every
 * value is checked; with etcd_members= this host keeps the configuration only
 * when every member got its certificates (otherwise the hosts that did are
 * asked to forget them again).
 */
export async function init(host: Host, input: InitInput, exec: Executor = systemExecutor): Promise<InitResult> {
  const plan = checkInit(host, input);
  if (!plan.managed) {
    const members = plan.endpoints.map((e): EtcdMember => ({ name: new URL(e).hostname.replace(/^\[|\]$/g, ''), clientUrls: [e], peerUrls: [] }));
    const config: ClusterConfig = { backend: 'etcd', managed: false, clusterToken: null, caFile: plan.files.ca, certFile: plan.files.cert, keyFile: plan.files.key, members };
    atomically(host.db, () => putClusterConfig(host.db, config));
    return { backend: 'etcd', managed: false, members: members.map((m) => ({ name: m.name, client_urls: m.clientUrls })), hosts: [{ node: host.self.nodename, role: 'client', ok: true, error: null }], ok: true, next: null };
  }
  const members = plan.members.map((t) => memberAt(t.name, t.addresses));
  const token = `meshvpc-${randomBytes(6).toString('hex')}`;
  const ca = await makeCa(exec, token);
  const memberCerts = new Map<string, { server: CertPair; peer: CertPair }>();
  for (const m of members) {
    const addresses = memberAddresses(m);
    memberCerts.set(m.name, { server: await issue(exec, ca, 'server', { name: m.name, addresses }), peer: await issue(exec, ca, 'peer', { name: m.name, addresses }) });
  }
  const nodes = repo.listNodes(host.db);
  const everyone = [host.self.nodename, ...nodes.map((n) => n.name)];
  const clients = new Map<string, CertPair>();
  for (const name of everyone) clients.set(name, await issue(exec, ca, 'client', { name }));
  // The CA's openssl state (the issued client certificates, by name) stays here beside its key;
  // the first CRL is empty, and every member starts etcd with it.
  let crl: string;
  try {
    crl = await initCaState(exec, host.home, ca, clients);
    for (const [name, certs] of memberCerts) recordMemberCerts(host.home, name, certs);
  } catch (e) {
    rmSync(caStateDir(host.home), { recursive: true, force: true });
    throw e;
  }
  const config = { clusterToken: token, members };
  const isMember = (name: string): boolean => members.some((m) => m.name === name);

  const { Peers } = await import('../cluster/peers.js');
  const peers = new Peers(host.home);
  let outcomes: Awaited<ReturnType<typeof fanout<unknown>>>;
  try {
    outcomes = await fanout(nodes.map((n) => n.name), input.concurrency, async (name) => {
      const node = nodes.find((n) => n.name === name) as NodeRecord;
      const certs = memberCerts.get(name);
      const req: EtcdJoinRequest = { op: 'etcd_join', ca: ca.cert, client: clients.get(name) as CertPair, ...(certs ? { server: certs.server, peer: certs.peer } : {}), config, crl };
      return peers.call(node, req);
    });
    const failedMember = outcomes.find((o) => !o.ok && isMember(o.key));
    if (failedMember && !failedMember.ok) {
      // Undo on the hosts that took it: a member short of its certificates means no cluster.
      const took = outcomes.filter((o) => o.ok).map((o) => nodes.find((n) => n.name === o.key) as NodeRecord);
      const forget: EtcdForgetRequest = { op: 'etcd_forget', ca: ca.cert };
      await fanout(took.map((n) => n.name), input.concurrency, (name) => peers.call(nodes.find((n) => n.name === name) as NodeRecord, forget));
      throw new UserError(`etcd member ${failedMember.key} did not take its certificates: ${failedMember.error}; nothing was kept`, failedMember.kind ?? 'failed');
    }
  } catch (e) {
    rmSync(caStateDir(host.home), { recursive: true, force: true });
    throw e;
  } finally {
    peers.close();
  }
  const mine = memberCerts.get(host.self.nodename);
  storeCredentials(host.home, { ca: ca.cert, caKey: ca.key, client: clients.get(host.self.nodename) as CertPair, ...(mine ? mine : {}), crl, caHolder: host.self.nodename });
  atomically(host.db, () => putClusterConfig(host.db, fileConfig(host.home, true, token, members)));
  const hosts: HostHandOut[] = [
    { node: host.self.nodename, role: isMember(host.self.nodename) ? 'member' : 'client', ok: true, error: null },
    ...outcomes.map((o): HostHandOut => ({ node: o.key, role: isMember(o.key) ? 'member' : 'client', ok: o.ok, error: o.ok ? null : o.error })),
  ];
  return {
    backend: 'etcd',
    managed: true,
    members: members.map((m) => ({ name: m.name, client_urls: m.clientUrls })),
    hosts,
    ok: hosts.every((h) => h.ok),
    next: `start each member's etcd: meshvpc etcd mode=run (in the foreground) or meshvpc etcd mode=install (systemd) on ${members.map((m) => m.name).join(', ')}`,
  };
}

/** A peer's `etcd_join` here: check it, keep the credentials and the configuration. */
export async function joinHere(host: Host, caller: Caller, req: EtcdJoinRequest, exec: Executor = systemExecutor): Promise<{ node: string; member: boolean }> {
  requireBound(caller, 'etcd_join');
  if (caller.kind === 'member' && !repo.getNode(host.db, caller.node)) throw new UserError(`refused: ${caller.node} is not a known node here`);
  const self = host.self;
  const me = req.config.members.find((m) => m.name === self.nodename);
  if (me) {
    if (!req.server || !req.peer) throw new UserError(`refused: ${self.nodename} is an etcd member but was sent no server and peer certificates`);
    const mine = [self.ip4, self.ip6].filter((a): a is string => a !== null);
    const foreign = memberAddresses(me).find((a) => !mine.includes(a));
    if (foreign) throw new UserError(`refused: the etcd member ${self.nodename} would listen on ${foreign}, which is not this host's address`);
  } else if (req.server || req.peer) {
    throw new UserError(`refused: ${self.nodename} is not an etcd member but was sent member certificates`);
  }
  const existing = getClusterConfig(host.db);
  const ca = storedCa(host.home);
  if (me && (!existing || ca !== req.ca)) refuseStaleData(host.home, self.nodename);
  if (existing && ca !== req.ca) throw new UserError(`refused: ${self.nodename} already belongs to another etcd cluster (${existing.members.map((m) => m.name).join(', ')})`, 'conflict');
  // A CRL is checked against the CA it comes with (signed by it) before it is kept.
  if (req.crl) await verifyCrl(exec, req.ca, req.crl, null);
  storeCredentials(host.home, {
    ca: req.ca,
    client: req.client,
    ...(req.server && req.peer ? { server: req.server, peer: req.peer } : {}),
    ...(me && req.crl ? { crl: req.crl } : {}),
    ...(caller.kind === 'member' ? { caHolder: caller.node } : {}),
  });
  atomically(host.db, () => putClusterConfig(host.db, fileConfig(host.home, true, req.config.clusterToken, req.config.members)));
  // A cluster made by init starts new: no member of it joins a running one.
  rmSync(joiningMarker(host.home), { force: true });
  return { node: self.nodename, member: me !== undefined };
}

/** A peer's `etcd_forget` here (an init that could not finish): only for the cluster whose CA it names. */
export function forgetHere(host: Host, caller: Caller, req: EtcdForgetRequest): { node: string; forgot: boolean } {
  requireBound(caller, 'etcd_forget');
  if (storedCa(host.home) !== req.ca) return { node: host.self.nodename, forgot: false };
  atomically(host.db, () => {
    host.db.prepare('DELETE FROM etcd_member').run();
    host.db.prepare('DELETE FROM cluster_config').run();
  });
  removeCredentials(host.home);
  rmSync(joiningMarker(host.home), { force: true });
  return { node: host.self.nodename, forgot: true };
}

/** A client for the configured etcd, with this host's credentials. */
/** A client of the cluster's etcd; with `node`, what it writes is signed as that host's. */
export function clientFor(config: ClusterConfig, timeoutMs = 3000, node?: string): EtcdClient {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new UserError(`cannot read the etcd ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'storage');
    }
  };
  return new EtcdClient({ endpoints: config.members.flatMap((m) => m.clientUrls), tls: { ca: read(config.caFile, 'CA'), cert: read(config.certFile, 'client certificate'), key: read(config.keyFile, 'client key') }, timeoutMs, ...(node === undefined ? {} : { node }) });
}

/** How long show waits for each member (all are asked at once): a busy member is slow, not dead. */
const HEALTH_TIMEOUT_MS = 5000;

/** `cluster mode=show`: the backend, and each member's health asked of that member (TLS, client certificate). */
export async function show(host: Host): Promise<ShowResult> {
  const config = getClusterConfig(host.db);
  if (!config) return { backend: 'embedded', managed: null, members: [], healthy: true, hosts: [] };
  const client = clientFor(config, HEALTH_TIMEOUT_MS);
  try {
    const members = await Promise.all(
      config.members.map(async (m): Promise<MemberHealth> => {
        let last: Awaited<ReturnType<typeof memberHealth>> | null = null;
        for (const url of m.clientUrls) {
          last = await memberHealth(client, url, HEALTH_TIMEOUT_MS);
          if (last.healthy) break;
        }
        if (!last) return { name: m.name, client_urls: m.clientUrls, healthy: false, leader: false, version: null, error: 'no client URL' };
        return { name: m.name, client_urls: m.clientUrls, healthy: last.healthy, leader: last.isLeader, version: last.version, error: last.error };
      }),
    );
    const { nodesIn } = await import('./store-nodes.js');
    const { NODE_PREFIX } = await import('../store/etcd/layout.js');
    const said = await client.range(NODE_PREFIX, { prefix: true }).then((r) => [...nodesIn(client, r.kvs).values()], () => []);
    return { backend: 'etcd', managed: config.managed, members, healthy: members.every((m) => m.healthy), hosts: said.sort((a, b) => (a.node < b.node ? -1 : 1)) };
  } finally {
    client.close();
  }
}

/** The etcd command line for this host's member (`etcd mode=run`), with its data directory ready. */
export function memberArgv(host: Host): string[] {
  const config = getClusterConfig(host.db);
  if (!config) throw new UserError('no etcd cluster is configured on this host: run meshvpc cluster mode=init backend=etcd etcd_members=... first', 'not_found');
  if (!config.managed) throw new UserError('this host uses an etcd that meshvpc does not run (cluster mode=init endpoints=...): there is no member to run here', 'conflict');
  const self = config.members.find((m) => m.name === host.self.nodename);
  if (!self || config.clusterToken === null) throw new UserError(`${host.self.nodename} is not an etcd member (members: ${config.members.map((m) => m.name).join(', ')})`, 'not_found');
  const p = pkiPaths(host.home);
  for (const f of [p.caCert, p.serverCert, p.serverKey, p.peerCert, p.peerKey]) {
    if (!existsSync(f)) throw new UserError(`the etcd member's credentials are incomplete: ${f} is missing (run cluster mode=init again from the host that made the cluster)`, 'storage');
  }
  privateDir(join(host.home, 'etcd'));
  mkdirSync(etcdDataDir(host.home), { recursive: true, mode: 0o700 });
  // A cluster made before revocation existed has no CRL: its members start without one.
  // A member added to a running cluster (cluster mode=add_member) joins it rather than making one.
  const state = existsSync(joiningMarker(host.home)) ? 'existing' : 'new';
  return etcdArgv({ home: host.home, self, members: config.members, clusterToken: config.clusterToken, crl: existsSync(p.crl), state });
}
