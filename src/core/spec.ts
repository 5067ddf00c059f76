/**
 * The desired network of one VPC on one host, derived from the VPC definition,
 * its peer map and what this host has asked for (tunnels, bridge, addresses).
 */
import { tunnelsOf, type Pair } from './peermap.js';
import { segmentMtu, tunnelMtu } from './mtu.js';
import { peerTunnelMtu } from './mtu-claims.js';
import { VXLAN_PORT } from './ops.js';
import { bridgeMac } from './mac.js';
import { sealBlock, WG_OVERHEAD, type Encryption } from './seal.js';

export interface TunnelSpec {
  readonly name: string;
  readonly peer: string;
  readonly vni: number;
  readonly local: string;
  readonly remote: string;
  readonly port: number;
  readonly mtu: number;
  readonly alias: string;
  readonly udp6zerocsumrx: boolean;
  /** The /30 (or /126) address of this end; lives on the tunnel until it is bridged. */
  readonly address: string;
}

export interface BridgeSpec {
  readonly name: string;
  readonly mac: string;
  readonly mtu: number;
  readonly alias: string;
  readonly addresses: readonly string[];
}

/** A container's host-side port and the alias meshvpc gave it (its mark). */
export interface GuestPort {
  readonly name: string;
  readonly alias: string;
}

export interface HostSpec {
  readonly vpc: string;
  /** The VPC's tunnel network; the planner refuses it when it overlaps a subnet the host has elsewhere. */
  readonly peerNetwork: string | null;
  /** bridge_ips: checked the same way. */
  readonly bridgeIps?: readonly string[];
  readonly tunnels: readonly TunnelSpec[];
  readonly bridge: BridgeSpec | null;
  /** Interfaces earlier applies created for this VPC: the only ones the planner may delete. */
  readonly owned: readonly string[];
  /** Host-side ends of this VPC's containers: kept on the bridge (after a bridge is rebuilt, say). */
  readonly guests?: readonly GuestPort[];
}

export interface Layers {
  readonly vxlan: boolean;
  readonly bridge: boolean;
}

export interface HostSpecInput {
  readonly vpc: string;
  readonly self: string;
  readonly pairs: readonly Pair[];
  readonly family: 4 | 6;
  /** Underlay address of each member in the VPC's family. */
  readonly underlay: ReadonlyMap<string, string>;
  /** MTU of the underlay path to each peer (route MTU or device MTU). */
  readonly underlayMtu: ReadonlyMap<string, number>;
  /** An explicit tunnel MTU from `vpc mode=init mtu=`; otherwise derived per peer. */
  readonly mtu: number | null;
  /** The largest tunnel MTU measured to cross to a peer (vpc mode=check_mtu fix=1): no tunnel claims more. */
  readonly mtuCaps?: ReadonlyMap<string, number>;
  /** The MTU of this host's link that holds its underlay address (null: no link holds it). */
  readonly ownLinkMtu?: number | null;
  /** The link MTU each peer reported (Member.mtu): lowers that peer's tunnel, to MIN_TUNNEL_MTU at most. */
  readonly peerLinkMtu?: ReadonlyMap<string, number>;
  readonly layers: Layers;
  readonly bridgeIps: readonly string[];
  readonly owned: readonly string[];
  readonly guests?: readonly GuestPort[];
  readonly peerNetwork?: string;
  /** encrypt=wireguard: each tunnel runs between the pair's seal addresses, inside WireGuard (which costs its overhead too). */
  readonly encrypt?: Encryption;
}

export const tunnelName = (vni: number): string => `vxlan${vni}`;
/** The VXLAN id a tunnel name would stand for (another interface may hold the name), or null. */
export const tunnelNameVni = (name: string): number | null => {
  const m = /^vxlan(\d{1,8})$/.exec(name);
  return m ? Number(m[1]) : null;
};
export const TUNNEL_ALIAS_PREFIX = 'tunnel-to-';
export const tunnelAlias = (peer: string): string => `${TUNNEL_ALIAS_PREFIX}${peer}`;
export const guestAlias = (jname: string): string => `guest-${jname}`;
export const bridgeAlias = (vpc: string): string => `vpc-${vpc}`;
const DEFAULT_UNDERLAY_MTU = 1500;

