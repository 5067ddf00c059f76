/**
 * Revoking a removed host's etcd client certificate (docs/etcd.md,
 * "Revocation"): on the host that holds the CA key, `node mode=remove` adds
 * the host's client certificate to the cluster's CRL and pushes the new CRL to
 * every etcd member (`etcd_crl`), one at a time. Each member's `meshvpc etcd
 * mode=run` restarts its etcd when its CRL file changes (connections opened
 * before a CRL change survive it otherwise), and the next member is updated
 * only once that one reports healthy again, so a quorum stays up.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { requireBound, type Caller } from '../core/authority.js';
import type { NodeRecord } from '../core/types.js';
import * as repo from '../store/repo.js';
import { getClusterConfig, type ClusterConfig } from '../store/cluster-config.js';
import { caHolder, issuedSerial, pkiPaths, revokeClient, revokeMemberCerts, storedCa, storedCaPair, verifyCrl, writePrivate, type CertPair } from '../cluster/pki.js';
import type { EtcdCrlRequest } from '../cluster/protocol.js';
import { systemExecutor, type Executor } from '../platform/exec.js';
import type { Host } from './host.js';

/** What `meshvpc etcd mode=run` says about itself: its pid and the CRL its etcd was started with. */
export interface RunnerState {
  readonly pid: number;
  /** sha256 (hex) of the CRL file etcd was started with; null: none. */
  readonly crl: string | null;
}

export const runnerStatePath = (home: string): string => join(home, 'etcd', 'run.json');

