/**
 * What a host has, as read back from its kernel by a platform driver
 * (`ip -json` on Linux, parsed `ifconfig` on FreeBSD). The planner compares
 * it with the desired state; nothing here is trusted from the database.
 */
export type LinkKind = 'vxlan' | 'bridge' | 'veth' | 'epair' | 'other';

export interface ObservedVxlan {
  readonly vni: number;
  readonly local: string | null;
  readonly remote: string | null;
  readonly port: number;
  readonly learning: boolean;
  /** Linux only; FreeBSD always accepts zero checksums, so its driver reports true. */
  readonly udp6zerocsumrx: boolean;
}

export interface ObservedLink {
  readonly name: string;
  readonly index: number;
  readonly kind: LinkKind;
  readonly mtu: number;
  /** Administratively up. */
  readonly up: boolean;
  /** Carrying traffic (FreeBSD RUNNING; Linux operstate not DOWN). */
  readonly running: boolean;
  readonly alias: string | null;
  readonly master: string | null;
  readonly isolated: boolean;
  readonly vxlan: ObservedVxlan | null;
  /** Addresses in CIDR form, link-local IPv6 excluded (kernels add those on their own). */
  readonly addresses: readonly string[];
  /** Traffic since the link was made, where the platform reports it (Linux); null elsewhere. */
  readonly counters?: LinkCounters | null;
}

export interface LinkCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

export type Observed = ReadonlyMap<string, ObservedLink>;

export function observedFrom(links: readonly ObservedLink[]): Observed {
  return new Map(links.map((l) => [l.name, l]));
}
