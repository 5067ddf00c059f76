/** iproute2 argv for each planner op and guest step (pure; the driver runs them). */
import type { Op } from '../../core/ops.js';
import type { GuestSpec } from '../driver.js';
import { guestAlias } from '../../core/spec.js';
import { wireguardCommands } from './wireguard.js';

const link = (name: string, ...rest: (string | number)[]): string[] => ['ip', 'link', 'set', 'dev', name, ...rest.map(String)];
const isV6Cidr = (cidr: string): boolean => cidr.includes(':');

export function linuxCommands(op: Op): string[][] {
  switch (op.op) {
    case 'create_vxlan':
      return [
        [
          'ip', 'link', 'add', op.name, 'type', 'vxlan', 'id', String(op.vni), 'local', op.local, 'remote', op.remote,
          // Linux defaults to 8472; 4789 is the IANA port FreeBSD uses, so say it.
          'dstport', String(op.port), 'nolearning', ...(op.udp6zerocsumrx ? ['udp6zerocsumrx'] : []),
        ],
        // The mark right after the add: the moment a tunnel exists unmarked is as short as it can be.
        link(op.name, 'alias', op.alias),
        link(op.name, 'mtu', op.mtu),
      ];
    case 'create_bridge':
      return [
        ['ip', 'link', 'add', op.name, 'type', 'bridge'],
        link(op.name, 'alias', op.alias),
        // Set after creation: only a MAC set on a live bridge stops it following its ports.
        ...(op.mac ? [link(op.name, 'address', op.mac)] : []),
        link(op.name, 'mtu', op.mtu),
      ];
    case 'delete_link':
      return [['ip', 'link', 'del', 'dev', op.name]];
    case 'set_mtu':
      return [link(op.name, 'mtu', op.mtu)];
    case 'set_alias':
      return [link(op.name, 'alias', op.alias)];
    case 'set_up':
      return [link(op.name, 'up')];
    case 'add_addr':
      // No duplicate address detection on IPv6: the address would sit "tentative" for a second or more.
      return [['ip', 'addr', 'add', op.cidr, 'dev', op.name, ...(isV6Cidr(op.cidr) ? ['nodad'] : [])]];
    case 'del_addr':
      return [['ip', 'addr', 'del', op.cidr, 'dev', op.name]];
    case 'set_master':
      return [link(op.name, 'master', op.master)];
    case 'set_nomaster':
      return [link(op.name, 'nomaster')];
    case 'set_isolated':
      // The ip form of `bridge link set dev X isolated on`, so a whole apply fits one ip batch.
      return [link(op.name, 'type', 'bridge_slave', 'isolated', op.on ? 'on' : 'off')];
    case 'set_vxlan_endpoints':
      // vxlan changelink (Linux 4.14+): local and remote change on the live device, which keeps its
      // ifindex, bridge port, isolation, dstport and nolearning, and its default FDB entry follows
      // the new remote. The kernel refuses only what cannot change: another family, VNI or port.
      return [link(op.name, 'type', 'vxlan', 'local', op.local, 'remote', op.remote)];
    case 'create_wireguard':
    case 'set_wireguard':
    case 'wireguard_peer':
    case 'wireguard_peer_remove':
      return wireguardCommands(op) ?? [];
  }
}

export function linuxGuestStart(g: GuestSpec): string[][] {
  return [linuxNetnsAdd(g), ...linuxGuestSetup(g)];
}

export const linuxNetnsAdd = (g: GuestSpec): string[] => ['ip', 'netns', 'add', g.name];

/** Everything after the namespace exists: the veth pair, its mark (alias), the bridge, addresses. */
export function linuxGuestSetup(g: GuestSpec): string[][] {
  const inside = (...rest: string[]): string[] => ['ip', '-n', g.name, ...rest];
  return [
    ['ip', 'link', 'add', g.hostIf, 'mtu', String(g.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(g.mtu), ...(g.mac ? ['address', g.mac] : []), 'netns', g.name],
    link(g.hostIf, 'alias', guestAlias(g.name)),
    link(g.hostIf, 'master', g.bridge),
    link(g.hostIf, 'up'),
    inside('link', 'set', 'dev', 'lo', 'up'),
    inside('link', 'set', 'dev', 'eth0', 'up'),
    ...g.addresses.map((a) => inside('addr', 'add', a, 'dev', 'eth0', ...(isV6Cidr(a) ? ['nodad'] : []))),
    ...(g.extra ?? []).flatMap((n, i) => {
      const dev = `eth${i + 1}`;
      return [
        ['ip', 'link', 'add', n.hostIf, 'mtu', String(n.mtu), 'type', 'veth', 'peer', 'name', dev, 'mtu', String(n.mtu), ...(n.mac ? ['address', n.mac] : []), 'netns', g.name],
        link(n.hostIf, 'alias', guestAlias(g.name)),
        link(n.hostIf, 'master', n.bridge),
        link(n.hostIf, 'up'),
        inside('link', 'set', 'dev', dev, 'up'),
        ...n.addresses.map((a) => inside('addr', 'add', a, 'dev', dev, ...(isV6Cidr(a) ? ['nodad'] : []))),
      ];
    }),
  ];
}
