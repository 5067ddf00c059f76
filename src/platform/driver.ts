/**
 * The one interface every platform implements. Command builders are pure
 * (dry runs and golden files print them); the rest reads or changes the host
 * through an Executor.
 */
import type { FirewallPolicy } from '../core/firewall.js';
import type { Observed } from '../core/observed.js';
import type { Op } from '../core/ops.js';

export type Platform = 'linux' | 'freebsd';
export const PLATFORMS: readonly Platform[] = ['linux', 'freebsd'];

/** A container (Linux network namespace, FreeBSD vnet jail) plugged into a VPC bridge. */
export interface GuestSpec {
  readonly name: string;
  readonly bridge: string;
  readonly mtu: number;
  /** The host-side end of the pair (veth / epair "a" half). */
  readonly hostIf: string;
  /** Address for eth0 inside the guest, CIDR form, or null for none (ip4_addr=0). */
  readonly address: string | null;
  /** MAC of eth0, stable across restarts (see core/mac.ts). */
  readonly mac?: string;
}

export interface NetworkDriver {
  readonly platform: Platform;
  /** The commands that carry out one op, for display; apply() runs the same. */
  commandsFor(op: Op): string[][];
  apply(ops: readonly Op[]): Promise<void>;
  observe(): Promise<Observed>;
  /** MTU of the path to an underlay address: the route's MTU, else its device's. */
  underlayMtu(remote: string): Promise<number>;
  guestStartCommands(guest: GuestSpec): string[][];
  guestStart(guest: GuestSpec): Promise<void>;
  guestStop(guest: GuestSpec): Promise<void>;
  /** Names of running guests. */
  runningGuests(): Promise<string[]>;
  /** The argv that runs a command inside a guest. */
  guestExecArgv(name: string, argv: readonly string[]): string[];
  /** Round-trip time in milliseconds to an address, or null if it did not answer. */
  ping(address: string): Promise<number | null>;
  /** VXLAN source filtering; absent where meshvpc has no firewall backend yet (FreeBSD). */
  readonly firewall?: {
    describe(policy: FirewallPolicy): string;
    apply(policy: FirewallPolicy): Promise<void>;
  };
}
