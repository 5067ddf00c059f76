/**
 * The ClusterStore port with backend=etcd (cluster-store.ts): an operation
 * writes the desired state into etcd (allocation by transaction, under the
 * VPC's lease lock) and follows the members' agents until each applied it;
 * no member is called. Admissions take the VPC's lock in the store
 * (store-admit.ts); a host writes its own guests under its own keys.
 */
import { UserError } from '../core/errors.js';
import type { GuestOnHost, VpcWithMap } from '../core/types.js';
import type { EtcdClient } from '../store/etcd/client.js';
import type { ClusterStore } from './cluster-store.js';
import type { Admission, Admitted } from './guest-guard.js';
import type { Host } from './host.js';
import { admitInStore } from './store-admit.js';
import { convergeInStore, convergeTimeoutMs, destroyInStore } from './store-converge.js';
import { countedInStore, publishGuests } from './store-guests.js';
import { trustedBy } from './store-trust.js';
import { asSynced, checkSet, definitionFor, memberChange, type ClusterInput, type Definition, type Named, type SetInput, type SetResult } from './vpc.js';
import { givesPolicy, policyFrom, policyOf, POLICY_KEYS } from './vpc-policy.js';
import type { ConvergeEvent, ConvergeResult, HostOutcome, SyncOutcome, TeardownEvent, TeardownOutcome, TeardownResult } from './vpc-cluster.js';

const notInStore = (name: string): UserError => new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');

export class EtcdStore implements ClusterStore {
  readonly backend = 'etcd';

  constructor(
    private readonly host: Host,
    private readonly client: EtcdClient,
  ) {}

  private get self(): string {
    return this.host.self.nodename;
  }

  deploy(input: ClusterInput & Definition, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
    const name = input.vpc_name;
    events({ type: 'accepted', vpc: name });
    return convergeInStore(this.client, { name, next: (stored) => definitionFor(this.host, name, input, stored), leaving: [], dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: this.self, what: 'vpc mode=deploy', trust: trustedBy(this.host, name) }, events);
  }

  members(mode: 'join' | 'leave', input: ClusterInput & { readonly node: readonly string[] }, events: (e: ConvergeEvent) => void): Promise<ConvergeResult> {
    const name = input.vpc_name;
    let leaving: string[] = [];
    const next = (stored: VpcWithMap | null): VpcWithMap => {
      if (!stored) throw notInStore(name);
      const changed = memberChange(this.host, stored, mode, input.node).next;
      leaving = stored.members.map((m) => m.node).filter((n) => !changed.members.some((m) => m.node === n));
      return changed;
    };
    events({ type: 'accepted', vpc: name });
    // `leaving` is known once the store's copy was read: the transaction's first step.
    const change = { name, next, get leaving(): string[] { return leaving; }, dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: this.self, what: `vpc mode=${mode}`, trust: trustedBy(this.host, name) };
    return convergeInStore(this.client, change, events);
  }

  /**
   * The new quotas, guest network or encryption go into the store's definition
   * (under the VPC's lock, so no admission decides on the old one after it is
   * written); the members' agents take it, and this follows them as deploy does.
   * A change of encryption is a new peer map (a seal block per pair, or none).
   */
  async setPolicy(input: SetInput, events: (o: SyncOutcome) => void): Promise<SetResult> {
    const name = input.vpc_name;
    const self = this.self;
    if (!givesPolicy(input) && input.encrypt === undefined) throw new UserError(`vpc mode=set needs something to change: ${[...POLICY_KEYS, 'encrypt'].map((k) => `${k}=`).join(', ')}`);
    let before: VpcWithMap | null = null;
    const next = (stored: VpcWithMap | null): VpcWithMap => {
      if (!stored) throw notInStore(name);
      const encrypt = checkSet(input, stored, self);
      before = stored;
      return { ...stored, ...(givesPolicy(input) ? policyFrom(input, policyOf(stored), stored.peerNetwork) : {}), encrypt };
    };
    const result = await convergeInStore(this.client, { name, next, leaving: [], dryrun: input.dryrun ?? false, timeoutMs: convergeTimeoutMs(), by: self, what: 'vpc mode=set', trust: trustedBy(this.host, name) }, (e) => {
      if (e.type === 'host' && e.outcome.host !== self) events(asSynced(e.outcome));
    });
    const was = before as VpcWithMap | null;
    if (!was) throw notInStore(name);
    const encrypt = was.encrypt ?? 'none';
    const mine = result.hosts.find((h) => h.host === self);
    const after = givesPolicy(input) ? policyFrom(input, policyOf(was), was.peerNetwork) : policyOf(was);
    return { vpc: name, dryrun: result.dryrun, before: policyOf(was), after, encryptBefore: encrypt, encryptAfter: input.encrypt ?? encrypt, hosts: result.hosts.filter((h) => h.host !== self).map(asSynced), ok: result.ok && (mine?.ok ?? true) };
  }

