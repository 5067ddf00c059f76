/**
 * The one interface every platform implements. Command builders are pure
 * (dry runs and golden files print them); the rest reads or changes the host
 * through an Executor.
 */
import type { FirewallPolicy } from '../core/firewall.js';
import type { Observed } from '../core/observed.js';
import type { Op } from '../core/ops.js';
import type { ObservedSeal } from '../core/seal.js';
import type { FdbOp, ObservedFdb } from '../core/fdb.js';

export type Platform = 'linux' | 'freebsd';
export const PLATFORMS: readonly Platform[] = ['linux', 'freebsd'];

/** A container (Linux network namespace, FreeBSD vnet jail) plugged into a VPC bridge. */
export interface GuestSpec {
  readonly name: string;
  readonly bridge: string;
  readonly mtu: number;
  /** The host-side end of the pair (veth / epair "a" half). */
  readonly hostIf: string;
  /** Addresses for eth0 inside the guest, CIDR form (ip4_addr=, ip6_addr=); none for ip4_addr=0. */
  readonly addresses: readonly string[];
  /** MAC of eth0, stable across restarts (see core/mac.ts). */
  readonly mac?: string;
  /** eth1, eth2, ...: each on another VPC's bridge. */
  readonly extra?: readonly GuestNic[];
}

/** A container's further interface: its own pair, on its own bridge. */
export interface GuestNic {
  readonly bridge: string;
  readonly mtu: number;
  readonly hostIf: string;
  readonly addresses: readonly string[];
  readonly mac?: string;
}

/** How a VM's CPU is emulated: hardware (KVM on Linux, vmm(4) on FreeBSD) or QEMU's TCG. */
export type VmAccel = 'kvm' | 'tcg';

/**
 * A virtual machine plugged into a VPC bridge through a tap device. Every
 * value is decided by meshvpc (names, paths, MAC) or checked before it gets
 * here: a driver only renders and runs it.
 */
export interface VmSpec {
  readonly name: string;
  readonly bridge: string;
  /** The VPC's MTU: the tap and the guest's eth0 take it. */
  readonly mtu: number;
  /** The tap device's name on the host (15 characters at most). */
  readonly hostIf: string;
  readonly mac: string;
  readonly ramBytes: number;
  readonly cpus: number;
  readonly accel: VmAccel;
  /** Boot a kernel directly (with an initrd), or a disk image; at least one of kernel and disk. */
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly disk: string | null;
  /** Kernel command line for a direct kernel boot: the guest reads its address from it. */
  readonly cmdline: string;
  /** Where the guest's serial console is written (bconsole shows it). */
  readonly consoleLog: string;
  /** Where the hypervisor process writes its pid: the VM's identity while it runs. */
  readonly pidFile: string;
}

export interface VmDriver {
  /** The commands that start it, for display (dryrun=1). */
  startCommands(vm: VmSpec): string[][];
  /** Start a VM whose tap name is free; returns its identity. On failure it removes only what this call made. */
  start(vm: VmSpec): Promise<string>;
  /** Stop the VM only if it is still the process meshvpc started; the tap only if it is marked meshvpc's. Returns what it left alone. */
  stop(vm: Pick<VmSpec, 'name' | 'hostIf'>, identity: string | null): Promise<string[]>;
  running(identity: string | null): Promise<boolean>;
  /** Whether an interface holds the tap's name (null: none), and whether it is this VM's. */
  tapIsOurs(vm: Pick<VmSpec, 'hostIf' | 'name'>): Promise<boolean | null>;
  /** The accelerator that works here, and why (a probe boot; see linux/vm.ts). */
  accel(kernel: string, scratch: string): Promise<{ accel: VmAccel; why: string }>;
}

export interface NetworkDriver {
  readonly platform: Platform;
  /** The commands that carry out one op, for display; apply() runs the same. */
  commandsFor(op: Op): string[][];
  apply(ops: readonly Op[]): Promise<void>;
  observe(): Promise<Observed>;
  /** MTU of the path to an underlay address: the route's MTU, else its device's. */
  underlayMtu(remote: string): Promise<number>;
  /**
   * underlayMtu for many addresses at once, where the platform can ask its
   * kernel once for all (Linux: one `ip -batch`); a host of a 64-member VPC
   * plans 63 tunnels, and one process per route was most of a no-op apply.
   * Absent: the caller asks underlayMtu for each.
   */
  underlayMtus?(remotes: readonly string[]): Promise<Map<string, number>>;
  guestStartCommands(guest: GuestSpec): string[][];
  /**
   * Start a guest whose name is free (the caller checked guestIdentity) and
   * return its identity (Linux: the namespace's inode; FreeBSD: the jail's id).
   * On failure it removes only what this call created.
   */
  guestStart(guest: GuestSpec): Promise<string>;
  /**
   * Stop the guest only if it is still the one meshvpc started (same
   * identity); its host-side port only if it carries meshvpc's mark. Returns
   * what it left alone because it was not meshvpc's.
   */
  guestStop(guest: GuestSpec, identity: string | null): Promise<string[]>;
  /** The identity of whatever guest (namespace, jail) holds this name now, or null. */
  guestIdentity(name: string): Promise<string | null>;
  /** Names of running guests. */
  runningGuests(): Promise<string[]>;
  /** The argv that runs a command inside a guest. */
  guestExecArgv(name: string, argv: readonly string[]): string[];
  /** Round-trip time in milliseconds to an address, or null if it did not answer. */
  ping(address: string): Promise<number | null>;
  /**
   * Whether a packet of `size` bytes (IP header included) with don't-fragment
   * set reaches `address` and is answered; absent where the platform cannot say.
   */
  pingDf?(address: string, size: number): Promise<boolean>;
  /** VMs: QEMU on Linux, bhyve on FreeBSD (disk boots only, see freebsd/bhyve.ts). */
  readonly vm?: VmDriver;
  /** Control-plane FDB and ARP/ND suppression (fdb=control, core/fdb.ts); absent where the bridge has neither (FreeBSD). */
  readonly fdb?: {
    observe(bridge: string): Promise<ObservedFdb>;
    apply(ops: readonly FdbOp[]): Promise<void>;
    commandsFor(op: FdbOp): string[][];
  };
  /** The host's WireGuard link (encrypt=wireguard); absent where meshvpc cannot run one. */
  readonly seal?: {
    /** `wg show NAME dump`, or null when there is no such WireGuard link. */
    observe(name: string): Promise<ObservedSeal | null>;
    /** Carry out planSeal's ops in order. */
    apply(ops: readonly Op[]): Promise<void>;
    /** Which implementation runs the link ("kernel", "wireguard-go", "wg(4)"), or null when there is none. */
    impl(name: string): Promise<string | null>;
  };
  /** VXLAN source filtering; absent where meshvpc has no firewall backend yet (FreeBSD). */
  readonly firewall?: {
    describe(policy: FirewallPolicy): string;
    apply(policy: FirewallPolicy): Promise<void>;
  };
}
