/**
 * Kernel IP counters of network namespaces (each reads its own /proc/net).
 * A sender's fragments may be made in the container (after the tunnel told it
 * the path is smaller) or on the host (the encapsulated packet), so callers
 * sum both.
 */
import { runArgv } from './hosts.js';

/** Turns an argv into one that runs inside a given namespace (a lab host or a container). */
export type Inside = (argv: readonly string[]) => string[];

export interface FragCounters {
  /** Fragments this host made (IPv4 + IPv6). */
  readonly fragCreates: number;
  /** Packets this host had to reassemble (IPv4 + IPv6). */
  readonly reasmReqds: number;
}

/** Value of `field` in a two-line table ("Ip:", "Udp:", ...) of /proc/net/snmp. */
function snmpField(text: string, field: string, table = 'Ip'): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${table}: `));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf(field);
  return i < 0 ? 0 : Number(values[i] ?? 0);
}

const snmp6Field = (text: string, field: string): number => Number(new RegExp(`^${field}\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);

export async function fragCounters(places: readonly Inside[]): Promise<FragCounters> {
  let fragCreates = 0;
  let reasmReqds = 0;
  for (const inside of places) {
    const v4 = (await runArgv(inside(['cat', '/proc/net/snmp']))).stdout;
    const v6 = (await runArgv(inside(['cat', '/proc/net/snmp6']))).stdout;
    fragCreates += snmpField(v4, 'FragCreates') + snmp6Field(v6, 'Ip6FragCreates');
    reasmReqds += snmpField(v4, 'ReasmReqds') + snmp6Field(v6, 'Ip6ReasmReqds');
  }
  return { fragCreates, reasmReqds };
}

export const fragDelta = (a: FragCounters, b: FragCounters): FragCounters => ({ fragCreates: b.fragCreates - a.fragCreates, reasmReqds: b.reasmReqds - a.reasmReqds });

/**
 * UDP datagrams dropped because the receiving socket's buffer was full (IPv4 +
 * IPv6): a userspace tunnel (wireguard-go) that reads slower than packets
 * arrive loses them here.
 */
export async function udpRcvbufErrors(places: readonly Inside[]): Promise<number> {
  let n = 0;
  for (const inside of places) {
    const v4 = (await runArgv(inside(['cat', '/proc/net/snmp']))).stdout;
    const v6 = (await runArgv(inside(['cat', '/proc/net/snmp6']))).stdout;
    n += snmpField(v4, 'RcvbufErrors', 'Udp') + snmp6Field(v6, 'Udp6RcvbufErrors');
  }
  return n;
}