  async teardown(mode: 'collapse' | 'destroy', input: Named, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
    if (input.dryrun) throw new UserError(`vpc mode=${mode} dryrun=1 is not available with backend=etcd yet`);
    if (mode === 'collapse') return this.collapse(input.vpc_name, events);
    const started = Date.now();
    const self = this.self;
    events({ type: 'checking', vpc: input.vpc_name, peers: 0 });
    const r = await destroyInStore(this.client, input.vpc_name, convergeTimeoutMs(), self, trustedBy(this.host, input.vpc_name));
    const secs = Number(((Date.now() - started) / 1000).toFixed(2));
    const hosts = r.members.filter((m) => m !== self).map((m) => ({ host: m, ok: r.gone.includes(m), error: r.gone.includes(m) ? null : 'its agent did not take the VPC down in time (it does when it runs)', changes: null, seconds: secs }));
    for (const o of hosts) events({ type: 'torn_down', outcome: o });
    return { vpc: input.vpc_name, mode, ok: r.pending.length === 0, dryrun: false, hosts, self: { node: self, ops: [], commands: [], applied: true }, done: r.gone.length, members: r.members.length };
  }

  /**
   * The definition is written back as collapsed (under the VPC's lock, as any
   * change); every member's agent takes its network down and keeps the
   * definition, which this follows as deploy does. A later deploy writes it
   * back as it was, and the agents bring it up.
   */
  private async collapse(name: string, events: (e: TeardownEvent) => void): Promise<TeardownResult> {
    const self = this.self;
    events({ type: 'checking', vpc: name, peers: 0 });
    const next = (stored: VpcWithMap | null): VpcWithMap => {
      if (!stored) throw notInStore(name);
      if (!stored.members.some((m) => m.node === self)) throw new UserError(`${self} is not a member of ${name}: only a member may collapse it`, 'conflict');
      return stored;
    };
    const r = await convergeInStore(this.client, { name, next, leaving: [], dryrun: false, timeoutMs: convergeTimeoutMs(), by: self, what: 'vpc mode=collapse', trust: trustedBy(this.host, name), collapsed: true }, () => undefined);
    const outcome = (h: HostOutcome): TeardownOutcome => ({ host: h.host, ok: h.ok, error: h.error, changes: h.changes, seconds: Number(h.seconds.toFixed(2)) });
    const hosts = r.hosts.filter((h) => h.host !== self).map(outcome);
    for (const o of hosts) events({ type: 'torn_down', outcome: o });
    const mine = r.hosts.find((h) => h.host === self);
    return { vpc: name, mode: 'collapse', ok: r.ok, dryrun: false, hosts, self: { node: self, ops: [], commands: [], applied: mine?.ok ?? false }, done: r.hosts.filter((h) => h.ok).length, members: r.members };
  }

  admit<T>(a: Admission, record: (addr: Admitted) => Promise<T> | T): Promise<T> {
    return admitInStore(this.host, this.client, a, record);
  }

  /** Counted as admissions count them, from the store. */
  async counted(vpc: VpcWithMap, here: readonly GuestOnHost[]): Promise<{ guests: GuestOnHost[]; stale: string[] }> {
    return { guests: await countedInStore(this.client, vpc.name, here), stale: [] };
  }

  /** This host writes its own guests under its own keys; every agent watches them. */
  async guestsChanged(vpcs: readonly string[]): Promise<string[]> {
    const { refreshFdb } = await import('./vpc-local.js');
    const { eachVpc, fdbReport } = await import('./guest-reports.js');
    return eachVpc(this.host, vpcs, async (vpc) => {
      await publishGuests(this.host, this.client, vpc.name, await fdbReport(this.host, vpc.name));
      if ((vpc.fdb ?? 'learn') === 'control') await refreshFdb(this.host, vpc.name);
      return [];
    });
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}
