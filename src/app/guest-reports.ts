/**
 * How the members of a VPC with fdb=control learn each other's guests on the
 * embedded backend (SSH push): each host speaks for its own guests only.
 *
 * A host tells a member its full list of guests on the VPC (`guest_report`)
 * whenever that list is not what the member last took (a digest per member),
 * and the member answers with its own list, so one call tells both ways.
 * A host with no guests tells nobody until it has some: it needs no one's
 * entries (nothing of its own sends ARP), and whoever has guests tells it and
 * hears its empty list in the answer. So a new VPC costs no calls at all, and
 * a change of guests costs one call per member that must hear of it.
 *
 * Best effort: a member that cannot be told now keeps its old entries (and
 * this host keeps flooding to it only if it never heard from it); the digest
 * stays stale, so the next change or apply here tells it again.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../core/errors.js';
import type { GuestOnHost, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { atomically } from '../store/tx.js';
import type { Host } from './host.js';
import { guestsHere } from './guest-guard.js';
import { fdbReady } from './fdb.js';
import { getClusterConfig } from '../store/cluster-config.js';

/**
 * This host's guests on the VPC as the control plane tells them: a guest that
 * does not run at the MAC derived for it (started before the VPC's mode was
 * known) is told as not running, so no member points its address anywhere;
 * it still counts for quotas and addresses.
 */
export async function fdbReport(host: Host, vpc: string): Promise<GuestOnHost[]> {
  const ready = fdbReady(host, vpc);
  return (await guestsHere(host, vpc)).map((g) => (g.running && !ready.has(g.name) ? { ...g, running: false } : g));
}

/** Members told at once (each is one SSH call). */
const TELL_LIMIT = 16;

/** What a report says, in a stable order: names, addresses and whether each runs. */
export function reportDigest(guests: readonly GuestOnHost[]): string {
  const rows = guests.map((g) => [g.name, g.kind, g.ip4Addr, g.ip6Addr, g.running]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 32);
}

export interface Told {
  readonly vpc: string;
  /** Members that took this host's report (and answered with theirs). */
  readonly told: readonly string[];
  /** Members that could not be told, and why. */
  readonly failed: readonly { readonly node: string; readonly error: string }[];
}

/**
 * Tell every member that has not taken it this host's current report on
 * `vpc`; `all`: every member, whatever it took before (a host back from a
 * reboot does not know what changed while it was away).
 */
export async function tellMembers(host: Host, vpc: VpcWithMap, all = false): Promise<Told> {
  const none: Told = { vpc: vpc.name, told: [], failed: [] };
  const self = host.self.nodename;
  if ((vpc.fdb ?? 'learn') !== 'control' || !vpc.members.some((m) => m.node === self)) return none;
  const report = await fdbReport(host, vpc.name);
  const digest = reportDigest(report);
  const others = vpc.members.map((m) => m.node).filter((n) => n !== self);
  const due = others.filter((n) => {
    const before = repo.toldDigest(host.db, vpc.name, n);
    if (before === digest && !all) return false;
    // Nothing to tell a member that never heard of this host's guests: there are none.
    return report.length > 0 || before !== null;
  });
  if (due.length === 0) return none;
  const { Peers } = await import('../cluster/peers.js');
  const { fanout } = await import('../cluster/fanout.js');
  const { guestsFromWire } = await import('../cluster/wire.js');
  const peers = new Peers(host.home);
  try {
    const outcomes = await fanout(due, TELL_LIMIT, async (name) => {
      const node = repo.getNode(host.db, name);
      if (!node) throw new UserError(`${name} is not a known node here`, 'not_found');
      const answer = guestsFromWire(await peers.call(node, { op: 'guest_report', vpc: vpc.name, node: self, guests: report }), name, vpc.name);
      atomically(host.db, () => {
        repo.putSeen(host.db, vpc.name, name, answer.guests);
        repo.putTold(host.db, vpc.name, name, digest);
      });
    });
    // A member that cannot take reports (an older meshvpc, one whose copy learns) is not asked
    // again until this host's report changes: it is flooded to meanwhile, which loses nothing.
    const cannot = outcomes.filter((o) => !o.ok && (/unknown op/.test(o.error) || /takes no guest report/.test(o.error)));
    if (cannot.length > 0) atomically(host.db, () => cannot.forEach((o) => repo.putTold(host.db, vpc.name, o.key, digest)));
    return {
      vpc: vpc.name,
      told: outcomes.filter((o) => o.ok).map((o) => o.key),
      failed: outcomes.flatMap((o) => (o.ok ? [] : [{ node: o.key, error: o.error.split('\n')[0] ?? '' }])),
    };
  } finally {
    peers.close();
  }
}

