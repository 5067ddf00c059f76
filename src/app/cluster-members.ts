/**
 * `cluster mode=add_member|remove_member`: the etcd cluster meshvpc runs
 * grows or shrinks by one member, on the host that holds the cluster's CA
 * (it issues the new member's certificates). A member is added only to a
 * healthy cluster, as a learner (no vote, so the quorum does not grow before
 * it runs), and removed only while the members that stay make a healthy
 * quorum.
 *
 * add: etcd is told first (member/add, a learner), then the new member gets
 * its server and peer certificates and the new member list (`etcd_members`),
 * then every other host gets the list (its clients reach the new member
 * too). The new member's `etcd mode=run` then joins the running cluster and
 * promotes itself to a voting member once it is in step with the leader
 * (`promoteWhenReady`). A new member that cannot take its certificates is
 * taken out of etcd again, and told the old list.
 * remove: etcd is told (member/remove; the removed member's etcd stops by
 * itself), then every host gets the list, then the removed member's server
 * and peer certificates are revoked (they also authenticate as clients) and
 * the CRL pushed to the members that stay. The removed host stays a client
 * with its client certificate (node mode=remove revokes that).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { requireBound, type Caller } from '../core/authority.js';
import type { NodeRecord } from '../core/types.js';
import { atomically } from '../store/tx.js';
import { withLock } from '../store/lock.js';
import * as repo from '../store/repo.js';
import { getClusterConfig, putClusterConfig, type ClusterConfig } from '../store/cluster-config.js';
import { joiningMarker, memberAddresses, memberAt } from '../cluster/etcd-member.js';
import { caHolder, issue, pkiPaths, recordMemberCerts, privateDir, storedCa, storedCaPair, verifyCrl, writePrivate, type CertPair } from '../cluster/pki.js';
import type { EtcdMembersRequest } from '../cluster/protocol.js';
import { fanout } from '../cluster/fanout.js';
import { systemExecutor, type Executor } from '../platform/exec.js';
import { clientFor, MEMBER_COUNTS, refuseStaleData, resolveTarget, show } from './cluster.js';
import type { Host } from './host.js';
import { revokeRemovedMember, type Revocation } from './cluster-revoke.js';
import type { Peers } from '../cluster/peers.js';
import type { EtcdClient } from '../store/etcd/client.js';
import { VERSION } from '../core/version.js';
import { peerVersion } from './peer-version.js';
import { dirname } from 'node:path';

export interface MemberChangeResult {
  readonly node: string;
  readonly change: 'added' | 'removed';
  /** The etcd members after the change. */
  readonly members: readonly string[];
  /** Each host told the new member list (a host not told keeps reaching the members it knew). */
  readonly hosts: readonly { readonly node: string; readonly ok: boolean; readonly error: string | null }[];
  readonly ok: boolean;
  /** What to do next (start the new member's etcd). */
  readonly next: string | null;
  /** remove: the removed member's server and peer certificates revoked, the CRL on each member that stays. */
  readonly revocation: Revocation | null;
}

const MAX_MEMBERS = Math.max(...MEMBER_COUNTS);

/** The cluster meshvpc runs, on the host that holds its CA: anything else is refused before anything changes. */
function requireCaHolder(host: Host, what: string): { config: ClusterConfig; ca: CertPair } {
  const config = getClusterConfig(host.db);
  if (!config) throw new UserError(`this host has no etcd backend (meshvpc cluster mode=init backend=etcd ...): there is no etcd member to ${what}`, 'not_found');
  if (!config.managed || config.clusterToken === null) throw new UserError(`this cluster uses an etcd meshvpc does not run: ${what} its members with that etcd's own tools`, 'conflict');
  const ca = storedCaPair(host.home);
  if (!ca) throw new UserError(`refused: ${host.self.nodename} does not hold the etcd cluster's CA key; run cluster mode=${what === 'add' ? 'add_member' : 'remove_member'} on ${caHolder(host.home) ?? 'the host that ran cluster mode=init'}, which holds it`, 'conflict');
  return { config, ca };
}