export function buildHostSpec(input: HostSpecInput): HostSpec {
  const ends = tunnelsOf(input.pairs, input.self);
  const local = input.underlay.get(input.self);
  const sealed = input.encrypt === 'wireguard';
  // WireGuard wraps the VXLAN packet: its overhead (in the underlay's family) comes off the underlay's MTU first.
  const wg = sealed ? WG_OVERHEAD[input.family] : 0;
  // Sealed, the VXLAN packet runs between seal addresses, so its own header is in the peer network's family.
  const vxlanFamily: 4 | 6 = sealed && input.peerNetwork ? (input.peerNetwork.includes(':') ? 6 : 4) : input.family;
  const mtus = ends.map((e) =>
    peerTunnelMtu({
      family: vxlanFamily,
      route: input.underlayMtu.get(e.peer) ?? DEFAULT_UNDERLAY_MTU,
      ownLink: input.ownLinkMtu,
      peerLink: input.peerLinkMtu?.get(e.peer),
      explicit: input.mtu,
      cap: input.mtuCaps?.get(e.peer),
      wrap: wg,
    }),
  );
  // One MTU for the segment: a frame that fits one tunnel must fit them all.
  const mtu = segmentMtu(mtus, input.mtu ?? tunnelMtu(DEFAULT_UNDERLAY_MTU - wg, vxlanFamily));
  /** Where a sealed tunnel's VXLAN runs: the two ends of its pair's seal block. */
  const sealEnds = (vni: number): { local: string; remote: string } => {
    const pair = input.pairs.find((p) => p.vni === vni);
    const block = pair && input.peerNetwork ? sealBlock({ peerNetwork: input.peerNetwork }, pair) : null;
    if (!pair || !block) throw new Error(`${input.vpc} is encrypted but the pair of VXLAN id ${vni} has no seal block`);
    return pair.a === input.self ? { local: block.addrA, remote: block.addrB } : { local: block.addrB, remote: block.addrA };
  };
  const bridged = input.layers.bridge;
  const tunnels: TunnelSpec[] = !input.layers.vxlan
    ? []
    : ends.map((e) => {
        const remote = input.underlay.get(e.peer);
        if (!local || !remote) throw new Error(`no IPv${input.family} underlay address for ${local ? e.peer : input.self}`);
        return {
          name: tunnelName(e.vni),
          peer: e.peer,
          vni: e.vni,
          ...(sealed ? sealEnds(e.vni) : { local, remote }),
          port: VXLAN_PORT,
          mtu,
          alias: tunnelAlias(e.peer),
          // Only an IPv6 VXLAN has it (FreeBSD reports it by the remote's family, so the plan converges).
          udp6zerocsumrx: vxlanFamily === 6,
          address: `${e.localAddr}/${e.prefix}`,
        };
      });
  const bridge: BridgeSpec | null = bridged
    ? {
        name: input.vpc,
        mac: bridgeMac(input.self, input.vpc),
        mtu,
        alias: bridgeAlias(input.vpc),
        // Bridge ports must not hold addresses (FreeBSD 15 refuses them), so the
        // tunnel ends move onto the bridge: the far end still answers ping.
        addresses: [...input.bridgeIps, ...tunnels.map((t) => t.address)],
      }
    : null;
  return { vpc: input.vpc, peerNetwork: input.peerNetwork ?? null, bridgeIps: input.bridgeIps, tunnels, bridge, owned: input.owned, guests: input.guests ?? [] };
}

/** Names an apply of this spec leaves in place, recorded as owned for the next apply. */
export function specNames(spec: HostSpec): string[] {
  return [...spec.tunnels.map((t) => t.name), ...(spec.bridge ? [spec.bridge.name] : [])];
}
