/**
 * The ClusterStore port on the embedded backend (cluster-store.ts): every
 * host's SQLite holds the cluster's state, and the host that runs an
 * operation changes it on every member over SSH (converge, sync, teardown in
 * vpc-cluster.ts), holding the VPC's lock here. Admissions take a lease on
 * the VPC's arbiter member and count every member's guests (guest-guard.ts).
 */
import * as v from '../core/validate.js';
import { allocatePeerMap } from '../core/peermap.js';
import type { Encryption } from '../core/seal.js';
import type { GuestOnHost, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { atomically } from '../store/tx.js';
import type { Peers } from '../cluster/peers.js';
import type { ClusterStore } from './cluster-store.js';
import { admitByArbiter, askMembers, type Admission, type Admitted, type Call } from './guest-guard.js';
import type { Host } from './host.js';
import { requireVpc } from './vpc-list.js';
import { givesPolicy, policyFrom, policyOf, type Policy } from './vpc-policy.js';
import { asSynced, checkSet, clusterLocked, deployDefinition, memberChange, type ClusterInput, type Definition, type Named, type SetInput, type SetResult } from './vpc.js';
import { converge, DEFAULT_CONCURRENCY, sync, teardownAll, type ConvergeEvent, type ConvergeResult, type SyncOutcome, type TeardownEvent, type TeardownResult } from './vpc-cluster.js';

export class EmbeddedStore implements ClusterStore {
  readonly backend = 'embedded';
  /** One set of SSH connections for everything this store asks of members, opened only if it does. */
  private peers: Promise<Peers> | null = null;

  constructor(private readonly host: Host) {}

  private readonly call: Call = async (node, req) => {
    this.peers ??= import('../cluster/peers.js').then((m) => new m.Peers(this.host.home));
    return (await this.peers).call(node, req);
  };

  async deploy(input: ClusterInput & Definition & { readonly full?: boolean }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
    const host = this.host;
    const name = input.vpc_name;
    deployDefinition(host, name, input);
    return await clusterLocked(host, name, 'vpc mode=deploy', input.dryrun, async () => {
      // Read again under the lock: a deploy that ran meanwhile may have stored it.
      const stored = repo.getVpc(host.db, name);
      const vpc = stored ?? deployDefinition(host, name, input);
      // A new VPC is stored only once every member has checked it (converge does both).
      const newTo = new Set(stored === null ? vpc.members.map((m) => m.node) : []);
      return converge(host, vpc, { dryrun: input.dryrun ?? false, limit: input.concurrency ?? DEFAULT_CONCURRENCY, leaving: [], newTo, full: input.full ?? false }, events);
    }, events);
  }

  /**
   * join: only the joining hosts' pairs are allocated and only their tunnels
   * created. leave: their pairs are freed, their tunnels removed on every
   * other member, and they forget the VPC.
   */
  async members(mode: 'join' | 'leave', input: ClusterInput & { readonly node: readonly string[] }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
    const host = this.host;
    const name = input.vpc_name;
    // A refusal (unknown node, not a member) comes before the lock is written.
    memberChange(host, requireVpc(host, name), mode, input.node);
    return await clusterLocked(host, name, `vpc mode=${mode}`, input.dryrun, () => {
      const before = requireVpc(host, name);
      const { next, leaving } = memberChange(host, before, mode, input.node);
      // Joining hosts check the VPC before anyone stores the new membership; this
      // host stores it when it applies (or forgets it, if it is the one leaving).
      const newTo = new Set(next.members.map((m) => m.node).filter((n) => !before.members.some((m) => m.node === n)));
      return converge(host, next, { dryrun: input.dryrun ?? false, limit: input.concurrency ?? DEFAULT_CONCURRENCY, leaving, newTo, verb: mode }, events);
    }, events);
  }

  /**
   * The policy changes here, then on every member (each accepts it from a
   * member only). A change of encryption re-allocates the seal blocks and
   * re-applies every member (a convergence, as deploy), since each tunnel's
   * endpoints move into or out of WireGuard.
   */
  async setPolicy(input: SetInput, events: (o: SyncOutcome) => void): Promise<SetResult> {
    const host = this.host;
    const name = input.vpc_name;
    const check = (): { vpc: VpcWithMap; after: Policy; encrypt: Encryption } => {
      const vpc = requireVpc(host, name);
      const encrypt = checkSet(input, vpc, host.self.nodename);
      // The network must hold a second block per pair before anything changes.
      if (encrypt === 'wireguard') allocatePeerMap({ members: vpc.members.map((m) => m.node), network: v.network(vpc.peerNetwork, 'peer_network'), existing: vpc.pairs, takenVnis: repo.vnisOutside(host.db, name), sealed: true });
      return { vpc, after: givesPolicy(input) ? policyFrom(input, policyOf(vpc), vpc.peerNetwork) : policyOf(vpc), encrypt };
    };
    const first = check();
    const encryptBefore = first.vpc.encrypt ?? 'none';
    if (input.dryrun) return { vpc: name, dryrun: true, before: policyOf(first.vpc), after: first.after, encryptBefore, encryptAfter: first.encrypt, hosts: [], ok: true };
    return clusterLocked(host, name, 'vpc mode=set', false, async () => {
      const { vpc, after, encrypt } = check();
      const before = vpc.encrypt ?? 'none';
      const base = { vpc: name, dryrun: false, before: policyOf(vpc), after, encryptBefore: before, encryptAfter: encrypt };
      if (encrypt !== before) {
        // Stored here by the convergence's own apply, after every member answered with a key: a
        // refusal (an older member, say) leaves the VPC as it was.
        const next = { ...vpc, ...after, encrypt };
        const self = host.self.nodename;
        const result = await converge(host, next, { dryrun: false, limit: DEFAULT_CONCURRENCY, leaving: [], policy: true }, (e) => {
          if (e.type === 'host' && e.outcome.host !== self) events(asSynced(e.outcome));
        });
        return { ...base, hosts: result.hosts.filter((h) => h.host !== self).map(asSynced), ok: result.ok };
      }
      atomically(host.db, () => repo.putVpc(host.db, { ...vpc, ...after }));
      const synced = await sync(host, name, input.force ?? false, false, events, true);
      return { ...base, hosts: synced.hosts, ok: synced.ok };
    });
  }

  async teardown(mode: 'collapse' | 'destroy', input: Named & { readonly force?: boolean }, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
    requireVpc(this.host, input.vpc_name);
    return await clusterLocked(this.host, input.vpc_name, `vpc mode=${mode}`, input.dryrun, () => teardownAll(this.host, input.vpc_name, mode, input.force ?? false, input.dryrun ?? false, events), events);
  }

  admit<T>(a: Admission, record: (addr: Admitted) => Promise<T> | T): Promise<T> {
    return admitByArbiter(this.host, a, record, this.call);
  }

  /** Every member asked for its guests; one that does not answer is counted by its last report (and named stale). */
  async counted(vpc: VpcWithMap, here: readonly GuestOnHost[]): Promise<{ guests: GuestOnHost[]; stale: string[] }> {
    const asked = await askMembers(this.host, vpc, this.call);
    const stale = asked.flatMap((a) => (a.ok ? [] : [a.name]));
    return { guests: [...here, ...asked.flatMap((a) => (a.ok ? a.guests : repo.getSeen(this.host.db, vpc.name, a.name)))], stale };
  }

  /** The bridges of its VPCs with fdb=control here, then every member that must hear of it. */
  async guestsChanged(vpcs: readonly string[]): Promise<string[]> {
    const { refreshFdb } = await import('./vpc-local.js');
    const { eachVpc, tellMembers } = await import('./guest-reports.js');
    return eachVpc(this.host, vpcs, async (vpc) => {
      if ((vpc.fdb ?? 'learn') !== 'control') return [];
      await refreshFdb(this.host, vpc.name);
      const told = await tellMembers(this.host, vpc);
      return told.failed.map((f) => `${vpc.name}: ${f.node}: ${f.error}`);
    });
  }

  async close(): Promise<void> {
    await this.peers?.then((p) => p.close()).catch(() => undefined);
  }
}
