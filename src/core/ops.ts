/**
 * The planner's output: plain data that `dryrun=1` prints, tests compare, and
 * a platform driver turns into commands. One op is one change of one interface.
 */
export const VXLAN_PORT = 4789;

export type Op =
  | {
      readonly op: 'create_vxlan';
      readonly name: string;
      readonly vni: number;
      readonly local: string;
      readonly remote: string;
      readonly port: number;
      /** IPv6 underlay: accept the zero UDP checksums FreeBSD sends. */
      readonly udp6zerocsumrx: boolean;
      readonly mtu: number;
      readonly alias: string;
    }
  | {
      readonly op: 'create_bridge';
      readonly name: string;
      readonly mtu: number;
      readonly alias: string;
      /** Fixed, so the bridge does not take (and change with) its ports' addresses. */
      readonly mac?: string;
    }
  | { readonly op: 'delete_link'; readonly name: string }
  | { readonly op: 'set_mtu'; readonly name: string; readonly mtu: number }
  | { readonly op: 'set_alias'; readonly name: string; readonly alias: string }
  | { readonly op: 'set_up'; readonly name: string }
  | { readonly op: 'add_addr'; readonly name: string; readonly cidr: string }
  | { readonly op: 'del_addr'; readonly name: string; readonly cidr: string }
  | { readonly op: 'set_master'; readonly name: string; readonly master: string }
  /** Port changes name the bridge too: FreeBSD makes them through the bridge (`ifconfig BR deletem X`). */
  | { readonly op: 'set_nomaster'; readonly name: string; readonly bridge: string }
  /** Split horizon: an isolated (FreeBSD: private) port never forwards to another. */
  | { readonly op: 'set_isolated'; readonly name: string; readonly bridge: string; readonly on: boolean }
  /**
   * A live tunnel's underlay endpoints change in place (a member's address
   * moved): same interface, ifindex, bridge port and isolation. Only within
   * one address family; VNI and UDP port never change in place.
   */
  | { readonly op: 'set_vxlan_endpoints'; readonly name: string; readonly local: string; readonly remote: string }
  /** The host's WireGuard link (kernel wireguard where the kernel has it, wireguard-go otherwise), marked, with its MTU. */
  | { readonly op: 'create_wireguard'; readonly name: string; readonly mtu: number; readonly alias: string }
  /** Its listen port and private key; the key is read from a file (mode 0600), never put on a command line. */
  | { readonly op: 'set_wireguard'; readonly name: string; readonly port: number; readonly keyFile: string }
  /**
   * A WireGuard peer with its endpoint and addresses; `replaces`: the peer's
   * previous key, removed in the same `wg set`, so its addresses move at once.
   */
  | { readonly op: 'wireguard_peer'; readonly name: string; readonly key: string; readonly endpoint: string; readonly allowedIps: readonly string[]; readonly replaces?: string }
  | { readonly op: 'wireguard_peer_remove'; readonly name: string; readonly key: string };

export type OpKind = Op['op'];

/** How many changes an apply made or plans, the control plane's (fdbOps) included; a peer's count is checked like any reply. */
export const applyChanges = (r: { readonly ops: readonly unknown[]; readonly fdbOps?: unknown }): number =>
  r.ops.length + (typeof r.fdbOps === 'number' && Number.isSafeInteger(r.fdbOps) && r.fdbOps >= 0 && r.fdbOps <= 1e6 ? r.fdbOps : 0);
