/**
 * What every guest has, whatever its kind, and what it counts for on a VPC.
 * Pure: listings use it without loading the admission machinery.
 */
import type { ExtraNic, GuestOnHost, GuestRecord, VpcWithMap } from './types.js';
import { NO_QUOTA, type Quota } from './quota.js';
import type { Cidr } from './validate.js';

/** An address a guest asks for: a given one, the next free one of the guest network, or none. */
export type AddressWish = Cidr | 'auto' | null;

/** Its interfaces in order: eth0, eth1, ... */
export const nicsOf = (g: GuestRecord): ExtraNic[] => [{ vpc: g.interface, ip4Addr: g.ip4Addr, ip6Addr: g.ip6Addr, hostIf: g.hostIf }, ...(g.kind === 'jail' ? (g.extra ?? []) : [])];

export const quotaOf = (vpc: Pick<VpcWithMap, 'quota'>): Quota => vpc.quota ?? NO_QUOTA;
const limited = (q: Quota): boolean => Object.values(q).some((x) => x !== null);

/** Whether a creation on this VPC must be admitted cluster-wide at all: without a quota or guest network it need not. */
export const needsAdmission = (vpc: VpcWithMap, ip4: AddressWish, ip6: AddressWish): boolean =>
  limited(quotaOf(vpc)) || (vpc.guestNetwork ?? null) !== null || ip4 === 'auto' || ip6 === 'auto';

/** What a guest of `node` counts for, as the quota and the allocator see it (and peers are told). */
export function guestOnHost(node: string, g: GuestRecord, running: boolean): GuestOnHost {
  return {
    name: g.name,
    node,
    kind: g.kind,
    interface: g.interface,
    ip4Addr: g.ip4Addr,
    ip6Addr: g.ip6Addr,
    running,
    vcpus: g.kind === 'vm' ? g.vm.cpus : 0,
    ramBytes: g.kind === 'vm' ? g.vm.ramBytes : 0,
    diskBytes: g.kind === 'vm' ? g.vm.diskBytes : 0,
  };
}

/** A guest once per VPC it is on (a container with interface=vpc1,vpc2 counts on both), with that interface's addresses. */
export function guestOnVpcs(node: string, g: GuestRecord, running: boolean): GuestOnHost[] {
  const base = guestOnHost(node, g, running);
  const extra = g.kind === 'jail' ? (g.extra ?? []) : [];
  return [base, ...extra.map((n) => ({ ...base, interface: n.vpc, ip4Addr: n.ip4Addr, ip6Addr: n.ip6Addr }))];
}
