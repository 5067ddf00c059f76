/**
 * Stable MAC addresses. A restarted container that came back with a new MAC
 * is unreachable until every peer's ARP entry for it expires (seconds); a
 * Linux bridge without a MAC of its own takes its lowest port's, so it
 * changes as guests come and go and the tunnel addresses on it go stale the
 * same way. Deriving both from names keeps them the same across restarts.
 */
import { createHash } from 'node:crypto';

/** A locally administered unicast address (02:...) derived from `seed`. */
export function stableMac(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 5);
  return ['02', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
