/**
 * Cluster-wide admission of a new guest to a VPC that has a quota or a guest
 * network: the count and the address are decided over every member's guests,
 * not this host's alone.
 *
 * Why two hosts cannot both take the last slot (or one address): every guarded
 * creation, on any member, first takes the VPC's guest lease on one host, the
 * arbiter (the VPC's first member by name: every member computes the same one
 * from the synced definition). Holding it, the creator asks every member for
 * its guests, decides, and records its own guest in its database before it
 * gives the lease back. So creations in one VPC run one at a time cluster-
 * wide, and each one counts every guest recorded by those before it.
 * A lease has a time to live, so a creator that dies does not block the VPC
 * for ever; a creator that finds it has held the lease longer than that gives
 * up before recording anything, since it can no longer be sure it still held it.
 *
 * Fail closed: an unreachable arbiter or member refuses the creation, unless
 * force=1. With force=1 an unreachable member's last report (guest_seen)
 * still counts, so its addresses are not handed out again; without the
 * arbiter, force=1 goes on without the lease and says so.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.js';
import { checkGuestNetwork, type IpamState } from '../core/ipam.js';
import type { GuestUse } from '../core/quota.js';
import { decideAdmission } from '../core/admission.js';
import { guestOnVpcs, needsAdmission, quotaOf, type AddressWish } from '../core/guests.js';
import type { GuestOnHost, GuestRecord, NodeRecord, VpcWithMap } from '../core/types.js';

export type { AddressWish } from '../core/guests.js';
import * as v from '../core/validate.js';
import * as repo from '../store/repo.js';
import { exclusively } from '../store/tx.js';
import { lockTimeoutMs } from '../store/lock.js';
import type { Host } from './host.js';
import { VERSION } from '../core/version.js';

/** Long enough for any creation (a VM's boot is not waited for), short enough that a dead holder frees the VPC soon. */
export const LEASE_TTL_MS = 60_000;
/** How long one guest_hold call waits on the arbiter before answering busy (below the SSH call deadline). */
const HOLD_WAIT_MS = 20_000;
const POLL_MS = 100;


export interface Admission {
  readonly vpc: VpcWithMap;
  readonly adding: GuestUse;
  readonly ip4: AddressWish;
  readonly ip6: AddressWish;
  readonly force: boolean;
  /** Leases taken before this one (a guest on several VPCs): they must still hold when it is recorded. */
  readonly outer?: () => void;
}

export interface Admitted {
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
  /** Members that could not be asked (force=1): their last report was counted instead. */
  readonly uncounted: readonly string[];
  /**
   * Throws unless every lease this admission rests on is still surely held:
   * called again right before the guest is stored when more waiting came
   * between (the next VPC's lease of a guest on several VPCs).
   */
  readonly stillHeld: () => void;
}

/** What `guest_list` answers: this host's guests (on one VPC, or all) and its bridge addresses on that VPC. */
export async function guestListHere(host: Host, vpc?: string): Promise<{ guests: GuestOnHost[]; bridgeIps: string[] }> {
  return { guests: await guestsHere(host, vpc), bridgeIps: vpc === undefined ? [] : repo.getLocal(host.db, vpc).bridgeIps.map((c) => c.split('/')[0] as string) };
}

/** Whether a guest runs: a container by its namespace (one listing for all), a VM by its process's identity. */
export async function runningCheck(host: Host): Promise<(g: GuestRecord) => Promise<boolean>> {
  const namespaces = new Set(await host.driver.runningGuests());
  return async (g) => (g.kind === 'vm' ? ((await host.driver.vm?.running(g.guestId)) ?? false) : namespaces.has(g.name));
}

/** This host's guests (on one VPC, or all), as peers are told them. */
export async function guestsHere(host: Host, vpc?: string): Promise<GuestOnHost[]> {
  const running = await runningCheck(host);
  const out: GuestOnHost[] = [];
  for (const g of repo.listGuests(host.db)) {
    out.push(...guestOnVpcs(host.self.nodename, g, await running(g)).filter((x) => vpc === undefined || x.interface === vpc));
  }
  return out;
}

/** The guest network as the allocator takes it, re-checked (a definition stored by an older build is not trusted blindly), with the bridges' addresses. */
export function ipamOf(vpc: VpcWithMap, bridgeIps: readonly string[]): Omit<IpamState, 'used'> | null {
  const g = vpc.guestNetwork ?? null;
  if (g === null) return null;
  const guests = checkGuestNetwork(v.network(g.network, 'guest_network'), g.gateway, v.network(vpc.peerNetwork, 'peer_network'));
  return { guests, bridgeIps };
}

