/**
 * plan(desired, observed) -> ops: the difference between what a host should
 * have for one VPC and what its kernel reports. Interfaces that are already
 * right produce no op (they keep their ifindex), so planning twice in a row
 * yields nothing the second time.
 */
import { UserError } from './errors.js';
import type { Observed, ObservedLink } from './observed.js';
import type { Op } from './ops.js';
import type { BridgeSpec, GuestPort, HostSpec, TunnelSpec } from './spec.js';
import { bridgeAlias, TUNNEL_ALIAS_PREFIX } from './spec.js';
import { overlaps } from './addrules.js';
import { cidrText, interfaceAddress } from './validate.js';
import { WG_ALIAS, WG_IFNAME } from './seal.js';

/**
 * Ownership. meshvpc marks what it creates (tunnels carry the alias
 * `tunnel-to-PEER`, a VPC's bridge `vpc-NAME`; on FreeBSD the description)
 * and touches a link only when the mark is there. A name taken by anything
 * else is refused before any change, never adopted, changed or deleted.
 */
const markedTunnel = (o: ObservedLink): boolean => o.kind === 'vxlan' && (o.alias ?? '').startsWith(TUNNEL_ALIAS_PREFIX);
const markedBridge = (o: ObservedLink, vpc: string): boolean => o.kind === 'bridge' && o.alias === bridgeAlias(vpc);

function foreign(o: ObservedLink, wanted: string): never {
  throw new UserError(
    `interface ${o.name} already exists on this host and is not meshvpc's (${o.kind}${o.alias ? `, alias ${JSON.stringify(o.alias)}` : ', no meshvpc alias'}): ` +
      `meshvpc will not take it over; rename or remove it, or choose another ${wanted}`,
    'conflict',
  );
}

/** Kernels add link-local IPv6 addresses by themselves; they are not ours to manage. */
const isLinkLocal = (cidr: string): boolean => /^fe[89ab][0-9a-f]:/i.test(cidr);

function sameVxlan(t: TunnelSpec, o: ObservedLink): boolean {
  const v = o.vxlan;
  return (
    o.kind === 'vxlan' &&
    v !== null &&
    v.vni === t.vni &&
    v.local === t.local &&
    v.remote === t.remote &&
    v.port === t.port &&
    !v.learning &&
    v.udp6zerocsumrx === t.udp6zerocsumrx
  );
}

/**
 * A tunnel that differs from the spec only in its endpoints, each staying in
 * its address family: the kernel changes those on the live device (Linux:
 * vxlan changelink takes local and remote, refusing only a family change, a
 * new VNI or a new port; FreeBSD: down, vxlanlocal/vxlanremote, up), so a
 * member whose address moved keeps its interface instead of losing it.
 */
function endpointsOnly(t: TunnelSpec, o: ObservedLink): boolean {
  const v = o.vxlan;
  if (o.kind !== 'vxlan' || v === null || v.local === null || v.remote === null) return false;
  const v6 = (a: string): boolean => a.includes(':');
  return (
    v.vni === t.vni &&
    v.port === t.port &&
    !v.learning &&
    v.udp6zerocsumrx === t.udp6zerocsumrx &&
    v6(v.local) === v6(t.local) &&
    v6(v.remote) === v6(t.remote)
  );
}

function addressOps(name: string, want: readonly string[], have: readonly string[]): Op[] {
  const current = have.filter((a) => !isLinkLocal(a));
  return [
    ...current.filter((a) => !want.includes(a)).map((cidr): Op => ({ op: 'del_addr', name, cidr })),
    ...want.filter((a) => !current.includes(a)).map((cidr): Op => ({ op: 'add_addr', name, cidr })),
  ];
}

const NO_ADDRESSES: readonly string[] = [];

interface Phases {
  remove: Op[];
  create: Op[];
  tune: Op[];
  /** Address removals run before ports join a bridge: FreeBSD 15 refuses members with addresses. */
  unaddress: Op[];
  attach: Op[];
  address: Op[];
  up: Op[];
}

function addAddressOps(p: Phases, ops: readonly Op[]): void {
  for (const op of ops) (op.op === 'del_addr' ? p.unaddress : p.address).push(op);
}

function planBridge(b: BridgeSpec, vpc: string, o: ObservedLink | undefined, p: Phases): void {
  if (o && !markedBridge(o, vpc)) foreign(o, 'vpc_name');
  if (!o) {
    p.create.push({ op: 'create_bridge', name: b.name, mtu: b.mtu, alias: b.alias, mac: b.mac });
  } else {
    if (o.mtu !== b.mtu) p.tune.push({ op: 'set_mtu', name: b.name, mtu: b.mtu });
  }
  addAddressOps(p, addressOps(b.name, b.addresses, o?.addresses ?? NO_ADDRESSES));
  if (!o?.up) p.up.push({ op: 'set_up', name: b.name });
}

