/**
 * A VPC's policy: its quotas and its guest network. Given at `vpc mode=init`
 * or `deploy`, changed with `vpc mode=set`, which stores it here and sends
 * it to every member (only a member may change a VPC).
 */
import { UserError } from '../core/errors.js';
import { checkGuestNetwork } from '../core/ipam.js';
import type { Quota } from '../core/quota.js';
import { quotaOf } from '../core/guests.js';
import type { GuestNetworkDef, VpcDef } from '../core/types.js';
import * as v from '../core/validate.js';

export interface PolicyInput {
  readonly jail_max?: number | null;
  readonly vm_max?: number | null;
  /** The reference's name for vm_max. */
  readonly bhyve_max?: number | null;
  readonly vcpu_max?: number | null;
  readonly ram_max?: number | null;
  readonly disk_max?: number | null;
  readonly guest_network?: string | null;
  readonly guest_gateway?: string | null;
}

export interface Policy {
  readonly quota: Quota;
  readonly guestNetwork: GuestNetworkDef | null;
}

export const POLICY_KEYS = ['jail_max', 'vm_max', 'bhyve_max', 'vcpu_max', 'ram_max', 'disk_max', 'guest_network', 'guest_gateway'] as const;

export const givesPolicy = (input: PolicyInput): boolean => POLICY_KEYS.some((k) => input[k] !== undefined);

/** The policy `input` asks for on top of `base` (a value not given keeps the base's), checked against the peer network. */
export function policyFrom(input: PolicyInput, base: Policy, peerNetwork: string): Policy {
  if (input.vm_max !== undefined && input.bhyve_max !== undefined && input.vm_max !== input.bhyve_max) {
    throw new UserError(`vm_max=${input.vm_max ?? 'none'} and bhyve_max=${input.bhyve_max ?? 'none'} disagree: they are the same limit; give one`);
  }
  const pick = <K extends keyof Quota>(k: K, given: number | null | undefined): number | null => (given === undefined ? base.quota[k] : given);
  const quota: Quota = {
    jail_max: pick('jail_max', input.jail_max),
    vm_max: pick('vm_max', input.vm_max ?? input.bhyve_max),
    vcpu_max: pick('vcpu_max', input.vcpu_max),
    ram_max: pick('ram_max', input.ram_max),
    disk_max: pick('disk_max', input.disk_max),
  };
  const network = input.guest_network === undefined ? (base.guestNetwork?.network ?? null) : input.guest_network;
  if (network === null) {
    if (input.guest_gateway !== undefined && input.guest_gateway !== null) throw new UserError(`guest_gateway=${input.guest_gateway} needs a guest_network=CIDR to be in`);
    return { quota, guestNetwork: null };
  }
  // A new network drops the old gateway unless one is given with it.
  const gateway = input.guest_gateway !== undefined ? input.guest_gateway : input.guest_network === undefined ? (base.guestNetwork?.gateway ?? null) : null;
  const net = v.network(network, 'guest_network');
  if (gateway !== null && gateway.includes(':') !== (net.family === 6)) throw new UserError(`invalid guest_gateway ${v.shown(gateway)}: guest_network ${network} is IPv${net.family}`);
  checkGuestNetwork(net, gateway, v.network(peerNetwork, 'peer_network'));
  return { quota, guestNetwork: { network: v.cidrText(net), gateway } };
}

export const policyOf = (vpc: VpcDef): Policy => ({ quota: quotaOf(vpc), guestNetwork: vpc.guestNetwork ?? null });