/** Tell every host the new member list (`req`), this host first; each host's outcome. */
async function tellEveryone(host: Host, req: EtcdMembersRequest, skip: string | null, concurrency: number): Promise<MemberChangeResult['hosts']> {
  await membersHere(host, { kind: 'root' }, req);
  const nodes = repo.listNodes(host.db).filter((n) => n.name !== skip);
  const { Peers } = await import('../cluster/peers.js');
  const peers = new Peers(host.home);
  try {
    const outcomes = await fanout(nodes.map((n) => n.name), concurrency, (name) => callNamingVersion(peers, nodes.find((n) => n.name === name) as NodeRecord, req));
    return [{ node: host.self.nodename, ok: true, error: null }, ...outcomes.map((o) => ({ node: o.key, ok: o.ok, error: o.ok ? null : o.error }))];
  } finally {
    peers.close();
  }
}

/** `etcd_members` to a peer; a meshvpc that does not know it is named with both versions. */
async function callNamingVersion(peers: Peers, node: NodeRecord, req: EtcdMembersRequest): Promise<unknown> {
  try {
    return await peers.call(node, req);
  } catch (e) {
    if (!(e instanceof UserError && /unknown op/.test(e.message))) throw e;
    const version = await peerVersion(node, (n, r) => peers.call(n, r));
    throw new UserError(`${node.name} runs meshvpc ${version} (this host ${VERSION}), which cannot take a new etcd member list: upgrade it`, 'conflict');
  }
}

/**
 * etcd's member/add, waiting out its "unhealthy cluster": etcd refuses a new
 * member until every member has been connected to the others for a few
 * seconds (a cluster just started, a member just restarted), as its own
 * quorum check. Up to 30 s, then the refusal as etcd said it.
 */
