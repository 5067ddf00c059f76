/** Shared by the e2e tests: a lab per test, torn down whatever happens. */
import assert from 'node:assert/strict';
import { createLab, destroyLab, execOn, meshvpc, type LabState, type Underlay } from '../../src/lab/lab.js';
import type { ExecResult } from '../../src/platform/exec.js';

export async function withLab<T>(hosts: number, underlay: Underlay, fn: (lab: LabState) => Promise<T>): Promise<T> {
  const lab = await createLab({ hosts, underlay });
  try {
    return await fn(lab);
  } finally {
    await destroyLab(lab);
  }
}

export const mv = (lab: LabState, host: number, ...args: string[]): Promise<ExecResult> => meshvpc(lab, host, args);

/** meshvpc on a host, which must succeed; returns its stdout. */
export async function ok(lab: LabState, host: number, ...args: string[]): Promise<string> {
  const r = await mv(lab, host, ...args);
  assert.equal(r.code, 0, `host${host}: meshvpc ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function sh(lab: LabState, host: number, ...argv: string[]): Promise<ExecResult> {
  return execOn(lab, host, argv);
}

export async function shOk(lab: LabState, host: number, ...argv: string[]): Promise<string> {
  const r = await sh(lab, host, ...argv);
  assert.equal(r.code, 0, `host${host}: ${argv.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  master?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_data?: Record<string, unknown> };
}

export async function links(lab: LabState, host: number, ...filter: string[]): Promise<IpLink[]> {
  return JSON.parse(await shOk(lab, host, 'ip', '-json', '-details', 'link', 'show', ...filter)) as IpLink[];
}

/** Ping from inside a container; true when every echo came back. */
export async function jailPing(lab: LabState, host: number, jail: string, target: string, ...extra: string[]): Promise<ExecResult> {
  return mv(lab, host, 'jexec', `jname=${jail}`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', ...extra, target);
}

/**
 * Ping until it answers or `seconds` pass. For checks right after a guest was
 * cut off: its neighbour entries sit in FAILED and the guest's kernel retries
 * ARP on its own timer, which is not meshvpc's to shorten.
 */
export async function eventuallyReaches(lab: LabState, host: number, jail: string, target: string, seconds = 6): Promise<ExecResult> {
  const deadline = Date.now() + seconds * 1000;
  let r = await jailPing(lab, host, jail, target);
  while (r.code !== 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 500));
    r = await jailPing(lab, host, jail, target);
  }
  return r;
}

/** Each host adds every other, exactly as the article does. */
export async function joinAll(lab: LabState): Promise<void> {
  for (const h of lab.hosts) {
    for (const o of lab.hosts) {
      if (o.index !== h.index) await ok(lab, h.index, 'node', 'mode=add', `node=${o.ip6 ?? o.ip4}`);
    }
  }
}
