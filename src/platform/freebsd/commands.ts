/**
 * ifconfig / jail argv for each planner op and guest step (pure; the driver
 * runs them). See docs/freebsd.md in the shared docs for the syntax.
 *
 * Two things make FreeBSD differ from a one-op-one-command mapping:
 *
 * - Clone names. `ifconfig bridge create` and `ifconfig epair create` pick the
 *   unit number themselves and print the name. The driver reads it and renames
 *   the clone at once (the bridge to the VPC name, the epair "a" half to the
 *   guest's hostIf), so afterwards every name is meshvpc's own and means the
 *   same interface on Linux and FreeBSD. Display output (dry runs, golden
 *   files) cannot know the printed name; it shows the conventional `bridgeN` /
 *   `epairNa` / `epairNb` in its place, exactly as FreeBSD's own manual pages
 *   write them. The real apply builds the same commands from the same helpers
 *   with the printed name.
 *
 * - Bridge ports are changed through the bridge (`ifconfig BR private X`,
 *   `ifconfig BR deletem X`); the planner's port ops name the bridge for that.
 */
import type { Op } from '../../core/ops.js';
import type { GuestSpec } from '../driver.js';
import { guestAlias } from '../../core/spec.js';

/** if_epair is not needed for tunnels but loading it with the others saves a step at the first guest. */
export const KERNEL_MODULES = ['if_vxlan', 'if_bridge', 'if_epair'] as const;

/** Stand-ins for the names FreeBSD prints at clone time (display only). */
export const NEW_BRIDGE = 'bridgeN';
export const NEW_EPAIR = 'epairNa';

/** Inside a guest its VPC interface is always eth0 (the design's contract). */
export const GUEST_IF = 'eth0';

/** `-n`: a module already loaded or compiled into the kernel is not an error. */
export const kldloadCommand = (): string[] => ['kldload', '-n', ...KERNEL_MODULES];

const ifconfig = (name: string, ...rest: (string | number)[]): string[] => ['ifconfig', name, ...rest.map(String)];
const jexec = (jail: string, ...argv: (string | number)[]): string[] => ['jexec', jail, ...argv.map(String)];
const familyOf = (cidr: string): 'inet' | 'inet6' => (cidr.includes(':') ? 'inet6' : 'inet');
const hostPart = (cidr: string): string => cidr.split('/')[0] ?? cidr;

/** Ops whose first command creates a clone, so the kernel modules must be there. */
export const needsModules = (op: Op): boolean => op.op === 'create_vxlan' || op.op === 'create_bridge';

/**
 * The create command of one tunnel: every parameter in one call, since a
 * RUNNING vxlan refuses changes. op.udp6zerocsumrx has no FreeBSD counterpart:
 * FreeBSD always accepts zero UDP checksums.
 */
export function vxlanCreateCommand(op: Extract<Op, { op: 'create_vxlan' }>): string[] {
  return ifconfig(
    op.name, 'create',
    'vxlanid', op.vni,
    'vxlanlocal', op.local,
    'vxlanremote', op.remote,
    // 4789 is FreeBSD's default too; say it so the intent is on the command line.
    'vxlanlocalport', op.port,
    'vxlanremoteport', op.port,
    // Point-to-point tunnels have one possible destination; learning only lets
    // injected frames teach the table (freebsd.md pitfall 3).
    '-vxlanlearn',
    'mtu', op.mtu,
    'description', op.alias,
  );
}

export const bridgeCloneCommand = (): string[] => ['ifconfig', 'bridge', 'create'];

/**
 * After `ifconfig bridge create` printed `created`: take the VPC's name, then
 * set the MTU explicitly so the first port added cannot impose its own. The
 * op's MAC is not applied: if_bridge picks its own address at creation and,
 * unlike Linux, does not change it as ports come and go.
 */
