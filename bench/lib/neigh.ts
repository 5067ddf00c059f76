/**
 * The kernel's neighbour tables (ARP for IPv4, ND for IPv6) are shared by
 * every network namespace, and gc_thresh3 (1024 by default, settable only in
 * the root namespace) caps each. A big lab on one machine can fill them where
 * real hosts, each with its own kernel, never would; when that happens new
 * neighbours cannot be resolved and packets are dropped ("neighbor table
 * overflow!" in dmesg). Read-only: /proc/net/stat/{arp,ndisc}_cache, whose
 * per-CPU "table_fulls" counters say how often it happened.
 */
import { readFileSync } from 'node:fs';

export interface NeighStats {
  readonly arpTableFulls: number;
  readonly ndTableFulls: number;
}

function tableFulls(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return Number.NaN;
  }
  const [head, ...rows] = text.trim().split('\n');
  const col = (head ?? '').trim().split(/\s+/).indexOf('table_fulls');
  if (col < 0) return Number.NaN;
  return rows.reduce((sum, r) => sum + parseInt(r.trim().split(/\s+/)[col] ?? '0', 16), 0);
}

export const neighStats = (): NeighStats => ({ arpTableFulls: tableFulls('/proc/net/stat/arp_cache'), ndTableFulls: tableFulls('/proc/net/stat/ndisc_cache') });

export const neighDelta = (a: NeighStats, b: NeighStats): NeighStats => ({ arpTableFulls: b.arpTableFulls - a.arpTableFulls, ndTableFulls: b.ndTableFulls - a.ndTableFulls });

/** The cap, for reports (read from the root namespace; never written). */
export function gcThresh3(): { arp: number; nd: number } {
  const read = (p: string): number => Number(readFileSync(p, 'utf8').trim());
  try {
    return { arp: read('/proc/sys/net/ipv4/neigh/default/gc_thresh3'), nd: read('/proc/sys/net/ipv6/neigh/default/gc_thresh3') };
  } catch {
    return { arp: Number.NaN, nd: Number.NaN };
  }
}
