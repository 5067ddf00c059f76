/**
 * Address arithmetic on top of ipaddr().js (parsing) with BigInt (offsets), so
 * the same code serves IPv4 and IPv6 peer networks of any prefix length.
 */
import { ipaddr } from './lazy.js';
import type { Cidr } from './validate.js';

export function toBigInt(address: string): bigint {
  const bytes = ipaddr().parse(address).toByteArray();
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

export function fromBigInt(value: bigint, family: 4 | 6): string {
  const length = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  let v = value;
  for (let i = 0; i < length; i++) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return ipaddr().fromByteArray(bytes).toString();
}

export const familyBits = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** Number of addresses in a network, as a BigInt (an IPv6 /0 does not fit a number). */
export function size(net: Cidr): bigint {
  return 1n << BigInt(familyBits(net.family) - net.prefix);
}

/** The address `offset` places after the start of the network. */
export function nth(net: Cidr, offset: bigint): string {
  // Wrapping would hand out an address outside the network (any address at all).
  if (offset < 0n || offset >= size(net)) throw new RangeError(`offset ${offset} is outside ${net.address}/${net.prefix}`);
  return fromBigInt(toBigInt(net.address) + offset, net.family);
}

export function contains(net: Cidr, address: string): boolean {
  try {
    const parsed = ipaddr().parse(address);
    const base = ipaddr().parse(net.address);
    if (parsed.kind() !== base.kind()) return false;
    return parsed.match(base, net.prefix);
  } catch {
    return false;
  }
}
