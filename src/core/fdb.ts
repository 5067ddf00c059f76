/**
 * Control-plane FDB (fdb=control): every member knows each guest's MAC (it
 * derives it from the VPC and the guest's name, core/mac.ts) and address
 * (the guest's host reported it), so instead of flooding to learn them a
 * bridge gets, for every guest of the VPC:
 * - a static FDB entry: its MAC behind the tunnel to its host (or its own
 *   port, for a guest here);
 * - a permanent neighbour entry on the bridge: its address at its MAC.
 * Tunnel ports get `neigh_suppress`, so the bridge answers ARP and ND for a
 * known guest itself and never sends such a request across a tunnel, and
 * unknown-unicast flooding is turned off on the tunnel to every peer whose
 * guests are all known (it reported them). A peer that never reported (an
 * older meshvpc, one not reached yet) keeps flooding: nothing is lost, it
 * only costs what fdb=learn costs.
 *
 * Touches only what it owns: entries are removed only when an earlier apply
 * recorded them as meshvpc's and they still say what it set; a static entry
 * or permanent neighbour someone else put on the bridge is left alone.
 * An address two guests claim gets no neighbour entry at all (ARP floods
 * for it, as without the control plane), and a guest name two peers report
 * gets no entry either (a guest here keeps its own): a member cannot take
 * over another's guest or address by reporting it.
 */
import { bridgeMac, vpcGuestMac } from './mac.js';

export type FdbMode = 'learn' | 'control';
export const FDB_MODES: readonly FdbMode[] = ['learn', 'control'];

export interface FdbEntry {
  readonly mac: string;
  /** The bridge port frames for `mac` leave by: a tunnel, or a guest's own port. */
  readonly port: string;
}

export interface NeighEntry {
  /** A bare address (no prefix length). */
  readonly ip: string;
  readonly mac: string;
}

export interface PortFlags {
  readonly name: string;
  readonly suppress: boolean;
  readonly flood: boolean;
}

/** What an earlier apply put on the bridge: the only entries this module ever removes. */
export interface FdbRecord {
  readonly entries: readonly FdbEntry[];
  readonly neighbours: readonly NeighEntry[];
}
export const EMPTY_RECORD: FdbRecord = { entries: [], neighbours: [] };

export interface ObservedFdb {
  /**
   * Entries on the bridge's ports that do not age: static (what meshvpc sets) and permanent
   * (`fixed`: set by someone else, or a port's own address; never meshvpc's to change).
   */
  readonly entries: readonly (FdbEntry & { readonly fixed?: boolean })[];
  /** Permanent neighbour entries on the bridge device (`fixed`: NOARP ones, never meshvpc's). */
  readonly neighbours: readonly (NeighEntry & { readonly fixed?: boolean })[];
  /** Every port of the bridge with its flags. */
  readonly ports: readonly PortFlags[];
}

export type FdbOp =
  | { readonly op: 'fdb_set'; readonly bridge: string; readonly mac: string; readonly port: string }
  | { readonly op: 'fdb_del'; readonly bridge: string; readonly mac: string; readonly port: string }
  | { readonly op: 'neigh_set'; readonly bridge: string; readonly ip: string; readonly mac: string }
  | { readonly op: 'neigh_del'; readonly bridge: string; readonly ip: string }
  | { readonly op: 'port_flags'; readonly bridge: string; readonly name: string; readonly suppress: boolean; readonly flood: boolean };

/** A guest's interface on the VPC, as its host reported it (addresses in CIDR form or null). */
export interface GuestNicReport {
  readonly name: string;
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
}