function planTunnel(t: TunnelSpec, found: ObservedLink | undefined, bridge: BridgeSpec | null, p: Phases): void {
  if (found && !markedTunnel(found)) foreign(found, 'VXLAN id (it names the tunnel)');
  let o = found;
  if (o && !sameVxlan(t, o)) {
    if (endpointsOnly(t, o)) {
      p.tune.push({ op: 'set_vxlan_endpoints', name: t.name, local: t.local, remote: t.remote });
    } else {
      // VNI, port, learning or an endpoint's family cannot change on a live vxlan device: replace it.
      p.remove.push({ op: 'delete_link', name: t.name });
      o = undefined;
    }
  }
  if (!o) {
    p.create.push({ op: 'create_vxlan', name: t.name, vni: t.vni, local: t.local, remote: t.remote, port: t.port, udp6zerocsumrx: t.udp6zerocsumrx, mtu: t.mtu, alias: t.alias });
  } else {
    if (o.mtu !== t.mtu) p.tune.push({ op: 'set_mtu', name: t.name, mtu: t.mtu });
    if (o.alias !== t.alias) p.tune.push({ op: 'set_alias', name: t.name, alias: t.alias });
  }
  const master = o?.master ?? null;
  if (bridge) {
    if (master !== bridge.name) p.attach.push({ op: 'set_master', name: t.name, master: bridge.name });
    if (master !== bridge.name || !o?.isolated) p.attach.push({ op: 'set_isolated', name: t.name, bridge: bridge.name, on: true });
  } else if (master !== null) {
    p.attach.push({ op: 'set_nomaster', name: t.name, bridge: master });
  }
  addAddressOps(p, addressOps(t.name, bridge ? NO_ADDRESSES : [t.address], o?.addresses ?? NO_ADDRESSES));
  if (!o?.up) p.up.push({ op: 'set_up', name: t.name });
}

/**
 * Guest ports (veth / epair halves) follow the segment MTU when it changes, and
 * known guests whose port fell off the bridge (the bridge was rebuilt) rejoin
 * it as ordinary, non-isolated ports.
 */
function planGuestPorts(b: BridgeSpec, guests: readonly GuestPort[], observed: Observed, p: Phases): void {
  for (const g of guests) {
    const link = observed.get(g.name);
    // Only meshvpc's own guest ports; a port someone else put on the bridge is theirs.
    if (!link || link.alias !== g.alias || link.kind === 'vxlan' || link.kind === 'bridge') continue;
    const onBridge = link.master === b.name;
    if (link.master !== null && !onBridge) continue;
    if (link.mtu !== b.mtu) p.tune.push({ op: 'set_mtu', name: link.name, mtu: b.mtu });
    if (!onBridge) p.attach.push({ op: 'set_master', name: link.name, master: b.name });
    if (link.isolated) p.attach.push({ op: 'set_isolated', name: link.name, bridge: b.name, on: false });
    if (!link.up) p.up.push({ op: 'set_up', name: link.name });
  }
}

/**
 * The VPC's tunnel network and bridge addresses must not overlap a subnet on
 * an interface that is not this VPC's (the underlay, a LAN): routes to the
 * peers, or to that LAN, would point into the VPC.
 */
function checkPeerNetwork(spec: HostSpec, observed: Observed): void {
  // Only when something is built: taking a VPC down must always be possible.
  if (!spec.peerNetwork || (spec.tunnels.length === 0 && !spec.bridge)) return;
  const ours: [string, string][] = [['peer_network', spec.peerNetwork], ...(spec.bridge ? (spec.bridgeIps ?? []).map((b): [string, string] => ['bridge_ips', b]) : [])];
  for (const link of observed.values()) {
    const mine =
      (link.name === spec.vpc && markedBridge(link, spec.vpc)) ||
      (markedTunnel(link) && (spec.owned.includes(link.name) || spec.tunnels.some((t) => t.name === link.name))) ||
      // The WireGuard link holds seal addresses of encrypted VPCs' own peer networks (which never overlap each other).
      (link.name === WG_IFNAME && link.alias === WG_ALIAS);
    if (mine) continue;
    for (const a of link.addresses) {
      const theirs = interfaceAddress(a, 'address');
      for (const [key, value] of ours) {
        if (overlaps(interfaceAddress(value, key), theirs)) {
          throw new UserError(`invalid ${key} ${JSON.stringify(value)}: it overlaps ${cidrText(theirs)} on ${link.name} of this host; choose a network the hosts do not use`);
        }
      }
    }
  }
}

export function plan(spec: HostSpec, observed: Observed): Op[] {
  const p: Phases = { remove: [], create: [], tune: [], unaddress: [], attach: [], address: [], up: [] };
  const wanted = new Set([...spec.tunnels.map((t) => t.name), ...(spec.bridge ? [spec.bridge.name] : [])]);
  const bridgeName = spec.bridge?.name ?? spec.vpc;
  checkPeerNetwork(spec, observed);
  for (const link of observed.values()) {
    if (wanted.has(link.name)) continue;
    // Deleted only with meshvpc's mark: a recorded name someone else has since taken stays.
    const ourTunnel = markedTunnel(link) && (spec.owned.includes(link.name) || link.master === bridgeName);
    const ourBridge = link.name === bridgeName && spec.owned.includes(link.name) && markedBridge(link, spec.vpc);
    if (ourTunnel || ourBridge) p.remove.push({ op: 'delete_link', name: link.name });
  }
  // The bridge first, so tunnels can join it; its MTU is set explicitly so a
  // new port cannot drag it up or down.
  if (spec.bridge) planBridge(spec.bridge, spec.vpc, observed.get(spec.bridge.name), p);
  for (const t of spec.tunnels) planTunnel(t, observed.get(t.name), spec.bridge, p);
  if (spec.bridge) planGuestPorts(spec.bridge, spec.guests ?? [], observed, p);
  // Bring tunnels up before the bridge so the bridge comes up with its ports.
  const up = [...p.up.filter((o) => o.name !== spec.bridge?.name), ...p.up.filter((o) => o.name === spec.bridge?.name)];
  return [...p.remove, ...p.create, ...p.tune, ...p.unaddress, ...p.attach, ...p.address, ...up];
}

/** The ops that tear one VPC's network down on a host, whatever state it is in. */
export function planTeardown(vpc: string, owned: readonly string[], observed: Observed): Op[] {
  return plan({ vpc, tunnels: [], bridge: null, owned, peerNetwork: null }, observed);
}