async function addWhenSettled(client: EtcdClient, peerUrls: readonly string[]): Promise<string> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await client.addMember(peerUrls);
    } catch (e) {
      if (!(e instanceof UserError && /unhealthy cluster/.test(e.message)) || Date.now() > until) throw e;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

/** One member change at a time on the CA holder: each builds on the member list the last one left. */
const oneAtATime = <T>(host: Host, what: string, fn: () => Promise<T>): Promise<T> => withLock(host.db, 'etcd:members', what, fn);

export function addMember(host: Host, input: { readonly node: string; readonly concurrency: number }, exec: Executor = systemExecutor): Promise<MemberChangeResult> {
  return oneAtATime(host, 'cluster mode=add_member', () => add(host, input, exec));
}

export function removeMember(host: Host, input: { readonly node: string; readonly concurrency: number }): Promise<MemberChangeResult> {
  return oneAtATime(host, 'cluster mode=remove_member', () => remove(host, input));
}

async function add(host: Host, input: { readonly node: string; readonly concurrency: number }, exec: Executor): Promise<MemberChangeResult> {
  const { config, ca } = requireCaHolder(host, 'add');
  const target = resolveTarget(host, input.node);
  if (config.members.some((m) => m.name === target.name)) throw new UserError(`${target.name} is an etcd member already (members: ${config.members.map((m) => m.name).join(', ')})`, 'conflict');
  if (config.members.length >= MAX_MEMBERS) throw new UserError(`the etcd cluster has ${config.members.length} members, the most meshvpc runs (more only slows every write); remove one first`, 'conflict');
  const health = await show(host);
  const sick = health.members.filter((m) => !m.healthy);
  if (sick.length > 0) throw new UserError(`refused: ${sick.map((m) => `${m.name} (${m.error ?? 'unhealthy'})`).join(', ')} ${sick.length === 1 ? 'is' : 'are'} not healthy; a member is added only to a healthy cluster (its quorum grows with it); nothing was changed`, 'unreachable');
  const member = memberAt(target.name, target.addresses);
  const addresses = memberAddresses(member);
  const server = await issue(exec, ca, 'server', { name: member.name, addresses });
  const peer = await issue(exec, ca, 'peer', { name: member.name, addresses });
  // Kept by the CA holder: a member removed later has them revoked.
  recordMemberCerts(host.home, member.name, { server, peer });
  const members = [...config.members, member];
  const crlPath = pkiPaths(host.home).crl;
  const crl = existsSync(crlPath) ? readFileSync(crlPath, 'utf8') : undefined;
  const base = { op: 'etcd_members', ca: ca.cert, config: { clusterToken: config.clusterToken as string, members } } as const;
  const client = clientFor(config, 5000);
  try {
    const id = await addWhenSettled(client, member.peerUrls);
    // The new member's own part first: a member that cannot take its certificates goes out again.
    try {
      const own: EtcdMembersRequest = { ...base, server, peer, ...(crl ? { crl } : {}) };
      if (target.node) {
        const { Peers } = await import('../cluster/peers.js');
        const peers = new Peers(host.home);
        try {
          await callNamingVersion(peers, target.node, own);
        } finally {
          peers.close();
        }
      } else await membersHere(host, { kind: 'root' }, own, exec);
    } catch (e) {
      const why = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
      const out = await client.removeMember(id).then(
        () => 'it was taken out of etcd again',
        (r: unknown) => `and it could not be taken out of etcd again (${r instanceof Error ? (r.message.split('\n')[0] ?? '') : String(r)}): run meshvpc cluster mode=remove_member node=${target.name}`,
      );
      // Its answer may have been lost after it took them: it is told the old list (best effort).
      const old = { ...base, config: { ...base.config, members: config.members } };
      if (target.node) {
        const { Peers } = await import('../cluster/peers.js');
        const peers = new Peers(host.home);
        await peers.call(target.node, old).catch(() => undefined).finally(() => peers.close());
      }
      throw new UserError(`${target.name} did not take its etcd member certificates: ${why}; ${out}`, e instanceof UserError ? e.kind : 'failed');
    }
  } finally {
    client.close();
  }
  const hosts = await tellEveryone(host, base, target.node ? target.name : null, input.concurrency);
  const all = target.node ? [{ node: target.name, ok: true, error: null }, ...hosts] : hosts;
  return { node: target.name, change: 'added', members: members.map((m) => m.name), hosts: all, ok: all.every((h) => h.ok), next: `start its etcd: meshvpc etcd mode=run (or etcd mode=install) on ${target.name}; it joins the running cluster`, revocation: null };
}

async function remove(host: Host, input: { readonly node: string; readonly concurrency: number }): Promise<MemberChangeResult> {
  const { config, ca } = requireCaHolder(host, 'remove');
  const name = config.members.find((m) => m.name === input.node || m.clientUrls.some((u) => new URL(u).hostname.replace(/^\[|\]$/g, '') === input.node))?.name;
  if (!name) throw new UserError(`${input.node} is not an etcd member (members: ${config.members.map((m) => m.name).join(', ')})`, 'not_found');
  const members = config.members.filter((m) => m.name !== name);
  if (members.length === 0) throw new UserError(`${name} is the only etcd member: the cluster's state lives there; add another member first`, 'conflict');
  // The members that stay must make a healthy quorum of the smaller cluster.
  const health = await show(host);
  const healthy = health.members.filter((m) => m.name !== name && m.healthy).length;
  const quorum = Math.floor(members.length / 2) + 1;
  if (healthy < quorum) throw new UserError(`refused: only ${healthy} of the ${members.length} members that would stay ${healthy === 1 ? 'is' : 'are'} healthy, and they need ${quorum}; nothing was changed`, 'unreachable');
  const client = clientFor({ ...config, members }, 5000);
  try {
    // A member that never started is listed without a name: found by its peer URLs.
    const peerUrls = config.members.find((m) => m.name === name)?.peerUrls ?? [];
    const which = (await client.members()).find((m) => m.name === name || m.peerURLs.some((u) => peerUrls.includes(u)))?.id;
    if (!which) throw new UserError(`etcd does not list ${name} among its members: the configuration here is out of date`, 'conflict');
    await client.removeMember(which);
  } finally {
    client.close();
  }
  const hosts = await tellEveryone(host, { op: 'etcd_members', ca: ca.cert, config: { clusterToken: config.clusterToken as string, members } }, null, input.concurrency);
  // Its server and peer certificates also authenticate as clients: revoked, the CRL on every member that stays.
  const revocation = await revokeRemovedMember(host, name);
  return { node: name, change: 'removed', members: members.map((m) => m.name), hosts, ok: hosts.every((h) => h.ok) && revocation.ok, next: null, revocation };
}

/**
 * A peer's `etcd_members` here: the new member list of this host's cluster,
 * only from the host that holds its CA and only for the cluster whose CA this
 * host trusts. A host that becomes a member takes its certificates (for its
 * own addresses only) and joins the running cluster when its etcd starts.
 */
export async function membersHere(host: Host, caller: Caller, req: EtcdMembersRequest, exec: Executor = systemExecutor): Promise<{ node: string; member: boolean }> {
  requireBound(caller, 'etcd_members');
  const self = host.self.nodename;
  if (caller.kind === 'member') {
    if (!repo.getNode(host.db, caller.node)) throw new UserError(`refused: ${caller.node} is not a known node here`);
    if (caHolder(host.home) !== caller.node) throw new UserError(`refused: only the host that holds the etcd cluster's CA (${caHolder(host.home) ?? 'unknown here'}) changes its members, not ${caller.node}`, 'conflict');
  }
  const config = getClusterConfig(host.db);
  if (!config?.managed) throw new UserError(`refused: ${self} has no etcd cluster that meshvpc runs`, 'not_found');
  if (storedCa(host.home) !== req.ca || config.clusterToken !== req.config.clusterToken) throw new UserError(`refused: the member list is for another etcd cluster than ${self}'s`, 'conflict');
  const me = req.config.members.find((m) => m.name === self);
  const was = config.members.some((m) => m.name === self);
  if (req.server || req.peer) {
    if (!me || was) throw new UserError(`refused: member certificates were sent to ${self}, which is ${me ? 'a member already' : 'not becoming a member'}`);
    if (!req.server || !req.peer) throw new UserError(`refused: ${self} becomes an etcd member but was sent no server and peer certificates`);
    const mine = [host.self.ip4, host.self.ip6].filter((a): a is string => a !== null);
    const foreign = memberAddresses(me).find((a) => !mine.includes(a));
    if (foreign) throw new UserError(`refused: the etcd member ${self} would listen on ${foreign}, which is not this host's address`);
    refuseStaleData(host.home, self);
  } else if (me && !was) {
    throw new UserError(`refused: ${self} becomes an etcd member but was sent no server and peer certificates`);
  }
  // A CRL is checked against the CA it comes with (signed by it) before it is kept.
  // A member that stays keeps its own entry: nobody moves where this host's etcd listens but itself.
  const mine = config.members.find((m) => m.name === self);
  if (me && mine && JSON.stringify(me) !== JSON.stringify(mine)) throw new UserError(`refused: the member list changes ${self}'s own etcd URLs; a member's entry changes only by removing and adding it`, 'conflict');
  if (req.crl) await verifyCrl(exec, req.ca, req.crl, null);
  if (me && !was && req.server && req.peer) {
    const at = pkiPaths(host.home);
    privateDir(dirname(at.serverCert));
    writePrivate(at.serverCert, req.server.cert, 0o644);
    writePrivate(at.serverKey, req.server.key);
    writePrivate(at.peerCert, req.peer.cert, 0o644);
    writePrivate(at.peerKey, req.peer.key);
    if (req.crl) writePrivate(at.crl, req.crl, 0o644);
    writeFileSync(joiningMarker(host.home), `${req.config.members.map((m) => m.name).join(',')}\n`, { mode: 0o600 });
  }
  if (!me) rmSync(joiningMarker(host.home), { force: true });
  atomically(host.db, () => putClusterConfig(host.db, { ...config, members: req.config.members }));
  return { node: self, member: me !== undefined };
}

/** How often a learner asks to be promoted while it catches up. */
const PROMOTE_EVERY_MS = 2000;

/**
 * Run by `etcd mode=run` on a member added to a running cluster (the
 * `joining` marker): once its etcd is in step with the leader, it makes
 * itself a voting member (etcd refuses before), then the marker goes. Returns
 * when promoted, when this host is no longer a joining member, or on abort.
 */
export async function promoteWhenReady(host: Host, signal: AbortSignal, say: (line: string) => void): Promise<void> {
  const self = host.self.nodename;
  while (!signal.aborted && existsSync(joiningMarker(host.home))) {
    const config = getClusterConfig(host.db);
    if (!config?.members.some((m) => m.name === self)) return;
    const client = clientFor(config, 5000);
    try {
      const me = (await client.members()).find((m) => m.name === self);
      if (me && !me.learner) {
        rmSync(joiningMarker(host.home), { force: true });
        return;
      }
      if (me) {
        await client.promoteMember(me.id);
        rmSync(joiningMarker(host.home), { force: true });
        say(`${self} is a voting etcd member now`);
        return;
      }
    } catch {
      // Not in step yet (etcd says so), or the cluster does not answer: asked again shortly.
    } finally {
      client.close();
    }
    await new Promise((res) => setTimeout(res, PROMOTE_EVERY_MS));
  }
}
