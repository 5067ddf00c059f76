/** The records meshvpc keeps. Shared by the store, the commands and the remote protocol. */
import type { Pair } from './peermap.js';
import type { Platform } from '../platform/driver.js';

export interface SelfNode {
  readonly nodename: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
}

export interface NodeRecord {
  readonly name: string;
  /** The address `node mode=add` reached it on; remote calls use it. */
  readonly sshAddress: string;
  readonly sshPort: number;
  readonly sshUser: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  /** The peer's pinned SSH host key, base64 of the wire blob (as in known_hosts). */
  readonly hostKey: string;
  readonly platform: Platform;
}

export interface Member {
  readonly node: string;
  /** The member's tunnel endpoint address in the VPC's underlay family. */
  readonly underlay: string;
}

/** A VPC as every member holds it: `sync` makes these identical cluster-wide. */
export interface VpcDef {
  readonly name: string;
  readonly peerNetwork: string;
  readonly family: 4 | 6;
  readonly mtu: number | null;
  /** Drop VXLAN that does not come from a member (nftables on Linux). */
  readonly firewall: boolean;
  readonly members: readonly Member[];
}

export interface VpcWithMap extends VpcDef {
  readonly pairs: readonly Pair[];
}

/** This host's own choices for a VPC: which layers it wants and what it created. */
export interface VpcLocal {
  readonly vxlan: boolean;
  readonly bridge: boolean;
  readonly bridgeIps: readonly string[];
  readonly owned: readonly string[];
}

export interface JailRecord {
  readonly name: string;
  readonly interface: string;
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
  /** Identity of the running namespace/jail meshvpc started (null: not started by this meshvpc). */
  readonly guestId: string | null;
  readonly hostIf: string;
  readonly vnet: boolean;
}

/** One tunnel of a VPC on one host, as `vpc mode=status` reports it. */
export interface TunnelStatus {
  readonly node: string;
  readonly tunnel: string;
  readonly peer: string;
  readonly vni: number;
  readonly present: boolean;
  readonly up: boolean;
  readonly mtu: number | null;
  readonly isolated: boolean;
  readonly rtt_ms: number | null;
  /** Traffic through the tunnel; null where the platform does not count it (or the host runs meshvpc 0.2). */
  readonly rx_bytes: number | null;
  readonly tx_bytes: number | null;
  readonly rx_packets: number | null;
  readonly tx_packets: number | null;
}

/** A container as a host reports it to its peers. */
export interface JailOnHost extends JailRecord {
  readonly node: string;
  readonly running: boolean;
}
