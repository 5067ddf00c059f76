/**
 * Guest addresses on a VPC's guest network (`guest_network=`, `ip4_addr=auto`):
 * which addresses are never handed out, the next free one, and whether an
 * address a user gives may be used. Pure: the caller gathers what is in use
 * on every member (and what unreachable members last said they use) and
 * decides where the answer is stored.
 */
import { shown, UserError } from './errors.js';
import { contains, fromBigInt, size, toBigInt } from './ipnet.js';
import { cidrText, type Cidr } from './validate.js';
import { bounds, overlaps } from './addrules.js';

export interface GuestNetwork {
  readonly net: Cidr;
  /** The guests' router, if the VPC has one: never a guest's address. */
  readonly gateway: string | null;
}

/** Smallest guest networks: a /30 (IPv4) or /126 (IPv6) still leaves one or two guests. */
const MAX_PREFIX = { 4: 30, 6: 126 } as const;
/** Largest the allocator walks: a /16 or /112 is 65,536 addresses. Larger ones are refused, not scanned. */
const MIN_PREFIX = { 4: 8, 6: 64 } as const;

/**
 * A guest network as `vpc mode=init` takes it: a network (no host bits), not
 * overlapping the VPC's peer network, with a gateway inside it that is not
 * its network or broadcast address.
 */
export function checkGuestNetwork(net: Cidr, gateway: string | null, peerNetwork: Cidr, key = 'guest_network'): GuestNetwork {
  const text = shown(cidrText(net));
  if (net.prefix > MAX_PREFIX[net.family]) throw new UserError(`invalid ${key} ${text}: too small for guests; use a /${MAX_PREFIX[net.family]} or larger`);
  if (net.prefix < MIN_PREFIX[net.family]) throw new UserError(`invalid ${key} ${text}: larger than meshvpc hands out; use a /${MIN_PREFIX[net.family]} or smaller`);
  if (overlaps(net, peerNetwork)) throw new UserError(`invalid ${key} ${text}: it overlaps the peer network ${cidrText(peerNetwork)}, where the tunnel ends live`);
  if (gateway !== null) {
    if (!contains(net, gateway)) throw new UserError(`invalid guest_gateway ${shown(gateway)}: it is not inside ${cidrText(net)}`);
    if (edges(net).has(toBigInt(gateway))) throw new UserError(`invalid guest_gateway ${shown(gateway)}: the network or broadcast address of ${cidrText(net)} cannot be a gateway`);
  }
  return { net, gateway };
}

/** The network address, and on IPv4 the broadcast address: never a host's. */
function edges(net: Cidr): Set<bigint> {
  const [first, last] = bounds(net);
  return new Set(net.family === 4 ? [first, last] : [first]);
}

/** Every address of the guest network no guest may get: its edges, the gateway, the bridges' own addresses. */
export function reserved(g: GuestNetwork, bridgeIps: readonly string[]): Set<bigint> {
  const out = edges(g.net);
  if (g.gateway !== null) out.add(toBigInt(g.gateway));
  for (const ip of bridgeIps) {
    const addr = ip.split('/')[0] as string;
    if (contains(g.net, addr)) out.add(toBigInt(addr));
  }
  return out;
}

/** What an allocation needs to know: the network and every address taken anywhere in the cluster. */
export interface IpamState {
  readonly guests: GuestNetwork;
  readonly bridgeIps: readonly string[];
  /** Addresses in use by guests on any member, reachable or not (an unreachable member's last report). */
  readonly used: Iterable<string>;
}

const usedSet = (s: IpamState): Set<bigint> => {
  const out = reserved(s.guests, s.bridgeIps);
  for (const a of s.used) if (contains(s.guests.net, a)) out.add(toBigInt(a));
  return out;
};

/** The lowest free address, as ADDRESS/PREFIX for the guest's interface; a full network is refused, naming it. */
export function nextFree(s: IpamState): string {
  const { net } = s.guests;
  const taken = usedSet(s);
  const base = toBigInt(net.address);
  const total = size(net);
  for (let i = 0n; i < total; i++) {
    if (!taken.has(base + i)) return `${fromBigInt(base + i, net.family)}/${net.prefix}`;
  }
  const guests = [...s.used].filter((a) => contains(net, a)).length;
  throw new UserError(`guest_network ${cidrText(net)} is full: ${guests} guest address${guests === 1 ? '' : 'es'} in use and ${taken.size - guests} reserved`, 'quota');
}

/**
 * A hand-given guest address (ip4_addr=A/N): inside the guest network it
 * must carry the network's prefix and be neither reserved nor taken.
 * Outside the guest network it is the user's business, as before.
 */
export function checkGivenAddress(s: IpamState, address: Cidr, key: string): void {
  const { net } = s.guests;
  if (!contains(net, address.address)) return;
  const text = shown(cidrText(address));
  if (address.prefix !== net.prefix) throw new UserError(`invalid ${key} ${text}: inside ${cidrText(net)} a guest's prefix is /${net.prefix}`);
  const a = toBigInt(address.address);
  if (reserved(s.guests, s.bridgeIps).has(a)) throw new UserError(`invalid ${key} ${text}: reserved in ${cidrText(net)} (network, broadcast, gateway or a bridge address)`);
  for (const u of s.used) {
    if (contains(net, u) && toBigInt(u) === a) throw new UserError(`invalid ${key} ${text}: already used by another guest of this VPC`, 'conflict');
  }
}
