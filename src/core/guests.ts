/** What every guest has, whatever its kind: its interfaces in order (eth0, eth1, ...). */
import type { ExtraNic, GuestRecord } from './types.js';

export const nicsOf = (g: GuestRecord): ExtraNic[] => [{ vpc: g.interface, ip4Addr: g.ip4Addr, ip6Addr: g.ip6Addr, hostIf: g.hostIf }, ...(g.kind === 'jail' ? (g.extra ?? []) : [])];