export interface FdbInput {
  readonly vpc: string;
  readonly self: string;
  readonly mode: FdbMode;
  /** This host's tunnels of the VPC: the port towards each peer. */
  readonly tunnels: readonly { readonly peer: string; readonly name: string }[];
  /** This host's running guests on the VPC, with the bridge port each sits on. */
  readonly localGuests: readonly (GuestNicReport & { readonly hostIf: string })[];
  /** Each peer whose report is known, with its running guests: a peer absent here keeps flooding. */
  readonly remoteGuests: ReadonlyMap<string, readonly GuestNicReport[]>;
  /** The far address of each of this host's pairs: it sits on that peer's bridge. */
  readonly farEnds: readonly { readonly peer: string; readonly ip: string }[];
  /** Addresses this host's bridge holds (bridge_ips and tunnel ends): never pointed elsewhere. */
  readonly ownAddresses: readonly string[];
}

export interface DesiredFdb {
  readonly bridge: string;
  readonly entries: readonly FdbEntry[];
  readonly neighbours: readonly NeighEntry[];
  readonly ports: readonly PortFlags[];
  /** Addresses left to ARP/ND because more than one MAC claims them (or this bridge holds them). */
  readonly contested: readonly string[];
}

const bare = (cidr: string): string => cidr.split('/')[0] as string;
/** One spelling per address, so "2001:db8::1" and "2001:DB8::1" are one claim. */
const key = (ip: string): string => ip.toLowerCase();

export function desiredFdb(input: FdbInput): DesiredFdb {
  const bridge = input.vpc;
  if (input.mode === 'learn') {
    return { bridge, entries: [], neighbours: [], ports: input.tunnels.map((t) => ({ name: t.name, suppress: false, flood: true })), contested: [] };
  }
  const tunnelTo = new Map(input.tunnels.map((t) => [t.peer, t.name]));
  // Where each guest MAC is: here (always wins), or behind one peer's tunnel; a name two peers report is nobody's.
  const place = new Map<string, { port: string; guest: GuestNicReport } | null>();
  const here = new Set<string>();
  for (const g of input.localGuests) {
    const mac = vpcGuestMac(input.vpc, g.name);
    place.set(mac, { port: g.hostIf, guest: g });
    here.add(mac);
  }
  for (const [peer, guests] of input.remoteGuests) {
    const port = tunnelTo.get(peer);
    if (port === undefined) continue;
    for (const g of guests) {
      const mac = vpcGuestMac(input.vpc, g.name);
      if (here.has(mac)) continue;
      place.set(mac, place.has(mac) ? null : { port, guest: g });
    }
  }
  const entries: FdbEntry[] = [];
  const claims = new Map<string, { ip: string; macs: Set<string> }>();
  const claim = (cidr: string | null, mac: string): void => {
    if (cidr === null) return;
    const ip = bare(cidr);
    const c = claims.get(key(ip)) ?? { ip, macs: new Set<string>() };
    c.macs.add(mac);
    claims.set(key(ip), c);
  };
  for (const [mac, p] of place) {
    if (p === null) continue;
    entries.push({ mac, port: p.port });
    claim(p.guest.ip4Addr, mac);
    claim(p.guest.ip6Addr, mac);
  }
  for (const t of input.tunnels) entries.push({ mac: bridgeMac(t.peer, input.vpc), port: t.name });
  for (const f of input.farEnds) if (tunnelTo.has(f.peer)) claim(f.ip, bridgeMac(f.peer, input.vpc));
  const own = new Set(input.ownAddresses.map((a) => key(bare(a))));
  const neighbours: NeighEntry[] = [];
  const contested: string[] = [];
  for (const [k, c] of claims) {
    if (c.macs.size === 1 && !own.has(k)) neighbours.push({ ip: c.ip, mac: [...c.macs][0] as string });
    else contested.push(c.ip);
  }
  const ports = input.tunnels.map((t) => ({ name: t.name, suppress: true, flood: !input.remoteGuests.has(t.peer) }));
  return { bridge, entries, neighbours, ports, contested };
}

export interface FdbPlan {
  readonly ops: readonly FdbOp[];
  /** What this host will own on the bridge once the ops ran. */
  readonly record: FdbRecord;
  /** Entries left alone because someone else set them. */
  readonly foreign: readonly string[];
}

