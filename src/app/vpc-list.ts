/**
 * The `vpc` operations that only read this host's database: listings load
 * no SSH, no cluster code and no driver work.
 */
import * as repo from '../store/repo.js';
import type { VpcLocal, VpcWithMap } from '../core/types.js';
import type { Host } from './host.js';
import { UserError } from '../core/errors.js';
import type { Named } from './vpc.js';
import { describeQuota, formatSize, usage } from '../core/quota.js';
import type { GuestOnHost } from '../core/types.js';
import { guestOnVpcs, needsAdmission, quotaOf } from '../core/guests.js';
import type { ClusterStore } from './cluster-store.js';

export function requireVpc(host: Host, name: string): VpcWithMap {
  const vpc = repo.getVpc(host.db, name);
  if (!vpc) throw new UserError(`no VPC named ${name} on ${host.self.nodename}: run meshvpc vpc mode=init vpc_name=${name} ... first`, 'not_found');
  return vpc;
}

export interface VpcRow {
  readonly name: string;
  readonly peer_network: string;
  readonly underlay: string;
  readonly mtu: number | 'auto';
  readonly firewall: boolean;
  /** none, or wireguard (every tunnel inside the hosts' WireGuard links). */
  readonly encrypt: string;
  /** control (guests' MACs and addresses from the control plane) or learn (flood and learn). */
  readonly fdb: string;
  readonly members: string;
  readonly pairs: number;
  readonly vxlan: boolean;
  readonly bridge: boolean;
  readonly guest_network: string;
  /** The limits that are set (jail_max=2 ram_max=4g), or none. */
  readonly quota: string;
  /**
   * Guests counted on every member (asked now where the VPC has a quota or
   * guest network; an unreachable member as it last reported them).
   */
  readonly usage: string;
}

/** Guests as the quota counts them: containers, VMs, their vCPUs and RAM. */
function usageText(guests: readonly GuestOnHost[], stale: readonly string[]): string {
  const n = usage(guests);
  const text = `jails=${n.jails} vms=${n.vms} vcpus=${n.vcpus} ram=${formatSize(n.ramBytes)}`;
  return stale.length > 0 ? `${text} (${stale.join(',')}: as last seen)` : text;
}

/** A VPC's guests for its usage column: counted by the cluster store only when a quota or guest network polices it. */
async function guestsOf(host: Host, vpc: VpcWithMap, store: () => Promise<ClusterStore>): Promise<{ guests: GuestOnHost[]; stale: string[] }> {
  const here = repo.listGuests(host.db).flatMap((g) => guestOnVpcs(host.self.nodename, g, false)).filter((g) => g.interface === vpc.name);
  if (!needsAdmission(vpc, null, null)) return { guests: here, stale: [] };
  return (await store()).counted(vpc, here);
}

export async function list(host: Host): Promise<VpcRow[]> {
  // Opened only if a VPC is policed (a listing without one never loads the admission machinery),
  // once for all of them.
  let opened: Promise<ClusterStore> | null = null;
  const store = (): Promise<ClusterStore> => (opened ??= import('./cluster-store.js').then((m) => m.openClusterStore(host)));
  try {
    return await Promise.all(
      repo.listVpcs(host.db).map(async (x) => {
        const l = repo.getLocal(host.db, x.name);
        const { guests, stale } = await guestsOf(host, x, store);
        return {
          name: x.name,
          peer_network: x.peerNetwork,
          underlay: `ipv${x.family}`,
          mtu: x.mtu ?? 'auto',
          firewall: x.firewall,
          encrypt: x.encrypt ?? 'none',
          fdb: x.fdb ?? 'learn',
          members: x.members.map((mm) => mm.node).join(','),
          pairs: x.pairs.length,
          vxlan: l.vxlan,
          bridge: l.bridge,
          guest_network: x.guestNetwork?.network ?? '-',
          quota: describeQuota(quotaOf(x)),
          usage: usageText(guests, stale),
        };
      }),
    );
  } finally {
    await (opened as Promise<ClusterStore> | null)?.then((s) => s.close(), () => undefined);
  }
}

export interface VpcDetail extends VpcWithMap {
  /** What this host asked for: which layers are up, the bridge's addresses. */
  readonly local: Pick<VpcLocal, 'vxlan' | 'bridge' | 'bridgeIps'>;
}

export function show(host: Host, input: Named): VpcDetail {
  const vpc = requireVpc(host, input.vpc_name);
  const l = repo.getLocal(host.db, vpc.name);
  return { ...vpc, local: { vxlan: l.vxlan, bridge: l.bridge, bridgeIps: l.bridgeIps } };
}

/** The VPCs this host is a member of. */
export function memberVpcs(host: Host): string[] {
  return repo.listVpcs(host.db).filter((x) => x.members.some((m) => m.node === host.self.nodename)).map((x) => x.name);
}
