/**
 * Machine-wide CPU use over an interval, from /proc/stat, and CPU time of
 * single processes, from /proc/PID/stat. Every lab host is a namespace on
 * this one machine, so a figure near 100% means the lab, not the network, set
 * the pace: N "hosts" share these few CPUs, where real hosts would each bring
 * their own.
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * CPU time of processes, from /proc/PID/stat: utime + stime of all threads,
 * in units of 1/100 s (USER_HZ is 100 on Linux whatever the kernel's HZ).
 * The kernel scales that pair to the scheduler's own runtime of the process,
 * so the sum is exact to the unit; only the user/system split is sampled by
 * tick. This kernel has no IRQ_TIME_ACCOUNTING: softirq work done while a
 * task is current (the network stack's, for that task's own sends and
 * receives, mostly) counts as that task's time; what the kernel defers runs
 * in ksoftirqd/N. /proc/stat, by contrast, is sampled by tick (250 Hz here).
 */
const USER_HZ = 100;

/** utime + stime of a process in seconds; NaN once it is gone. */
export function procCpuS(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.NaN;
  }
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ")".
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / USER_HZ;
}

/** A process's command name, or null once it is gone. */
export function procComm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** A process's children (every thread's), from /proc/PID/task/TID/children. */
export function procChildren(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter((x) => x !== '').map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** The per-CPU softirq threads (ksoftirqd/N), which carry network work the kernel deferred. */
export const ksoftirqds = (): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => procComm(pid)?.startsWith('ksoftirqd/') === true);

/**
 * Machine-wide CPU seconds that were used (user, nice, system, irq, softirq),
 * from /proc/stat. Steal is left out (time the hypervisor gave to someone
 * else is nobody's work here), and so are idle and iowait.
 */
export function machineCpuS(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / USER_HZ;
}
