/**
 * The `vpc` operations that only read this host's database: listings load
 * no SSH, no cluster code and no driver work.
 */
import * as repo from '../store/repo.js';
import type { VpcLocal, VpcWithMap } from '../core/types.js';
import type { Host } from './host.js';
import { UserError } from '../core/errors.js';
import type { Named } from './vpc.js';
import { describeQuota, policyOf } from './vpc-policy.js';
import { formatSize } from '../core/quota.js';

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
  readonly members: string;
  readonly pairs: number;
  readonly vxlan: boolean;
  readonly bridge: boolean;
  readonly guest_network: string;
  /** The limits that are set (jail_max=2 ram_max=4g), or none. */
  readonly quota: string;
  /**
   * Guests counted: this host's now, every other member's as it last reported
   * them (each guarded jcreate/bcreate asks every member).
   */
  readonly usage: string;
}

function usageText(host: Host, vpc: VpcWithMap): string {
  const here = repo.listGuests(host.db).filter((g) => g.interface === vpc.name);
  const others = repo.getSeen(host.db, vpc.name).filter((g) => g.node !== host.self.nodename);
  const jails = here.filter((g) => g.kind === 'jail').length + others.filter((g) => g.kind === 'jail').length;
  const vms = here.filter((g) => g.kind === 'vm');
  const otherVms = others.filter((g) => g.kind === 'vm');
  const vcpus = vms.reduce((n, g) => n + (g.kind === 'vm' ? g.vm.cpus : 0), 0) + otherVms.reduce((n, g) => n + g.vcpus, 0);
  const ram = vms.reduce((n, g) => n + (g.kind === 'vm' ? g.vm.ramBytes : 0), 0) + otherVms.reduce((n, g) => n + g.ramBytes, 0);
  return `jails=${jails} vms=${vms.length + otherVms.length} vcpus=${vcpus} ram=${formatSize(ram)}`;
}

export function list(host: Host): VpcRow[] {
  return repo.listVpcs(host.db).map((x) => {
    const l = repo.getLocal(host.db, x.name);
    return {
      name: x.name,
      peer_network: x.peerNetwork,
      underlay: `ipv${x.family}`,
      mtu: x.mtu ?? 'auto',
      firewall: x.firewall,
      members: x.members.map((mm) => mm.node).join(','),
      pairs: x.pairs.length,
      vxlan: l.vxlan,
      bridge: l.bridge,
      guest_network: x.guestNetwork?.network ?? '-',
      quota: describeQuota(policyOf(x).quota),
      usage: usageText(host, x),
    };
  });
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