/** Refusals that need nothing but the definition: asked before any lease or peer. */
export function checkWishes(vpc: VpcWithMap, ip4: AddressWish, ip6: AddressWish): void {
  const g = vpc.guestNetwork ?? null;
  for (const [wish, family, key] of [[ip4, 4, 'ip4_addr'], [ip6, 6, 'ip6_addr']] as const) {
    if (wish !== 'auto') continue;
    if (g === null) throw new UserError(`${key}=auto needs a guest network on ${vpc.name}: meshvpc vpc mode=set vpc_name=${vpc.name} guest_network=CIDR`);
    if (!g.network.includes(':') !== (family === 4)) throw new UserError(`${key}=auto: ${vpc.name}'s guest network ${g.network} is IPv${family === 4 ? 6 : 4}; use ${family === 4 ? 'ip6' : 'ip4'}_addr=auto`);
  }
}

/** The arbiter every member agrees on: the first member by name. */
export const arbiterOf = (vpc: VpcWithMap): string | null => [...vpc.members.map((m) => m.node)].sort()[0] ?? null;

/** Take the lease here (this host is the arbiter), waiting up to `waitMs`. */
export async function holdHere(host: Host, vpc: string, holder: string, token: string, ttlMs: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    // Look before taking the write lock: many waiters polling with write transactions
    // would starve the other writers of this database (each waits at most busy_timeout).
    const busy = repo.leaseHolder(host.db, vpc, token) ?? exclusively(host.db, () => repo.tryLease(host.db, vpc, holder, token, ttlMs));
    if (!busy) return;
    if (Date.now() >= deadline) {
      throw new UserError(`${vpc} is busy: ${busy.holder} is adding a guest to it (its lease on ${host.self.nodename} ends in ${Math.ceil((busy.expiresMs - Date.now()) / 1000)}s); try again later`, 'busy');
    }
    await new Promise((r) => setTimeout(r, POLL_MS + Math.random() * POLL_MS));
  }
}

interface Lease {
  release(): Promise<void>;
  /** When it was taken: past the TTL it may have passed to someone else. */
  readonly since: number;
}

export type Call = <T>(node: NodeRecord, req: Parameters<import('../cluster/peers.js').Peers['call']>[1]) => Promise<T>;

/** What to say about a member whose meshvpc predates guest counting: both versions, and what to do. */
async function olderPeer(node: NodeRecord, call: Call): Promise<string> {
  const { peerVersion } = await import('./peer-version.js');
  return `${node.name} runs meshvpc ${await peerVersion(node, call)} (this host ${VERSION}), which cannot count or hold guests for a quota or guest network: upgrade it`;
}

async function takeLease(host: Host, vpc: string, arbiter: string, call: Call): Promise<Lease> {
  const token = randomBytes(16).toString('hex');
  const since = Date.now();
  const self = host.self.nodename;
  if (arbiter === self) {
    await holdHere(host, vpc, self, token, LEASE_TTL_MS, lockTimeoutMs());
    return { since, release: async () => void repo.releaseLease(host.db, vpc, token) };
  }
  const node = repo.getNode(host.db, arbiter);
  if (!node) throw new UserError(`${vpc}'s arbiter ${arbiter} is not a known node here (meshvpc node mode=list)`, 'not_found');
  const deadline = Date.now() + lockTimeoutMs();
  for (;;) {
    try {
      await call(node, { op: 'guest_hold', vpc, token, ttl_ms: LEASE_TTL_MS, wait_ms: Math.max(0, Math.min(HOLD_WAIT_MS, deadline - Date.now())) });
      break;
    } catch (e) {
      if (e instanceof UserError && /unknown op/.test(e.message)) throw new UserError(await olderPeer(node, call), 'conflict');
      if (!(e instanceof UserError && e.kind === 'busy') || Date.now() >= deadline) throw e;
    }
  }
  return { since, release: () => call(node, { op: 'guest_release', vpc, token }).then(() => undefined) };
}

/** One member's answer: its guests on the VPC, or why it could not say. */
export type Asked =
  | { readonly name: string; readonly ok: true; readonly guests: GuestOnHost[]; readonly bridgeIps: string[] }
  | { readonly name: string; readonly ok: false; readonly error: string };

/** Every other member's guests on the VPC, asked concurrently; each reply checked. */
export async function askMembers(host: Host, vpc: VpcWithMap, call: Call): Promise<Asked[]> {
  const { guestsFromWire } = await import('../cluster/wire.js');
  const self = host.self.nodename;
  const others = vpc.members.map((m) => m.node).filter((n) => n !== self);
  return Promise.all(
    others.map(async (name): Promise<Asked> => {
      const node = repo.getNode(host.db, name);
      try {
        if (!node) throw new UserError(`${name} is not a known node here`, 'not_found');
        return { name, ok: true, ...guestsFromWire(await call(node, { op: 'guest_list', vpc: vpc.name }), name, vpc.name) };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        return { name, ok: false, error: node && /unknown op/.test(error) ? await olderPeer(node, call) : error };
      }
    }),
  );
}

