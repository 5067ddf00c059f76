/** Tunnel health of a VPC's host pairs, for the console's topology; pure, see sse-parse.ts. */
import type { Pair, TunnelStatus } from './shapes.js';

export type Health = 'up' | 'down' | 'unknown';

/** What the console knows about one end of a tunnel: `node`'s tunnel towards `peer`. */
export type TunnelMap = ReadonlyMap<string, Pick<TunnelStatus, 'present' | 'up' | 'rtt_ms'>>;
export const tunnelKey = (node: string, peer: string): string => `${node}\u0000${peer}`;

/** Per host: whether it answered the last status call (a host that did not is unknown, not down). */
export type HostReports = ReadonlyMap<string, { ok: boolean; error: string | null }>;

export interface EdgeView {
  pair: Pair;
  health: Health;
  /** The mean of the ends' RTTs that are known, in ms. */
  rtt: number | null;
  why: string;
}

/** up: both ends report their tunnel present and up; down: either end lacks it or has it down; otherwise unknown. */
export function edgeOf(pair: Pair, tunnels: TunnelMap, hosts: HostReports): EdgeView {
  const ends = ([[pair.a, pair.b], [pair.b, pair.a]] as const).map(([node, peer]) => {
    const t = tunnels.get(tunnelKey(node, peer));
    const h = hosts.get(node);
    if (t) {
      const state: Health = t.present && t.up ? 'up' : 'down';
      const why = !t.present ? `${node}: no tunnel to ${peer}` : !t.up ? `${node}: tunnel to ${peer} is down` : `${node}: up`;
      return { state, rtt: t.rtt_ms, why };
    }
    if (h?.ok) return { state: 'down' as Health, rtt: null, why: `${node}: no tunnel to ${peer}` };
    return { state: 'unknown' as Health, rtt: null, why: h ? `${node}: ${h.error ?? 'did not answer'}` : `${node}: not reported yet` };
  });
  const health: Health = ends.some((e) => e.state === 'down') ? 'down' : ends.every((e) => e.state === 'up') ? 'up' : 'unknown';
  const rtts = ends.map((e) => e.rtt).filter((r): r is number => typeof r === 'number' && Number.isFinite(r));
  const rtt = rtts.length ? rtts.reduce((s, r) => s + r, 0) / rtts.length : null;
  return { pair, health, rtt, why: ends.map((e) => e.why).join('; ') };
}

export const rttText = (ms: number | null): string => (ms === null ? '' : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
