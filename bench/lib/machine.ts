/** What the figures were measured on; every result file carries it. */
import { cpus, release, totalmem } from 'node:os';

export interface Machine {
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    nproc: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
  };
}

export const describeMachine = (m: Machine): string => `${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}`;