/**
 * A member's report arrived: it speaks for its own guests on a VPC it is a
 * member of (as this host holds the VPC), and nothing else. Stored; the
 * caller then refreshes the bridge and answers with this host's own list.
 */
export async function takeReport(host: Host, caller: string, vpc: VpcWithMap, guests: readonly GuestOnHost[]): Promise<GuestOnHost[]> {
  if (!vpc.members.some((m) => m.node === caller)) throw new UserError(`${caller} is not a member of ${vpc.name} on ${host.self.nodename}: it cannot report guests on it`, 'conflict');
  // A host whose copy of the VPC learns (a 0.4 host upgraded, not yet told the mode) takes no
  // report: the caller then keeps flooding to it rather than trusting a list it did not apply.
  if ((vpc.fdb ?? 'learn') !== 'control') throw new UserError(`${vpc.name} learns MACs on ${host.self.nodename} (fdb=${vpc.fdb ?? 'learn'}): it takes no guest report`, 'conflict');
  const mine = await fdbReport(host, vpc.name);
  atomically(host.db, () => {
    repo.putSeen(host.db, vpc.name, caller, guests);
    // The answer carries this host's list: the caller takes it now.
    repo.putTold(host.db, vpc.name, caller, reportDigest(mine));
  });
  return mine;
}

/**
 * On a VPC with fdb=control a guest's MAC comes from its name (core/mac.ts):
 * a name another member reported is refused here, before anything is made.
 */
export function checkGuestName(host: Host, vpc: VpcWithMap, name: string): void {
  if ((vpc.fdb ?? 'learn') !== 'control') return;
  const self = host.self.nodename;
  const holder = repo.getSeen(host.db, vpc.name).find((g) => g.name === name && g.node !== self && vpc.members.some((m) => m.node === g.node));
  if (holder) {
    throw new UserError(`guest name ${name} is taken on ${vpc.name} by ${holder.node}: a VPC with fdb=control holds each guest name once (its MAC comes from the name); remove it there first or pick another name`, 'conflict');
  }
}

/**
 * A guest came, went, started or stopped here: the bridges of its VPCs with
 * fdb=control here, then every member that must hear of it. Best effort (the
 * guest itself is done): what could not be done is returned, and the next
 * change or apply does it.
 */
/** `fn` for each VPC this host holds among `vpcs` (once each); what it could not do, a line per failure. */
export async function eachVpc(host: Host, vpcs: readonly string[], fn: (vpc: VpcWithMap) => Promise<readonly string[]>): Promise<string[]> {
  const missed: string[] = [];
  for (const name of new Set(vpcs)) {
    const vpc = repo.getVpc(host.db, name);
    if (!vpc) continue;
    try {
      missed.push(...(await fn(vpc)));
    } catch (e) {
      missed.push(`${name}: ${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)}`);
    }
  }
  return missed;
}

export async function guestsChanged(host: Host, vpcs: readonly string[]): Promise<string[]> {
  const { withClusterStore } = await import('./cluster-store.js');
  return withClusterStore(host, (store) => store.guestsChanged(vpcs));
}

/** tellMembers by name, after an apply: best effort, never failing the apply that made the network. */
export async function tellMembersOf(host: Host, name: string, all = false): Promise<Told | null> {
  const vpc = repo.getVpc(host.db, name);
  // backend=etcd: members read each other's guests from the store, nobody is called.
  if (!vpc || !repo.getLocal(host.db, name).bridge || getClusterConfig(host.db)) return null;
  return tellMembers(host, vpc, all).catch((e: unknown) => ({ vpc: name, told: [], failed: [{ node: '*', error: e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e) }] }));
}
