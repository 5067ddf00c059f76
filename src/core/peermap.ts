/**
 * The peer map: one point-to-point tunnel per pair of VPC members, each with a
 * VXLAN id of its own and a 4-address block (/30 on IPv4, /126 on IPv6) cut
 * from the VPC's peer network.
 *
 * Stability is the point: a pair that exists keeps its VNI and block when
 * members come or go, so the tunnels that carry traffic are never renumbered.
 * New pairs take the lowest free block and the lowest VNI that no VPC of the
 * cluster uses.
 */
import { UserError } from './errors.js';
import { size, nth } from './ipnet.js';
import { cidrText, type Cidr } from './validate.js';

export const VNI_MIN = 100;
export const VNI_MAX = 16_777_215;
/** Addresses per tunnel block: network, two ends, broadcast. */
const BLOCK = 4n;

export interface Pair {
  /** Lower node name of the two (pairs are unordered; this keeps them canonical). */
  readonly a: string;
  readonly b: string;
  readonly vni: number;
  /** Index of the block inside the peer network. */
  readonly slot: number;
  readonly addrA: string;
  readonly addrB: string;
  /** Prefix length of the block: 30 on IPv4, 126 on IPv6. */
  readonly prefix: number;
  /**
   * An encrypted VPC's pairs hold a second block of the peer network: its two
   * addresses sit on the hosts' WireGuard link and carry the pair's VXLAN
   * tunnel (see seal.ts). Absent (or null) in a cleartext VPC.
   */
  readonly sealSlot?: number | null;
}

export function pairKey(x: string, y: string): string {
  return x < y ? `${x}\u0000${y}` : `${y}\u0000${x}`;
}

/** How many tunnel blocks a peer network holds. */
export function capacity(net: Cidr): number {
  const blocks = size(net) / BLOCK;
  return blocks > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(blocks);
}

export const pairsNeeded = (members: number): number => (members * (members - 1)) / 2;

export function blockFor(net: Cidr, slot: number): Pick<Pair, 'addrA' | 'addrB' | 'prefix'> {
  const start = BigInt(slot) * BLOCK;
  return { addrA: nth(net, start + 1n), addrB: nth(net, start + 2n), prefix: net.family === 4 ? 30 : 126 };
}

export interface AllocateInput {
  readonly members: readonly string[];
  readonly network: Cidr;
  /** The map as it stands; pairs whose ends are both still members are kept as they are. */
  readonly existing: readonly Pair[];
  /** VNIs taken by the other VPCs of the cluster. */
  readonly takenVnis: ReadonlySet<number>;
  /**
   * Where a new pair starts looking for a free VNI (default: the lowest free
   * one). After a race, a start derived from the VPC and the pair keeps two
   * VPCs that lost the same id from picking the same next one.
   */
  readonly vniStart?: (a: string, b: string) => number;
  /** encrypt=wireguard: every pair also takes a seal block (kept where it has one). */
  readonly sealed?: boolean;
}

/** A start in VNI_MIN..VNI_MAX derived from a VPC and a pair (FNV-1a): spread out, the same on every run. */
export function hashedVniStart(vpc: string): (a: string, b: string) => number {
  return (a, b) => {
    let h = 0x811c9dc5;
    for (const ch of `${vpc}\u0000${a}\u0000${b}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    return VNI_MIN + (h % (VNI_MAX - VNI_MIN + 1));
  };
}

export function allocatePeerMap(input: AllocateInput): Pair[] {
  const members = [...new Set(input.members)].sort();
  const fits = capacity(input.network);
  const sealed = input.sealed === true;
  const needed = pairsNeeded(members.length);
  const block = `/${input.network.family === 4 ? 30 : 126}`;
  if (!sealed && needed > fits) {
    throw new UserError(
      `peer_network ${cidrText(input.network)} is too small: it holds ${fits} tunnel pair${fits === 1 ? '' : 's'} ` +
        `(one ${block} each), ${members.length} members need ${needed}`,
    );
  }
  if (sealed && needed * 2 > fits) {
    throw new UserError(
      `peer_network ${cidrText(input.network)} is too small: it holds ${fits} block${fits === 1 ? '' : 's'} (one ${block} each), ` +
        `and with encrypt=wireguard each pair takes two (its tunnel's and its WireGuard ends'): ${members.length} members need ${needed * 2}`,
    );
  }
  const memberSet = new Set(members);
  const kept = input.existing
    .filter((p) => memberSet.has(p.a) && memberSet.has(p.b) && p.slot < fits)
    // A seal block is kept only while the VPC is encrypted (and inside the network).
    .map((p): Pair => {
      const { sealSlot, ...rest } = p;
      return sealed && sealSlot !== undefined && sealSlot !== null && sealSlot < fits ? { ...rest, sealSlot } : rest;
    });
  const byKey = new Map(kept.map((p) => [pairKey(p.a, p.b), p]));
  const usedSlots = new Set(kept.flatMap((p) => (p.sealSlot === undefined || p.sealSlot === null ? [p.slot] : [p.slot, p.sealSlot])));
  const usedVnis = new Set([...input.takenVnis, ...kept.map((p) => p.vni)]);
  let nextSlot = 0;
  let nextVni = VNI_MIN;
  const result: Pair[] = [];
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      const a = members[i] as string;
      const b = members[j] as string;
      const old = byKey.get(pairKey(a, b));
      const freeSlot = (): number => {
        while (usedSlots.has(nextSlot)) nextSlot++;
        usedSlots.add(nextSlot);
        return nextSlot;
      };
      if (old) {
        result.push(sealed && (old.sealSlot === undefined || old.sealSlot === null) ? { ...old, sealSlot: freeSlot() } : old);
        continue;
      }
      const slot = freeSlot();
      const vni = input.vniStart ? probe(usedVnis, input.vniStart(a, b)) : (nextVni = probe(usedVnis, nextVni));
      usedVnis.add(vni);
      result.push({ a, b, vni, slot, ...blockFor(input.network, slot), ...(sealed ? { sealSlot: freeSlot() } : {}) });
    }
  }
  return result.sort((x, y) => x.slot - y.slot);
}

/** The first free VNI at or after `from`, wrapping once around the range. */
function probe(used: ReadonlySet<number>, from: number): number {
  const span = VNI_MAX - VNI_MIN + 1;
  const start = Math.min(Math.max(from, VNI_MIN), VNI_MAX) - VNI_MIN;
  for (let i = 0; i < span; i++) {
    const vni = VNI_MIN + ((start + i) % span);
    if (!used.has(vni)) return vni;
  }
  throw new UserError(`no free VXLAN id left (all of ${VNI_MIN}-${VNI_MAX} are taken)`);
}

/** The tunnels one host terminates, seen from that host. */
export interface TunnelEnd {
  readonly peer: string;
  readonly vni: number;
  readonly localAddr: string;
  readonly remoteAddr: string;
  readonly prefix: number;
}

export function tunnelsOf(pairs: readonly Pair[], self: string): TunnelEnd[] {
  return pairs
    .filter((p) => p.a === self || p.b === self)
    .map((p) =>
      p.a === self
        ? { peer: p.b, vni: p.vni, localAddr: p.addrA, remoteAddr: p.addrB, prefix: p.prefix }
        : { peer: p.a, vni: p.vni, localAddr: p.addrB, remoteAddr: p.addrA, prefix: p.prefix },
    );
}