export function bridgeSetupCommands(created: string, op: Extract<Op, { op: 'create_bridge' }>): string[][] {
  return [ifconfig(created, 'name', op.name), ifconfig(op.name, 'mtu', op.mtu, 'description', op.alias)];
}

export const addAddrCommand = (name: string, cidr: string): string[] => ifconfig(name, familyOf(cidr), cidr, 'alias');

/**
 * The commands of one op, without the module load (see freebsdBatchCommands).
 * create_bridge is shown with NEW_BRIDGE for the printed clone name.
 */
export function freebsdOpCommands(op: Op): string[][] {
  switch (op.op) {
    case 'create_vxlan':
      return [vxlanCreateCommand(op)];
    case 'create_bridge':
      return [bridgeCloneCommand(), ...bridgeSetupCommands(NEW_BRIDGE, op)];
    case 'delete_link':
      // Destroying a port removes it from its bridge; destroying a bridge leaves its ports.
      return [ifconfig(op.name, 'destroy')];
    case 'set_mtu':
      return [ifconfig(op.name, 'mtu', op.mtu)];
    case 'set_alias':
      return [ifconfig(op.name, 'description', op.alias)];
    case 'set_up':
      return [ifconfig(op.name, 'up')];
    case 'add_addr':
      return [addAddrCommand(op.name, op.cidr)];
    case 'del_addr':
      return [ifconfig(op.name, familyOf(op.cidr), hostPart(op.cidr), '-alias')];
    case 'set_master':
      return [ifconfig(op.master, 'addm', op.name)];
    case 'set_nomaster':
      return [ifconfig(op.bridge, 'deletem', op.name)];
    case 'set_isolated':
      return [ifconfig(op.bridge, op.on ? 'private' : '-private', op.name)];
    case 'set_vxlan_endpoints':
      // A RUNNING vxlan refuses new addresses (EBUSY): down, change, up. The interface stays, and
      // with it its bridge membership and private flag.
      return [ifconfig(op.name, 'down'), ifconfig(op.name, 'vxlanlocal', op.local, 'vxlanremote', op.remote), ifconfig(op.name, 'up')];
    case 'create_wireguard':
      // wg(4) is its own module (FreeBSD 13.2+), loaded only where a VPC is encrypted.
      return [['kldload', '-n', 'if_wg'], wgCloneCommand(), ...wgSetupCommands(NEW_WG, op)];
    case 'set_wireguard':
      return [['wg', 'set', op.name, 'listen-port', String(op.port), 'private-key', op.keyFile]];
    case 'wireguard_peer':
      return [['wg', 'set', op.name, ...(op.replaces ? ['peer', op.replaces, 'remove'] : []), 'peer', op.key, 'endpoint', op.endpoint, 'allowed-ips', op.allowedIps.join(',')]];
    case 'wireguard_peer_remove':
      return [['wg', 'set', op.name, 'peer', op.key, 'remove']];
  }
}

/** Stand-in for the name `ifconfig wg create` prints (display only). */
export const NEW_WG = 'wgN';
/** wg(4): the clone, then meshvpc's name, MTU and mark, as for a bridge. */
export const wgCloneCommand = (): string[] => ['ifconfig', 'wg', 'create'];
export function wgSetupCommands(created: string, op: Extract<Op, { op: 'create_wireguard' }>): string[][] {
  return [ifconfig(created, 'name', op.name), ifconfig(op.name, 'mtu', op.mtu, 'description', op.alias)];
}

/**
 * The commands an apply of `ops` runs, for display and golden files: the
 * module load before the first clone, then each op's commands.
 */
export function freebsdBatchCommands(ops: readonly Op[]): string[][] {
  const first = ops.findIndex(needsModules);
  return ops.flatMap((op, i) => [...(i === first ? [kldloadCommand()] : []), ...freebsdOpCommands(op)]);
}

export const epairCloneCommand = (): string[] => ['ifconfig', 'epair', 'create'];