/** The ops that take the bridge from `observed` to `desired`, removing only what `record` says meshvpc set. */
export function planFdb(desired: DesiredFdb, observed: ObservedFdb, record: FdbRecord): FdbPlan {
  const bridge = desired.bridge;
  const ports = new Set(observed.ports.map((p) => p.name));
  const ops: FdbOp[] = [];
  const foreign: string[] = [];

  const mineMac = new Map(record.entries.map((e) => [e.mac, e.port]));
  const seenMac = new Map(observed.entries.filter((e) => !e.fixed).map((e) => [e.mac, e.port]));
  const fixedMac = new Map(observed.entries.filter((e) => e.fixed).map((e) => [e.mac, e.port]));
  const wantMac = new Set(desired.entries.map((e) => e.mac));
  const keptEntries: FdbEntry[] = [];
  for (const d of desired.entries) {
    if (!ports.has(d.port)) continue;
    const pinned = fixedMac.get(d.mac);
    if (pinned !== undefined) {
      foreign.push(`FDB entry ${d.mac} on ${pinned}`);
      continue;
    }
    const now = seenMac.get(d.mac);
    if (now === d.port) {
      keptEntries.push(d);
      continue;
    }
    if (now !== undefined && mineMac.get(d.mac) !== now) {
      foreign.push(`FDB entry ${d.mac} on ${now}`);
      continue;
    }
    ops.push({ op: 'fdb_set', bridge, mac: d.mac, port: d.port });
    keptEntries.push(d);
  }
  for (const r of record.entries) {
    if (!wantMac.has(r.mac) && seenMac.get(r.mac) === r.port) ops.push({ op: 'fdb_del', bridge, mac: r.mac, port: r.port });
  }

  const mineIp = new Map(record.neighbours.map((n) => [key(n.ip), n.mac]));
  const seenIp = new Map(observed.neighbours.filter((n) => !n.fixed).map((n) => [key(n.ip), n.mac]));
  const fixedIp = new Map(observed.neighbours.filter((n) => n.fixed).map((n) => [key(n.ip), n.mac]));
  const wantIp = new Set(desired.neighbours.map((n) => key(n.ip)));
  const keptNeighbours: NeighEntry[] = [];
  for (const d of desired.neighbours) {
    const pinned = fixedIp.get(key(d.ip));
    if (pinned !== undefined) {
      foreign.push(`neighbour ${d.ip} at ${pinned}`);
      continue;
    }
    const now = seenIp.get(key(d.ip));
    if (now === d.mac) {
      keptNeighbours.push(d);
      continue;
    }
    if (now !== undefined && mineIp.get(key(d.ip)) !== now) {
      foreign.push(`neighbour ${d.ip} at ${now}`);
      continue;
    }
    ops.push({ op: 'neigh_set', bridge, ip: d.ip, mac: d.mac });
    keptNeighbours.push(d);
  }
  for (const r of record.neighbours) {
    if (!wantIp.has(key(r.ip)) && seenIp.get(key(r.ip)) === r.mac) ops.push({ op: 'neigh_del', bridge, ip: r.ip });
  }

  const flags = new Map(observed.ports.map((p) => [p.name, p]));
  for (const want of desired.ports) {
    const now = flags.get(want.name);
    if (now && (now.suppress !== want.suppress || now.flood !== want.flood)) ops.push({ op: 'port_flags', bridge, ...want });
  }
  return { ops, record: { entries: keptEntries, neighbours: keptNeighbours }, foreign };
}

/** Everything an apply may leave behind before it ran: the old record and the new, so a crash strands nothing unrecorded. */
export function recordUnion(a: FdbRecord, b: FdbRecord): FdbRecord {
  const entries = new Map(a.entries.map((e) => [`${e.mac} ${e.port}`, e]));
  for (const e of b.entries) entries.set(`${e.mac} ${e.port}`, e);
  const neighbours = new Map(a.neighbours.map((n) => [`${key(n.ip)} ${n.mac}`, n]));
  for (const n of b.neighbours) neighbours.set(`${key(n.ip)} ${n.mac}`, n);
  return { entries: [...entries.values()], neighbours: [...neighbours.values()] };
}
