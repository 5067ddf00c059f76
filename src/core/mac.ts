/**
 * Stable MAC addresses. A restarted container that came back with a new MAC
 * is unreachable until every peer's ARP entry for it expires (seconds); a
 * Linux bridge without a MAC of its own takes its lowest port's, so it
 * changes as guests come and go and the tunnel addresses on it go stale the
 * same way. Deriving both from names keeps them the same across restarts,
 * and lets every member of a VPC know a peer's guest or bridge MAC from its
 * names alone (control-plane FDB, core/fdb.ts): a MAC is never taken from the wire.
 */
import { createHash } from 'node:crypto';

/** A locally administered unicast address (02:...) derived from `seed`. */
export function stableMac(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 5);
  return ['02', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** A guest's interface `nic` (0: eth0) on host `node`, on a VPC that learns MACs (fdb=learn). */
export const guestMac = (node: string, name: string, nic = 0): string => stableMac(`guest/${node}/${name}${nic === 0 ? '' : `#eth${nic}`}`);

/** The bridge of `vpc` on host `node`. */
export const bridgeMac = (node: string, vpc: string): string => stableMac(`bridge/${node}/${vpc}`);

/**
 * A guest's interface on a VPC with a control-plane FDB (fdb=control): bound
 * to the VPC and the guest's name, not to its host, so a guest that moves to
 * another host keeps its MAC and the caches of every other guest stay right
 * (neigh_suppress keeps gratuitous ARP off the tunnels, so they could not be
 * corrected). Such a VPC holds a guest name once (app/guest-reports.ts).
 */
export const vpcGuestMac = (vpc: string, name: string): string => stableMac(`vpc-guest/${vpc}/${name}`);
