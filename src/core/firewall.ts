/**
 * Which VXLAN senders a host accepts. Any host that reaches UDP 4789 could
 * inject frames into a VNI (the kernel does not check the sender against the
 * tunnel's remote), so a host accepts VXLAN only from the members of the VPCs
 * it runs. Without inner-header matching the kernel cannot tell which VPC an
 * outside packet claims to be for, so one VPC with firewall=0 on a host turns
 * the drop off for the whole host.
 */
import type { VpcDef } from './types.js';

export interface FirewallPolicy {
  /** Drop VXLAN from everyone else; false: no rules at all. */
  readonly enforce: boolean;
  readonly peers4: readonly string[];
  readonly peers6: readonly string[];
}

export interface ActiveVpc {
  readonly def: VpcDef;
  /** This host has tunnels for it (vxlan layer on and a member). */
  readonly active: boolean;
}

export function firewallPolicy(self: string, vpcs: readonly ActiveVpc[]): FirewallPolicy {
  const active = vpcs.filter((v) => v.active && v.def.members.some((m) => m.node === self));
  const peers = [...new Set(active.flatMap((v) => v.def.members.filter((m) => m.node !== self).map((m) => m.underlay)))].sort();
  return {
    enforce: active.length > 0 && active.every((v) => v.def.firewall),
    peers4: peers.filter((a) => !a.includes(':')),
    peers6: peers.filter((a) => a.includes(':')),
  };
}
