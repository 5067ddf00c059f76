/**
 * The `vpc` operations that only read this host's database: listings load
 * no SSH, no cluster code and no driver work.
 */
import * as repo from '../store/repo.js';
import type { VpcLocal, VpcWithMap } from '../core/types.js';
import type { Host } from './host.js';
import { UserError } from '../core/errors.js';
import type { Named } from './vpc.js';

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
