/**
 * Control-plane FDB on this host (core/fdb.ts): what the bridge of a VPC
 * should hold, from this host's own guests and the reports its peers gave
 * (app/guest-reports.ts), put there by the driver.
 */
import { desiredFdb, planFdb, recordUnion, type FdbOp, type GuestNicReport } from '../core/fdb.js';
import { nicsOf } from '../core/guests.js';
import type { HostSpec } from '../core/spec.js';
import type { GuestRecord, VpcWithMap } from '../core/types.js';
import * as repo from '../store/repo.js';
import { atomically } from '../store/tx.js';
import { guestMac, vpcGuestMac } from '../core/mac.js';
import { contains } from '../core/ipnet.js';
import * as v from '../core/validate.js';
import type { Host } from './host.js';

export interface FdbApplied {
  readonly ops: readonly FdbOp[];
  readonly commands: readonly string[][];
  /** Entries left alone because meshvpc did not set them. */
  readonly foreign: readonly string[];
}

const NOTHING: FdbApplied = { ops: [], commands: [], foreign: [] };

/**
 * What a member may claim for its guest: nothing in the VPC's tunnel network,
 * and, where the VPC has a guest network of that family, an address in it
 * that is not its gateway. Anything else is dropped from the claim (ARP finds
 * such a guest, as without the control plane).
 */
function plausibleAddress(vpc: VpcWithMap): (cidr: string | null) => string | null {
  const peers = v.network(vpc.peerNetwork, 'peer_network');
  const g = vpc.guestNetwork ?? null;
  const guests = g ? v.network(g.network, 'guest_network') : null;
  return (cidr) => {
    if (cidr === null) return null;
    const ip = cidr.split('/')[0] as string;
    const six = ip.includes(':');
    if (six === vpc.peerNetwork.includes(':') && contains(peers, ip)) return null;
    if (guests && six === g?.network.includes(':') && (!contains(guests, ip) || ip === g.gateway)) return null;
    return cidr;
  };
}

/** Bring the bridge of `vpc` in line with `spec` (just applied) and the reports held here. */
export async function reconcileFdb(host: Host, vpc: VpcWithMap, spec: HostSpec, dryrun: boolean): Promise<FdbApplied> {
  const driver = host.driver.fdb;
  const record = repo.getFdbRecord(host.db, vpc.name);
  const mode = vpc.fdb ?? 'learn';
  // Nothing to set and nothing of ours to take away (a learning bridge keeps the kernel's defaults): not even looked at.
  if (!driver || !spec.bridge || (mode === 'learn' && record.entries.length === 0 && record.neighbours.length === 0)) return NOTHING;
  // A dry run of a bridge that is not there yet has nothing to show.
  const observed = await driver.observe(spec.bridge.name).catch((e: unknown) => {
    if (dryrun) return null;
    throw e;
  });
  if (!observed) return NOTHING;
  const onBridge = new Set(observed.ports.map((p) => p.name));
  const self = host.self.nodename;
  const localGuests = repo.listGuests(host.db).flatMap((g) =>
    nicsOf(g)
      .filter((n, i) => n.vpc === vpc.name && onBridge.has(n.hostIf) && runsAtItsMac(g, vpc.name, i))
      .map((n) => ({ name: g.name, hostIf: n.hostIf, ip4Addr: n.ip4Addr, ip6Addr: n.ip6Addr })),
  );
  const heard = repo.heardFrom(host.db, vpc.name);
  const plausible = plausibleAddress(vpc);
  const remoteGuests = new Map<string, GuestNicReport[]>();
  for (const m of vpc.members) {
    if (m.node === self || !heard.has(m.node)) continue;
    const guests = repo.getSeen(host.db, vpc.name, m.node).filter((g) => g.running);
    remoteGuests.set(m.node, guests.map((g) => ({ name: g.name, ip4Addr: plausible(g.ip4Addr), ip6Addr: plausible(g.ip6Addr) })));
  }
  const farEnds = vpc.pairs.flatMap((p) => (p.a === self ? [{ peer: p.b, ip: p.addrB }] : p.b === self ? [{ peer: p.a, ip: p.addrA }] : []));
  const desired = desiredFdb({
    vpc: vpc.name,
    self,
    mode,
    tunnels: spec.tunnels.map((t) => ({ peer: t.peer, name: t.name })),
    localGuests,
    remoteGuests,
    farEnds,
    ownAddresses: spec.bridge.addresses,
  });
  const plan = planFdb(desired, observed, record);
  const commands = plan.ops.flatMap((op) => driver.commandsFor(op));
  if (dryrun || plan.ops.length === 0) {
    if (!dryrun) atomically(host.db, () => repo.putFdbRecord(host.db, vpc.name, plan.record));
    return { ops: plan.ops, commands, foreign: plan.foreign };
  }
  // Recorded before the kernel changes: a crash half way strands no entry meshvpc does not know it set.
  atomically(host.db, () => repo.putFdbRecord(host.db, vpc.name, recordUnion(record, plan.record)));
  await driver.apply(plan.ops);
  atomically(host.db, () => repo.putFdbRecord(host.db, vpc.name, plan.record));
  return { ops: plan.ops, commands, foreign: plan.foreign };
}

/**
 * Whether a guest's interface `nic` (on `vpc`) runs with the MAC the control
 * plane derives for it: one started before its VPC's mode was known (a host
 * upgraded from 0.4, say) keeps its old MAC until it restarts, and is left to
 * flooding and learning until then rather than pointed at a MAC it does not have.
 */
export const runsAtItsMac = (g: GuestRecord, vpc: string, nic: number): boolean => g.macs?.[nic] === vpcGuestMac(vpc, g.name);

/** Names of this host's guests on `vpc` that the control plane may speak of (running, at their derived MAC). */
export function fdbReady(host: Host, vpc: string): Set<string> {
  return new Set(repo.listGuests(host.db).flatMap((g) => (nicsOf(g).some((n, i) => n.vpc === vpc && runsAtItsMac(g, vpc, i)) ? [g.name] : [])));
}

/** The MAC of a guest's interface `nic` on `vpc` here: bound to the VPC and name on fdb=control (core/mac.ts). */
export function guestMacOn(host: Host, vpc: string, name: string, nic: number): string {
  return repo.getVpc(host.db, vpc)?.fdb === 'control' ? vpcGuestMac(vpc, name) : guestMac(host.self.nodename, name, nic);
}
