/**
 * Who is calling the API: a bearer token checked against the hashes in the
 * host's database. Failed logins are logged and, past a limit per client
 * address, refused outright for a while (429), so a token cannot be guessed
 * at network speed.
 */
import type { TokenRole } from '../../core/token.js';

export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;

/**
 * The unit failures are counted per: an IPv4 address, or an IPv6 /64 (one
 * host commonly holds a whole /64, so counting addresses would let it rotate).
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(private readonly now: () => number = Date.now) {}

  private recent(client: string): number[] {
    const cutoff = this.now() - WINDOW_MS;
    const kept = (this.failures.get(client) ?? []).filter((t) => t > cutoff);
    if (kept.length === 0) this.failures.delete(client);
    else this.failures.set(client, kept);
    return kept;
  }

  /** Seconds until this client may try again, or 0. */
  blockedFor(client: string): number {
    const recent = this.recent(client);
    if (recent.length < MAX_FAILURES) return 0;
    return Math.max(1, Math.ceil(((recent[0] as number) + WINDOW_MS - this.now()) / 1000));
  }

  /** Count a failure; returns how many this client has in the window. */
  fail(client: string): number {
    const recent = this.recent(client);
    recent.push(this.now());
    this.failures.set(client, recent);
    // Bound the memory a flood of addresses can take.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
    return recent.length;
  }
}

/** The token of an `Authorization: Bearer TOKEN` header, or null. */
export function bearer(header: string | undefined): string | null {
  const m = /^Bearer ([A-Za-z0-9_.~+/=-]{1,200})$/.exec(header ?? '');
  return m ? (m[1] as string) : null;
}

export interface Caller {
  readonly name: string;
  readonly role: TokenRole;
}

/** How long an accepted token is believed without asking the database again (a revocation takes this long to bite). */
export const TOKEN_CACHE_MS = 5000;

/**
 * Accepted tokens, remembered briefly: a token check is a hash and a query,
 * and every request makes one. Refused tokens are never remembered.
 */
export function cachedTokens(check: (token: string) => Caller | null, now: () => number = Date.now): (token: string) => Caller | null {
  const seen = new Map<string, { caller: Caller; at: number }>();
  return (token) => {
    const hit = seen.get(token);
    if (hit && now() - hit.at < TOKEN_CACHE_MS) return hit.caller;
    const caller = check(token);
    if (caller) {
      if (seen.size > 1000) seen.clear();
      seen.set(token, { caller, at: now() });
    } else {
      seen.delete(token);
    }
    return caller;
  };
}
