/**
 * Machine-wide CPU use over an interval, from /proc/stat. Every lab host is a
 * namespace on this one machine, so a figure near 100% means the lab, not the
 * network, set the pace: N "hosts" share these few CPUs, where real hosts
 * would each bring their own.
 */
import { readFileSync } from 'node:fs';

export interface CpuSample {
  readonly busy: number;
  readonly total: number;
}

export function cpuSample(): CpuSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user already)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of all CPUs that was busy between two samples, 0..1. */
export const cpuBusy = (a: CpuSample, b: CpuSample): number => (b.total === a.total ? Number.NaN : (b.busy - a.busy) / (b.total - a.total));