export const crlDigest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The CRL file's digest now (null: no file). */
export function currentCrlDigest(home: string): string | null {
  const path = pkiPaths(home).crl;
  try {
    return crlDigest(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

export function writeRunnerState(home: string, s: RunnerState): void {
  writePrivate(runnerStatePath(home), `${JSON.stringify(s)}\n`, 0o644);
}

export function clearRunnerState(home: string): void {
  rmSync(runnerStatePath(home), { force: true });
}

function readRunnerState(home: string): RunnerState | null {
  try {
    const x = JSON.parse(readFileSync(runnerStatePath(home), 'utf8')) as Partial<RunnerState>;
    if (typeof x.pid !== 'number' || !Number.isInteger(x.pid) || x.pid <= 0) return null;
    return { pid: x.pid, crl: typeof x.crl === 'string' ? x.crl : null };
  } catch {
    return null;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** How long a member waits for its `etcd mode=run` to restart etcd on a new CRL. */
const RESTART_WAIT_MS = 30_000;

/**
 * Wait until this host's `etcd mode=run` runs etcd with the CRL of this
 * digest: 'restarted', or 'not running' (no runner: etcd reads the file when
 * it starts).
 */
async function waitForRunner(home: string, digest: string, waitMs: number): Promise<'restarted' | 'not running'> {
  const until = Date.now() + waitMs;
  for (;;) {
    const s = readRunnerState(home);
    if (!s || !alive(s.pid)) return 'not running';
    if (s.crl === digest) return 'restarted';
    if (Date.now() > until) throw new UserError(`the CRL was replaced, but meshvpc etcd mode=run (pid ${s.pid}) did not restart etcd with it within ${Math.round(waitMs / 1000)} s`, 'failed');
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface CrlHereResult {
  readonly node: string;
  /** The CRL number it now has (decimal). */
  readonly crl_number: string;
  readonly etcd: 'restarted' | 'not running';
}

/**
 * A peer's `etcd_crl` here (or this host's own push): only for the cluster
 * whose CA this host trusts, only on an etcd member, only a CRL signed by that
 * CA and not older than the one here; the file is replaced atomically.
 */
export async function crlHere(host: Host, caller: Caller, req: EtcdCrlRequest, exec: Executor = systemExecutor, waitMs = RESTART_WAIT_MS): Promise<CrlHereResult> {
  requireBound(caller, 'etcd_crl');
  const self = host.self.nodename;
  if (caller.kind === 'member' && !repo.getNode(host.db, caller.node)) throw new UserError(`refused: ${caller.node} is not a known node here`);
  const config = getClusterConfig(host.db);
  if (!config?.managed) throw new UserError(`refused: ${self} runs no etcd member for meshvpc`, 'not_found');
  const ca = storedCa(host.home);
  if (ca !== req.ca) throw new UserError(`refused: the CRL is for another etcd cluster than ${self}'s`, 'conflict');
  if (!config.members.some((m) => m.name === self)) throw new UserError(`refused: ${self} is not an etcd member (members: ${config.members.map((m) => m.name).join(', ')})`, 'not_found');
  const path = pkiPaths(host.home).crl;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  const number = await verifyCrl(exec, ca, req.crl, current);
  writePrivate(path, req.crl, 0o644);
  return { node: self, crl_number: number.toString(), etcd: await waitForRunner(host.home, crlDigest(req.crl), waitMs) };
}

export interface MemberCrl {
  readonly name: string;
  readonly ok: boolean;
  /** Its etcd was restarted on the new CRL (null: not known, it failed first). */
  readonly etcd: 'restarted' | 'not running' | null;
  /** It reported healthy after the change. */
  readonly healthy: boolean;
  readonly error: string | null;
  readonly seconds: number;
}

export interface Revocation {
  readonly node: string;
  /** The client certificate's serial (hex), null when this host issued none to it. */
  readonly serial: string | null;
  readonly members: readonly MemberCrl[];
  /** Every member has the new CRL and is healthy. */
  readonly ok: boolean;
  readonly note: string | null;
}

/** What node mode=remove will revoke, checked before anything changes. */
export type RevocationPlan = { readonly kind: 'none' } | { readonly kind: 'note'; readonly note: string } | { readonly kind: 'revoke'; readonly ca: CertPair; readonly config: ClusterConfig; readonly members: readonly (NodeRecord | null)[] };

/**
 * Before node mode=remove changes anything: with meshvpc's etcd, only the host
 * holding the CA key can revoke, and an etcd member cannot be cut off this way
 * (it would need to leave the etcd cluster first).
 */
export function planRevocation(host: Host, node: string): RevocationPlan {
  const config = getClusterConfig(host.db);
  if (!config) return { kind: 'none' };
  if (!config.managed) return { kind: 'note', note: `this cluster uses an etcd meshvpc does not run: revoke ${node}'s client certificate at the CA that issued it` };
  if (config.members.some((m) => m.name === node)) {
    throw new UserError(`refused: ${node} is an etcd member (${config.members.map((m) => m.name).join(', ')}); take it out of the etcd cluster first (meshvpc cluster mode=remove_member node=${node}, on the CA holder), then remove the node; nothing was changed`, 'conflict');
  }
  const ca = storedCaPair(host.home);
  if (!ca) {
    const holder = caHolder(host.home);
    throw new UserError(
      `refused: ${host.self.nodename} does not hold the etcd cluster's CA key, so it cannot revoke ${node}'s certificate; run node mode=remove node=${node} on ${holder ?? 'the host that ran cluster mode=init'}, which holds it; nothing was changed`,
      'conflict',
    );
  }
  return { kind: 'revoke', ca, config, members: reachableMembers(host, config) };
}

/** Each member as this host reaches it (null: this host itself); a member not known here is refused. */
function reachableMembers(host: Host, config: ClusterConfig): (NodeRecord | null)[] {
  const members = config.members.map((m) => (m.name === host.self.nodename ? null : repo.getNode(host.db, m.name)));
  const unknown = config.members.filter((m, i) => m.name !== host.self.nodename && members[i] === null).map((m) => m.name);
  if (unknown.length > 0) throw new UserError(`refused: the etcd member${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a known node here, so the new CRL could not reach ${unknown.length > 1 ? 'them' : 'it'}; nothing was changed`, 'conflict');
  return members;
}

/** How long the pusher waits for a member (or the others) to be healthy. */
const HEALTH_WAIT_MS = 60_000;

async function waitHealthy(host: Host, names: readonly string[], waitMs: number): Promise<{ ok: boolean; leader: string | null; error: string | null }> {
  const { show } = await import('./cluster.js');
  const until = Date.now() + waitMs;
  for (;;) {
    const r = await show(host);
    const bad = r.members.filter((m) => names.includes(m.name) && !m.healthy);
    const leader = r.members.find((m) => m.leader)?.name ?? null;
    if (bad.length === 0) return { ok: true, leader, error: null };
    if (Date.now() > until) return { ok: false, leader, error: bad.map((m) => `${m.name}: ${m.error ?? 'unhealthy'}`).join('; ') };
    await new Promise((res) => setTimeout(res, 500));
  }
}

/**
 * Revoke `node`'s client certificate (after node mode=remove did its other
 * work) and push the new CRL to every member, one at a time: the leader last,
 * each only once the others are healthy, the next only once it is healthy.
 */
export async function revokeAndPush(host: Host, node: string, plan: RevocationPlan, exec: Executor = systemExecutor): Promise<Revocation | null> {
  if (plan.kind === 'none') return null;
  if (plan.kind === 'note') return { node, serial: null, members: [], ok: true, note: plan.note };
  if ((await issuedSerial(exec, host.home, node)) === null) {
    return { node, serial: null, members: [], ok: true, note: `${node} was given no client certificate by this host (it joined after cluster mode=init): nothing to revoke` };
  }
  const { serial, crl } = await revokeClient(exec, host.home, plan.ca, node);
  const members = await pushCrl(host, plan, crl, exec);
  return { node, serial, members, ok: members.every((m) => m.ok), note: null };
}

/**
 * Push `crl` to every member, one at a time: the leader last, each only once
 * the others are healthy, the next only once it is healthy. Reported in the
 * configuration's order.
 */
async function pushCrl(host: Host, plan: Extract<RevocationPlan, { kind: 'revoke' }>, crl: string, exec: Executor): Promise<MemberCrl[]> {
  const req: EtcdCrlRequest = { op: 'etcd_crl', ca: plan.ca.cert, crl };
  const names = plan.config.members.map((m) => m.name);
  const first = await waitHealthy(host, names, 0);
  const order = first.leader ? [...names.filter((n) => n !== first.leader), first.leader] : names;
  const { Peers } = await import('../cluster/peers.js');
  const peers = new Peers(host.home);
  const out: MemberCrl[] = [];
  try {
    for (const name of order) {
      const started = Date.now();
      const others = await waitHealthy(host, names.filter((n) => n !== name), HEALTH_WAIT_MS);
      let etcd: MemberCrl['etcd'] = null;
      let error: string | null = others.ok ? null : `pushed while not every other member was healthy (${others.error ?? ''})`;
      try {
        const target = plan.members[names.indexOf(name)];
        const r = target ? await peers.call<CrlHereResult>(target, req) : await crlHere(host, { kind: 'root' }, req, exec);
        etcd = r.etcd === 'restarted' || r.etcd === 'not running' ? r.etcd : null;
      } catch (e) {
        out.push({ name, ok: false, etcd: null, healthy: false, error: (e as Error).message, seconds: (Date.now() - started) / 1000 });
        continue;
      }
      const back = await waitHealthy(host, [name], HEALTH_WAIT_MS);
      if (!back.ok) error = `it has the new CRL but is not healthy: ${back.error ?? ''}`;
      out.push({ name, ok: back.ok, etcd, healthy: back.ok, error, seconds: (Date.now() - started) / 1000 });
    }
  } finally {
    peers.close();
  }
  return names.map((n) => out.find((m) => m.name === n) as MemberCrl);
}

export interface CrlPush {
  readonly members: readonly MemberCrl[];
  /** Every member has the CRL and is healthy. */
  readonly ok: boolean;
}

/**
 * `cluster mode=push_crl`: the cluster's current CRL to every member again, as
 * node mode=remove pushes it (for a member that could not be reached then).
 * Only on the host that holds the CA key, and only for an etcd meshvpc runs.
 */
export async function pushCurrentCrl(host: Host, exec: Executor = systemExecutor): Promise<CrlPush> {
  const config = getClusterConfig(host.db);
  if (!config) throw new UserError('this host has no etcd backend (meshvpc cluster mode=init backend=etcd ...): there is no CRL to push', 'not_found');
  if (!config.managed) throw new UserError('this cluster uses an etcd meshvpc does not run: its CRL is kept by the CA that issued its certificates', 'conflict');
  const ca = storedCaPair(host.home);
  if (!ca) throw new UserError(`refused: ${host.self.nodename} does not hold the etcd cluster's CA key; run cluster mode=push_crl on ${caHolder(host.home) ?? 'the host that ran cluster mode=init'}, which holds it`, 'conflict');
  const plan = { kind: 'revoke', ca, config, members: reachableMembers(host, config) } as const;
  let crl: string;
  try {
    crl = readFileSync(pkiPaths(host.home).crl, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the cluster's CRL ${pkiPaths(host.home).crl}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'storage');
  }
  const members = await pushCrl(host, plan, crl, exec);
  return { members, ok: members.every((m) => m.ok) };
}

/**
 * A member taken out of etcd (cluster mode=remove_member): its server and
 * peer certificates, which also authenticate as clients, are revoked and the
 * new CRL pushed to the members that stay, as node mode=remove does for a
 * client certificate. Run on the CA holder, after the member list changed.
 */
export async function revokeRemovedMember(host: Host, node: string, exec: Executor = systemExecutor): Promise<Revocation> {
  const config = getClusterConfig(host.db);
  const ca = storedCaPair(host.home);
  if (!config || !ca) throw new UserError(`refused: ${host.self.nodename} does not hold the etcd cluster's CA key`, 'conflict');
  const { serials, crl } = await revokeMemberCerts(exec, host.home, ca, node);
  if (serials.length === 0) {
    return { node, serial: null, members: [], ok: true, note: `${node}'s server and peer certificates were issued before meshvpc 0.7 kept copies of them, so they cannot be revoked from here: they still authenticate to etcd until they expire` };
  }
  const members = await pushCrl(host, { kind: 'revoke', ca, config, members: reachableMembers(host, config) }, crl, exec);
  return { node, serial: serials.join(','), members, ok: members.every((m) => m.ok), note: null };
}
