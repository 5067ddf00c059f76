/**
 * The decision of a guest's admission to a VPC, once every guest counted
 * cluster-wide is known: the quota, then its addresses. Pure, so both
 * backends (the embedded arbiter lease, etcd's lease and transaction) decide
 * the same way from what they gathered.
 */
import { checkGivenAddress, nextFree, type IpamState } from './ipam.js';
import { checkQuota, type GuestUse, type Quota } from './quota.js';
import type { AddressWish } from './guests.js';
import type { GuestOnHost } from './types.js';
import { cidrText } from './validate.js';

export interface AdmissionFacts {
  readonly vpc: string;
  readonly quota: Quota;
  /** The guest network with every bridge address on it; null when the VPC has none (addresses are taken as given). */
  readonly ipam: Omit<IpamState, 'used'> | null;
  /** Every guest counted on the VPC, on any member (the one being added, if listed, is not counted twice). */
  readonly guests: readonly GuestOnHost[];
  readonly adding: GuestUse;
  readonly ip4: AddressWish;
  readonly ip6: AddressWish;
}

export interface Addresses {
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
}

/** Throws the refusal (a quota reached, an address taken or outside the network, a full network); else the addresses. */
export function decideAdmission(f: AdmissionFacts): Addresses {
  checkQuota(f.vpc, f.quota, f.guests, f.adding);
  const used = f.guests
    .filter((g) => !(g.name === f.adding.name && g.node === f.adding.node))
    .flatMap((g) => [g.ip4Addr, g.ip6Addr])
    .flatMap((x) => (x === null ? [] : [x.split('/')[0] as string]));
  const pick = (wish: AddressWish, key: string): string | null => {
    if (wish === null) return null;
    if (f.ipam === null) return wish === 'auto' ? null : cidrText(wish);
    if (wish === 'auto') return nextFree({ ...f.ipam, used });
    checkGivenAddress({ ...f.ipam, used }, wish, key);
    return cidrText(wish);
  };
  return { ip4Addr: pick(f.ip4, 'ip4_addr'), ip6Addr: pick(f.ip6, 'ip6_addr') };
}

/** One entry per guest (by node and name): the first listed wins, so a claim listed before a report stands. */
export function uniqueGuests(lists: readonly (readonly GuestOnHost[])[]): GuestOnHost[] {
  const seen = new Map<string, GuestOnHost>();
  for (const list of lists) for (const g of list) if (!seen.has(`${g.node}/${g.name}`)) seen.set(`${g.node}/${g.name}`, g);
  return [...seen.values()];
}
