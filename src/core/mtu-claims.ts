/**
 * MTU through the whole chain. A host's routes say what leaves it, not what
 * the far end's link takes in: host3's underlay link at 1400 is invisible to
 * host1, whose route to host3 says 1500. So every host reports the MTU of its
 * own underlay link (hello), the deployer writes it into each member of the
 * VPC definition, and every host takes the smaller of its route, its own link
 * and the peer's link for that peer's tunnel.
 *
 * A member's claim can only lower a tunnel, and never below MIN_TUNNEL_MTU
 * (the IPv6 minimum): a link smaller than that is clamped, not obeyed, and
 * deploy says so (mtuSpread). Only a host's own knowledge (its routes, its
 * link, check_mtu's measurement) may take its tunnels lower.
 */
import { MIN_TUNNEL_MTU, tunnelMtu, VXLAN_OVERHEAD } from './mtu.js';
import type { ObservedLink } from './observed.js';
import type { Member, SelfNode, VpcDef } from './types.js';
import { address } from './validate.js';
import { WG_OVERHEAD } from './seal.js';

/** The bounds of a link MTU a peer may report: IPv4's minimum datagram, IPv4's maximum. */
export const MIN_LINK_MTU = 576;
export const MAX_LINK_MTU = 65535;

/** The MTU of the link that holds a host's underlay address, per family; absent where it has none. */
export interface LinkMtus {
  readonly ip4?: number;
  readonly ip6?: number;
}

const sameAddress = (a: string, b: string): boolean => {
  try {
    return address(a) === address(b);
  } catch {
    return false;
  }
};

/** The MTU of the link that holds `addr` (one of its CIDR addresses), or null when no link holds it (a NAT address, say). */
export function linkMtuOf(links: Iterable<ObservedLink>, addr: string): number | null {
  for (const l of links) {
    if (l.addresses.some((c) => sameAddress(c.replace(/\/\d+$/, ''), addr))) return l.mtu;
  }
  return null;
}

/** What a host reports about its own underlay links (hello). */
export function hostLinkMtus(links: readonly ObservedLink[], self: Pick<SelfNode, 'ip4' | 'ip6'>): LinkMtus {
  const of = (a: string | null): number | null => (a === null ? null : linkMtuOf(links, a));
  const ip4 = of(self.ip4);
  const ip6 = of(self.ip6);
  return { ...(ip4 === null ? {} : { ip4 }), ...(ip6 === null ? {} : { ip6 }) };
}

export interface PeerMtuInput {
  /** The family of the VXLAN packet's own header (sealed: the peer network's, else the underlay's). */
  readonly family: 4 | 6;
  /** This host's route (or device) MTU towards the peer. */
  readonly route: number;
  /** The MTU of this host's own underlay link, when it holds its underlay address. */
  readonly ownLink?: number | null;
  /** The MTU the peer reported for its underlay link (Member.mtu). */
  readonly peerLink?: number | null;
  /** `vpc mode=init mtu=`: the admin's tunnel MTU, used instead of any derivation. */
  readonly explicit: number | null;
  /** The largest tunnel MTU measured to cross (check_mtu fix=1). */
  readonly cap?: number | null;
  /** What carries VXLAN on the underlay costs too (encrypt=wireguard: WG_OVERHEAD in the underlay's family); 0 for none. */
  readonly wrap?: number;
}

/**
 * One tunnel's MTU: min(route, own link, peer's link) less what wraps VXLAN
 * (WireGuard) and VXLAN's overhead, where the peer's word lowers it to
 * MIN_TUNNEL_MTU at most; `mtu=` replaces the derivation as it always has; a
 * measured cap bounds either.
 */
export function peerTunnelMtu(p: PeerMtuInput): number {
  const wrap = p.wrap ?? 0;
  const own = tunnelMtu(Math.min(p.route, p.ownLink ?? Number.POSITIVE_INFINITY) - wrap, p.family);
  const claimed = p.peerLink == null ? Number.POSITIVE_INFINITY : Math.max(tunnelMtu(p.peerLink - wrap, p.family), MIN_TUNNEL_MTU);
  const derived = p.explicit ?? Math.min(own, claimed);
  return Math.min(derived, p.cap ?? Number.POSITIVE_INFINITY);
}

/**
 * The definition with each member's link MTU as it reported it now. `reports`:
 * a member that answered, with what it said (null: it answered but is too old
 * to say, so its claim goes); a member not in it did not answer and keeps the
 * claim last known.
 */
export function withLinkMtus<T extends VpcDef>(vpc: T, reports: ReadonlyMap<string, LinkMtus | null>): T {
  const members = vpc.members.map((m) => {
    if (!reports.has(m.node)) return m;
    const said = reports.get(m.node)?.[vpc.family === 6 ? 'ip6' : 'ip4'];
    if (said !== undefined) return { ...m, mtu: said };
    const unclaimed: { -readonly [K in keyof Member]: Member[K] } = { ...m };
    delete unclaimed.mtu;
    return unclaimed;
  });
  return { ...vpc, members } as T;
}

/** Members whose underlay link is smaller than the others', and what that does to the segment. */
export interface MtuSpread {
  readonly vpc: string;
  /** The smaller links, smallest first: each member's link MTU and the tunnel it would allow. */
  readonly smaller: readonly { readonly node: string; readonly link: number; readonly tunnel: number }[];
  /** The tunnel MTU the segment takes from the smallest link (bridge and every tunnel, on every member). */
  readonly segment: number;
  /** What the largest links would allow. */
  readonly others: number;
  /** The link MTU a MIN_TUNNEL_MTU tunnel needs (WireGuard's overhead included): a smaller link is clamped, and frames over its tunnel MTU do not reach it. */
  readonly needs: number;
}

/**
 * When the members' links differ, what deploy warns about; null when they do
 * not (or when `mtu=` fixes the tunnel MTU, which claims do not change).
 */
export function mtuSpread(vpc: VpcDef): MtuSpread | null {
  if (vpc.mtu !== null) return null;
  const claims = vpc.members.flatMap((m) => (m.mtu === undefined ? [] : [{ node: m.node, link: m.mtu }]));
  if (claims.length < 2) return null;
  const largest = Math.max(...claims.map((c) => c.link));
  // As buildHostSpec: sealed, WireGuard's header is in the underlay's family and VXLAN's in the peer network's.
  const sealed = vpc.encrypt === 'wireguard';
  const wrap = sealed ? WG_OVERHEAD[vpc.family] : 0;
  const family: 4 | 6 = sealed ? (vpc.peerNetwork.includes(':') ? 6 : 4) : vpc.family;
  const smaller = claims
    .filter((c) => c.link < largest)
    .sort((x, y) => x.link - y.link || (x.node < y.node ? -1 : 1))
    .map((c) => ({ ...c, tunnel: tunnelMtu(c.link - wrap, family) }));
  const smallest = smaller[0];
  if (!smallest) return null;
  return {
    vpc: vpc.name,
    smaller,
    segment: Math.max(smallest.tunnel, MIN_TUNNEL_MTU),
    others: tunnelMtu(largest - wrap, family),
    needs: MIN_TUNNEL_MTU + VXLAN_OVERHEAD[family] + wrap,
  };
}
