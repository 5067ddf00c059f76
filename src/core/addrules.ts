/**
 * Which addresses and networks meshvpc may put on a host. Syntax is checked in
 * validate.ts; this is meaning: a peer network of 0.0.0.0/0 or ff02::/16, a
 * loopback bridge address or a tunnel network that swallows the underlay all
 * parse fine and would cut a host off. Every refusal names the rule and the
 * value. The same rules serve typed input and definitions from peers.
 */
import { shown, UserError } from './errors.js';
import { familyBits, toBigInt } from './ipnet.js';
import { cidrText, network, type Cidr } from './validate.js';

interface Range {
  readonly net: Cidr;
  readonly what: string;
}

const r = (address: string, prefix: number, what: string): Range => ({
  net: { family: address.includes(':') ? 6 : 4, address, prefix },
  what,
});

/** Ranges no meshvpc address may fall in or overlap. */
const FORBIDDEN: readonly Range[] = [
  r('0.0.0.0', 8, 'unspecified ("this network", 0.0.0.0/8)'),
  r('127.0.0.0', 8, 'loopback (127.0.0.0/8)'),
  r('169.254.0.0', 16, 'link-local (169.254.0.0/16)'),
  r('224.0.0.0', 4, 'multicast (224.0.0.0/4)'),
  r('240.0.0.0', 4, 'reserved or broadcast (240.0.0.0/4)'),
  r('::', 128, 'unspecified (::)'),
  r('::1', 128, 'loopback (::1)'),
  r('::ffff:0:0', 96, 'IPv4-mapped (::ffff:0:0/96)'),
  r('::', 96, 'IPv4-compatible (::/96)'),
  r('fe80::', 10, 'link-local (fe80::/10)'),
  r('ff00::', 8, 'multicast (ff00::/8)'),
];

export function bounds(net: Cidr): [bigint, bigint] {
  const host = BigInt(familyBits(net.family) - net.prefix);
  const start = (toBigInt(net.address) >> host) << host;
  return [start, start + (1n << host) - 1n];
}

/** Whether two networks share any address (same family only). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const [a0, a1] = bounds(a);
  const [b0, b1] = bounds(b);
  return a0 <= b1 && b0 <= a1;
}

export function containsAddress(net: Cidr, address: string): boolean {
  const family = address.includes(':') ? 6 : 4;
  return overlaps(net, { family, address, prefix: familyBits(family) });
}

function forbiddenRange(net: Cidr): Range | undefined {
  return FORBIDDEN.find((f) => overlaps(net, f.net));
}

/**
 * A peer network holds the tunnel ends: it must be ordinary unicast space,
 * not overlap any special range (so 0.0.0.0/0 and ::/0 are refused too).
 */
export function checkPeerNetwork(net: Cidr, key = 'peer_network'): Cidr {
  const bad = forbiddenRange(net);
  if (bad) throw new UserError(`invalid ${key} ${shown(cidrText(net))}: it overlaps the ${bad.what} range; use unicast space such as 10.100.0.0/24 or fd00:100::/64`);
  return net;
}

/**
 * An address meshvpc puts on an interface (bridge_ips, a guest's address):
 * a unicast host address of the field's family, not the network's first
 * address on IPv4 prefixes with room for one.
 */
export function checkHostAddress(c: Cidr, key: string, family?: 4 | 6): Cidr {
  const value = shown(cidrText(c));
  if (family !== undefined && c.family !== family) {
    throw new UserError(`invalid ${key} ${value}: ${key} takes an IPv${family} address${family === 4 ? ' (IPv6 goes in ip6_addr=)' : ''}`);
  }
  const bad = forbiddenRange({ ...c, prefix: familyBits(c.family) });
  if (bad) throw new UserError(`invalid ${key} ${value}: it is a ${bad.what} address; use a unicast address such as ${c.family === 4 ? '10.10.11.1/24' : 'fd00:10::1/64'}`);
  if (c.family === 4 && c.prefix <= 30) {
    const [first, last] = bounds(c);
    const at = toBigInt(c.address);
    if (at === first || at === last) throw new UserError(`invalid ${key} ${value}: it is the ${at === first ? 'network' : 'broadcast'} address of its /${c.prefix}`);
  }
  return c;
}

/** A host's underlay address (nodeip, nodeip6, a member's underlay): unicast, right family. */
export function checkUnderlayAddress(address: string, key: string): string {
  const family = address.includes(':') ? 6 : 4;
  const bad = forbiddenRange({ family, address, prefix: familyBits(family) });
  if (bad) throw new UserError(`invalid ${key} ${shown(address)}: it is a ${bad.what} address; tunnels need a unicast address`);
  return address;
}

/** The peer network must not hold a member's underlay address: its tunnels would route into themselves. */
export function checkPeerNetworkAgainstUnderlay(net: Cidr, underlays: readonly { node: string; underlay: string }[], key = 'peer_network'): void {
  const hit = underlays.find((m) => containsAddress(net, m.underlay));
  if (hit) throw new UserError(`invalid ${key} ${shown(cidrText(net))}: it contains ${hit.node}'s underlay address ${hit.underlay}; choose a network apart from the hosts' own`);
}

/**
 * An address on the VPC's segment (bridge_ips, a guest's eth0) must not be one
 * of the tunnel ends (they live in the peer network, on every member's bridge)
 * nor a member's underlay address.
 */
export function checkSegmentAddress(c: Cidr, key: string, vpc: { readonly name: string; readonly peerNetwork: string; readonly members: readonly { node: string; underlay: string }[] }): Cidr {
  const value = shown(cidrText(c));
  if (containsAddress(network(vpc.peerNetwork, 'peer_network'), c.address)) {
    throw new UserError(`invalid ${key} ${value}: it lies in ${vpc.peerNetwork}, the peer network of ${vpc.name}, where the tunnel ends live; use another range`);
  }
  const m = vpc.members.find((x) => x.underlay === c.address);
  if (m) throw new UserError(`invalid ${key} ${value}: it is ${m.node}'s underlay address`);
  return c;
}

/** Two VPCs on the same hosts cannot share tunnel address space. */
export function checkPeerNetworkAgainstOthers(net: Cidr, others: readonly { name: string; net: Cidr }[], key = 'peer_network'): void {
  const hit = others.find((o) => overlaps(net, o.net));
  if (hit) throw new UserError(`invalid ${key} ${shown(cidrText(net))}: it overlaps ${cidrText(hit.net)}, the peer network of VPC ${hit.name}`);
}
