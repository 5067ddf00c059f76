/**
 * Which VXLAN packets a host accepts. Any host that reaches UDP 4789 could
 * inject frames into a VNI (the kernel does not check the sender against the
 * tunnel's remote), so a host accepts VXLAN only as the exact (peer underlay
 * address, VXLAN id) pairs of the tunnels it terminates: a member of one of
 * its VPCs can inject neither into a VPC it is not in nor into another pair's
 * tunnel of a VPC it is in. (Linux checks the id too; pf on FreeBSD cannot
 * read it, see freebsd/pf.ts.)
 *
 * firewall=0 keeps the meaning it had before the id binding: one active VPC
 * with firewall=0 on a host turns the whole filter off for that host, so no
 * VPC there gets a source filter or an id binding. (Matching the id would now
 * let the filter open only that VPC's ids; that would change a documented
 * setting and is not done.)
 */
import type { VpcWithMap } from './types.js';
import { tunnelsOf } from './peermap.js';
import { sealedEnds, WG_IFNAME } from './seal.js';

/** One tunnel this host terminates, as the firewall sees it. */
export interface VxlanBinding {
  /** The peer's underlay address: the only source this VXLAN id is accepted from. */
  readonly address: string;
  readonly vni: number;
  readonly peer: string;
  readonly vpc: string;
}

export interface FirewallPolicy {
  /** Drop every other VXLAN packet; false: no rules at all. */
  readonly enforce: boolean;
  /** The (peer address, VXLAN id) pairs of this host's tunnels over IPv4, by address then id. */
  readonly tunnels4: readonly VxlanBinding[];
  /** The same over IPv6. */
  readonly tunnels6: readonly VxlanBinding[];
  /**
   * Encrypted VPCs' tunnels (always enforced, whatever `enforce` says): VXLAN
   * accepted only from the peer's seal address, arriving through WireGuard
   * (`via`); their ids in cleartext are dropped from any source, and VXLAN to
   * a seal address may leave only through WireGuard.
   */
  readonly sealed: readonly (VxlanBinding & { readonly via: string })[];
  /** This host's WireGuard port, open only to `wgPeers` (null: no encrypted VPC here). */
  readonly wgPort: number | null;
  /** The underlay addresses of the hosts this host has WireGuard peers for. */
  readonly wgPeers: readonly string[];
}

export interface ActiveVpc {
  readonly def: VpcWithMap;
  /** This host has tunnels for it (vxlan layer on and a member). */
  readonly active: boolean;
}

export function firewallPolicy(self: string, vpcs: readonly ActiveVpc[], wgPort: number | null = null): FirewallPolicy {
  const active = vpcs.filter((v) => v.active && v.def.members.some((m) => m.node === self));
  const encrypted = active.filter((v) => v.def.encrypt === 'wireguard');
  const sealed = sealedEnds(self, encrypted.map((v) => v.def))
    .map((e) => ({ address: e.remote, vni: e.vni, peer: e.peer, vpc: e.vpc, via: WG_IFNAME }))
    .sort((x, y) => (x.address === y.address ? x.vni - y.vni : x.address < y.address ? -1 : 1));
  const wgPeers = [...new Set(encrypted.flatMap((v) => v.def.members.filter((m) => m.node !== self && sealed.some((t) => t.peer === m.node && t.vpc === v.def.name)).map((m) => m.underlay)))].sort();
  const tunnels = active.filter((v) => v.def.encrypt !== 'wireguard').flatMap((v) => {
    const underlay = new Map(v.def.members.map((m) => [m.node, m.underlay]));
    // Only pairs whose both ends are members: a pair left over from a member that is gone has no tunnel.
    return tunnelsOf(v.def.pairs, self).flatMap((t) => {
      const address = underlay.get(t.peer);
      return address === undefined ? [] : [{ address, vni: t.vni, peer: t.peer, vpc: v.def.name }];
    });
  });
  tunnels.sort((x, y) => (x.address === y.address ? x.vni - y.vni : x.address < y.address ? -1 : 1));
  return {
    enforce: active.length > 0 && active.every((v) => v.def.firewall),
    tunnels4: tunnels.filter((t) => !t.address.includes(':')),
    tunnels6: tunnels.filter((t) => t.address.includes(':')),
    sealed,
    wgPort: sealed.length > 0 ? wgPort : null,
    wgPeers: sealed.length > 0 ? wgPeers : [],
  };
}

/** The distinct peer addresses of a policy's tunnels (both families, in policy order). */
export function peerAddresses(policy: FirewallPolicy): string[] {
  return [...new Set([...policy.tunnels4, ...policy.tunnels6].map((t) => t.address))];
}
