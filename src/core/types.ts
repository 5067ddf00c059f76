/** The records meshvpc keeps. Shared by the store, the commands and the remote protocol. */
import type { Pair } from './peermap.js';
import type { Platform, VmAccel } from '../platform/driver.js';
import type { Quota } from './quota.js';
import type { Encryption } from './seal.js';
import type { FdbMode } from './fdb.js';

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
  /** Its WireGuard public key and port, as it said them itself (null: not known, a meshvpc before 0.4). */
  readonly wgKey?: string | null;
  readonly wgPort?: number | null;
}

export interface Member {
  readonly node: string;
  /** The member's tunnel endpoint address in the VPC's underlay family. */
  readonly underlay: string;
  /**
   * Its WireGuard public key and port (encrypted VPCs): what the member said
   * of itself to the host that deployed; checked against this host's own
   * record of the member where it has one, as underlay is.
   */
  readonly wgKey?: string | null;
  readonly wgPort?: number | null;
  /**
   * The MTU of the member's link that holds `underlay`, as it reported it to
   * the last deploy (core/mtu-claims.ts). Absent when unknown (a definition
   * from an older peer, an address on no local link).
   */
  readonly mtu?: number;
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
  /**
   * Limits on the VPC's guests, counted on all members. Absent in a
   * definition from a meshvpc 0.2 peer, which knows none: the receiver keeps
   * its own then.
   */
  readonly quota?: Quota;
  /** Where `ip4_addr=auto` / `ip6_addr=auto` take guest addresses from; absent as quota is. */
  readonly guestNetwork?: GuestNetworkDef | null;
  /** encrypt=wireguard: every tunnel runs inside the hosts' WireGuard links. Absent from a meshvpc 0.3 peer. */
  readonly encrypt?: Encryption;
  /** fdb=control: guests' MACs and addresses come from the control plane (core/fdb.ts). Absent from a meshvpc 0.4 peer. */
  readonly fdb?: FdbMode;
}

export interface GuestNetworkDef {
  readonly network: string;
  readonly gateway: string | null;
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

/** What containers and VMs share: both are guests on a VPC. */
interface GuestBase {
  readonly name: string;
  /** The VPC its eth0 is on. */
  readonly interface: string;
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
  /**
   * Identity of what meshvpc started for it (null: not started by this
   * meshvpc): a namespace's inode, a jail's id, a VM process's pid and start time.
   */
  readonly guestId: string | null;
  /** Its port on the VPC bridge: a veth/epair end or a tap. */
  readonly hostIf: string;
  /** Started again by the boot unit (`guests mode=start_all`). */
  readonly astart: boolean;
  /** The MACs it runs with, eth0 first (null: not running, or started by meshvpc before 0.5). */
  readonly macs?: readonly string[] | null;
}

/** A container's further interface (eth1, eth2, ...) on another VPC. */
export interface ExtraNic {
  readonly vpc: string;
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
  readonly hostIf: string;
}

export interface JailRecord extends GuestBase {
  readonly kind: 'jail';
  readonly vnet: boolean;
  /** eth1 and on (interface=vpc1,vpc2); absent or empty: eth0 only. */
  readonly extra?: readonly ExtraNic[];
}

/** How a VM is sized and booted (`bcreate vm_ram= vm_cpus= vm_accel= vm_kernel= vm_initrd= vm_disk=`). */
export interface VmConfig {
  readonly ramBytes: number;
  readonly cpus: number;
  readonly accel: VmAccel | 'auto';
  /** null: the default guest built at install time. */
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly disk: string | null;
  /** The disk image's size when it was created: what disk_max counts. */
  readonly diskBytes: number;
}

export interface VmRecord extends GuestBase {
  readonly kind: 'vm';
  readonly vm: VmConfig;
}

export type GuestRecord = JailRecord | VmRecord;

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
  /** A don't-fragment ping of the tunnel's full MTU crossed it (null: not measured: down, no answer, or the platform cannot say). */
  readonly pmtu_ok: boolean | null;
  /** How the tunnel is carried: 'wireguard' (kernel) or 'wireguard-go' inside WireGuard, 'none' in cleartext; absent from older hosts. */
  readonly sealed?: string;
  /** fdb=control on this tunnel's port: 'control' (ARP/ND answered here, no unknown unicast sent), 'suppress' (still flooding: the peer's guests are not known), 'learn'; absent from older hosts. */
  readonly fdb?: string;
  /** Traffic through the tunnel; null where the platform does not count it (or the host runs meshvpc 0.2). */
  readonly rx_bytes: number | null;
  readonly tx_bytes: number | null;
  readonly rx_packets: number | null;
  readonly tx_packets: number | null;
}

/** A container as a host reports it to its peers. */
export type JailOnHost = JailRecord & {
  readonly node: string;
  readonly running: boolean;
};

/** A guest as a host reports it to its peers (`guest_list`): enough to count it and to know its addresses. */
export interface GuestOnHost {
  readonly name: string;
  readonly node: string;
  readonly kind: 'jail' | 'vm';
  readonly interface: string;
  readonly ip4Addr: string | null;
  readonly ip6Addr: string | null;
  readonly running: boolean;
  readonly vcpus: number;
  readonly ramBytes: number;
  readonly diskBytes: number;
}
