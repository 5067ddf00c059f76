/**
 * Per-VPC quotas (`jail_max`, `vm_max`, `vcpu_max`, `ram_max`, `disk_max`)
 * and the arithmetic that enforces them. Pure: the caller gathers the guests
 * of the VPC on every member and holds whatever keeps two hosts from taking
 * the last slot at once; here only the counting and the refusal's words.
 */
import { shown, UserError } from './errors.js';

export type GuestKind = 'jail' | 'vm';

/** One guest as a quota counts it. */
export interface GuestUse {
  readonly name: string;
  readonly node: string;
  readonly kind: GuestKind;
  readonly vcpus: number;
  readonly ramBytes: number;
  readonly diskBytes: number;
}

/** Limits of one VPC; null means no limit. */
export interface Quota {
  readonly jail_max: number | null;
  readonly vm_max: number | null;
  readonly vcpu_max: number | null;
  readonly ram_max: number | null;
  readonly disk_max: number | null;
}

export const NO_QUOTA: Quota = { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null };

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
/** 1 PiB: more RAM or disk than one VPC's quota can sensibly mean; refused rather than overflowing. */
const MAX_BYTES = 2 ** 50;

/** A size as `vm_ram=`, `ram_max=`, `disk_max=` take it: a whole number with an optional k, m, g or t (binary units). */
export function parseSize(value: string, key: string, min = 1): number {
  const m = /^(\d{1,13})([kmgt]?)$/i.exec(value);
  const bytes = m ? Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? Number.NaN) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < min || bytes > MAX_BYTES) {
    throw new UserError(`invalid ${key} ${shown(value)}: use a size such as 512m or 4g, at least ${formatSize(min)} and at most 1024t`);
  }
  return bytes;
}

/** A byte count the way a user would write it back (4g, 512m, 1536m). */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['t', 2 ** 40], ['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

export interface Usage {
  readonly jails: number;
  readonly vms: number;
  readonly vcpus: number;
  readonly ramBytes: number;
  readonly diskBytes: number;
}

export function usage(guests: readonly GuestUse[]): Usage {
  return {
    jails: guests.filter((g) => g.kind === 'jail').length,
    vms: guests.filter((g) => g.kind === 'vm').length,
    vcpus: guests.reduce((n, g) => n + g.vcpus, 0),
    ramBytes: guests.reduce((n, g) => n + g.ramBytes, 0),
    diskBytes: guests.reduce((n, g) => n + g.diskBytes, 0),
  };
}

/** Where the guests are, by host then name: the same words whichever member refuses. */
const where = (guests: readonly GuestUse[]): string =>
  [...guests]
    .sort((a, b) => (a.node === b.node ? (a.name < b.name ? -1 : 1) : a.node < b.node ? -1 : 1))
    .map((g) => `${g.name}@${g.node}`)
    .join(', ');
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * Whether `adding` fits the VPC's quota next to every guest it already has
 * (on all members). A guest already counted (the same name on the same
 * node, being started again) is not counted twice. The refusal names the
 * limit, the usage and where the guests are.
 */
export function checkQuota(vpc: string, quota: Quota, existing: readonly GuestUse[], adding: GuestUse): void {
  const others = existing.filter((g) => !(g.name === adding.name && g.node === adding.node));
  const after = usage([...others, adding]);
  const refuse = (limit: string, what: string, counted: readonly GuestUse[]): never => {
    throw new UserError(`${vpc}: ${limit} reached (${what}${counted.length > 0 ? `: ${where(counted)}` : ''})`, 'quota', { vpc });
  };
  const jails = others.filter((g) => g.kind === 'jail');
  const vms = others.filter((g) => g.kind === 'vm');
  if (adding.kind === 'jail' && quota.jail_max !== null && after.jails > quota.jail_max) refuse(`jail_max=${quota.jail_max}`, plural(jails.length, 'container', 'containers'), jails);
  if (adding.kind === 'vm' && quota.vm_max !== null && after.vms > quota.vm_max) refuse(`vm_max=${quota.vm_max}`, plural(vms.length, 'VM', 'VMs'), vms);
  const sized = others.filter((g) => g.vcpus > 0 || g.ramBytes > 0 || g.diskBytes > 0);
  if (quota.vcpu_max !== null && after.vcpus > quota.vcpu_max) refuse(`vcpu_max=${quota.vcpu_max}`, `${after.vcpus - adding.vcpus} vCPUs in use, ${adding.vcpus} asked`, sized);
  if (quota.ram_max !== null && after.ramBytes > quota.ram_max) {
    refuse(`ram_max=${formatSize(quota.ram_max)}`, `${formatSize(after.ramBytes - adding.ramBytes)} in use, ${formatSize(adding.ramBytes)} asked`, sized);
  }
  if (quota.disk_max !== null && after.diskBytes > quota.disk_max) {
    refuse(`disk_max=${formatSize(quota.disk_max)}`, `${formatSize(after.diskBytes - adding.diskBytes)} in use, ${formatSize(adding.diskBytes)} asked`, sized);
  }
}

/** How a policy reads in a conflict message or a table: only what is set. */
export function describeQuota(q: Quota): string {
  const parts = Object.entries(q).flatMap(([k, x]) => (x === null ? [] : [`${k}=${k === 'ram_max' || k === 'disk_max' ? formatSize(x as number) : x}`]));
  return parts.length > 0 ? parts.join(' ') : 'none';
}