/**
 * Admit one guest: take the lease, count every member's guests, check the
 * quota and the addresses, then `record` it (in this host's database) while
 * the lease is held. Without a quota or guest network, `record` runs at once.
 */
export async function admit<T>(host: Host, a: Admission, record: (addr: Admitted) => Promise<T> | T): Promise<T> {
  const { vpc } = a;
  checkWishes(vpc, a.ip4, a.ip6);
  const text = (w: AddressWish): string | null => (w === null || w === 'auto' ? null : v.cidrText(w));
  const outer = a.outer ?? ((): void => undefined);
  if (!needsAdmission(vpc, a.ip4, a.ip6)) return record({ ip4Addr: text(a.ip4), ip6Addr: text(a.ip6), uncounted: [], stillHeld: outer });
  const { withClusterStore } = await import('./cluster-store.js');
  return withClusterStore(host, (store) => store.admit(a, record));
}

/**
 * Admission on the embedded backend: take the lease on the VPC's arbiter
 * member, count every member's guests (a member that does not answer by its
 * last report, with force=1), decide, then `record` while the lease is held.
 */
export async function admitByArbiter<T>(host: Host, a: Admission, record: (addr: Admitted) => Promise<T> | T, call: Call): Promise<T> {
  const outer = a.outer ?? ((): void => undefined);
  const vpc = a.vpc;
  const arbiter = arbiterOf(vpc) ?? host.self.nodename;
  let lease: Lease | null = null;
  try {
    lease = await takeLease(host, vpc.name, arbiter, call);
  } catch (e) {
    // force=1 goes on without an arbiter that cannot be reached (or is not known here), and says so in its result.
    if (!(a.force && e instanceof UserError && (e.kind === 'unreachable' || e.kind === 'not_found'))) throw e;
  }
  try {
    // Read again under the lease: a vpc mode=set may have changed the quota or guest network meanwhile.
    const vpc = repo.getVpc(host.db, a.vpc.name) ?? a.vpc;
    const asked = await askMembers(host, vpc, call);
    const here = await guestsHere(host, vpc.name);
    const failed = asked.filter((r) => !r.ok);
    if (failed.length > 0 && !a.force) {
      const why = failed.map((r) => (r.ok ? '' : r.error.split('\n')[0])).join('; ');
      throw new UserError(`cannot count ${vpc.name}'s guests on every member (${why}); force=1 counts ${failed.length === 1 ? 'that member' : 'those members'} by ${failed.length === 1 ? 'its' : 'their'} last report`, 'unreachable');
    }
    const reported = asked.flatMap((r) => (r.ok ? r.guests : []));
    const stale = failed.flatMap((r) => repo.getSeen(host.db, vpc.name, r.name));
    // Every member's bridge addresses in the guest network are taken too (one L2 segment).
    const bridges = asked.flatMap((r) => (r.ok ? r.bridgeIps : []));
    const all = [...here, ...reported, ...stale];
    const ipam = ipamOf(vpc, [...repo.getLocal(host.db, vpc.name).bridgeIps, ...bridges]);
    const { ip4Addr, ip6Addr } = decideAdmission({ vpc: vpc.name, quota: quotaOf(vpc), ipam, guests: all, adding: a.adding, ip4: a.ip4, ip6: a.ip6 });
    const held = lease;
    const stillHeld = (): void => {
      outer();
      if (held && Date.now() - held.since > LEASE_TTL_MS * 0.8) {
        throw new UserError(`${vpc.name}: adding the guest took longer than its guest lease allows (${LEASE_TTL_MS / 1000}s); nothing was created, try again`, 'busy');
      }
    };
    stillHeld();
    // Remembered only once admitted: a refusal leaves this host's database as it was.
    exclusively(host.db, () => {
      // A member whose control-plane report is held here keeps it (it is kept current by the
      // member itself, with the running flag the FDB needs); the others' answers are counts.
      const heard = repo.heardFrom(host.db, vpc.name);
      for (const r of asked) if (r.ok && !heard.has(r.name)) repo.putSeen(host.db, vpc.name, r.name, r.guests, false);
    });
    return await record({ ip4Addr, ip6Addr, uncounted: failed.map((r) => r.name), stillHeld });
  } finally {
    await lease?.release().catch(() => undefined);
  }
}