/** epair3a -> epair3b: the kernel names the halves of a pair alike (and epairNa -> epairNb for display). */
export function otherHalf(aHalf: string): string {
  if (aHalf === NEW_EPAIR) return 'epairNb';
  if (!/^epair\d+a$/.test(aHalf)) throw new Error(`unexpected epair name ${JSON.stringify(aHalf)}: expected epairNa`);
  return `${aHalf.slice(0, -1)}b`;
}

/**
 * A vnet jail plugged into a VPC bridge, after `ifconfig epair create`
 * printed `aHalf`. Order matters: MTUs on both halves before addm (a bridge
 * refuses or adopts a port with another MTU), the b half moved into the jail
 * by jail(8) itself (vnet.interface), then renamed and configured inside.
 */
export function guestSetupCommands(g: GuestSpec, aHalf: string): string[][] {
  const bHalf = otherHalf(aHalf);
  return [
    // Renamed first, so a failure later can still destroy the pair by name.
    ifconfig(aHalf, 'name', g.hostIf),
    ifconfig(g.hostIf, 'mtu', g.mtu, 'description', guestAlias(g.name)),
    ifconfig(bHalf, 'mtu', g.mtu),
    ifconfig(g.bridge, 'addm', g.hostIf),
    ifconfig(g.hostIf, 'up'),
    [
      'jail', '-c', `name=${g.name}`,
      // A networking guest needs no root filesystem of its own.
      'path=/', `host.hostname=${g.name}`,
      'vnet', 'persist',
      // ping(8) inside the guest needs a raw socket; in a vnet jail it only reaches the jail's own stack.
      'allow.raw_sockets',
      `vnet.interface=${bHalf}`,
    ],
    jexec(g.name, 'ifconfig', bHalf, 'name', GUEST_IF),
    jexec(g.name, 'ifconfig', 'lo0', 'up'),
    // The in-jail end keeps no MTU promise of its own: set it (freebsd.md pitfall 7).
    jexec(g.name, 'ifconfig', GUEST_IF, 'mtu', g.mtu, ...(g.mac ? ['ether', g.mac] : []), 'up'),
    ...g.addresses.map((a) => ['jexec', g.name, ...addAddrCommand(GUEST_IF, a)]),
  ];
}

/** Guest start for display: the clone, then the setup with NEW_EPAIR for the printed name. */
export function freebsdGuestStart(g: GuestSpec): string[][] {
  return [epairCloneCommand(), ...guestSetupCommands(g, NEW_EPAIR)];
}

/** `jail -r` leaves the pair behind; destroying the a half destroys both, even the one in a jail. */
export function freebsdGuestStop(g: GuestSpec): string[][] {
  return [['jail', '-r', g.name], ifconfig(g.hostIf, 'destroy')];
}

/** `route get` needs the family spelled out: without it an IPv6 address is a "bad address". */
export function routeGetCommand(remote: string): string[] {
  return ['route', '-n', 'get', remote.includes(':') ? '-inet6' : '-inet', remote];
}

/**
 * One echo with a one-second limit. ping(8) has handled both families since
 * FreeBSD 13 (`-6` picks IPv6; ping6 is the old name), and `-t` is its
 * whole-run timeout in seconds for either.
 */
export function pingCommand(address: string): string[] {
  return ['ping', ...(address.includes(':') ? ['-6'] : []), '-c', '1', '-t', '1', address];
}

/** jls with jail names (not JIDs) as the key; libxo JSON because text mode truncates. */
export const jlsCommand = (): string[] => ['jls', '--libxo', 'json', '-N'];

/** jls with each jail's JID and name, for telling meshvpc's jail from a later one of the same name. */
export const jlsIdsCommand = (): string[] => ['jls', '--libxo', 'json', 'jid', 'name'];

/** `-v` adds the vxlan `config:` line, the only place the learning flag is shown. */
export const observeCommand = (): string[] => ['ifconfig', '-a', '-v'];
