/**
 * VMs on a VPC: `bcreate`, `bstart`, `bstop`, `bremove`, `bls`, `bconsole`,
 * named as CBSD names its bhyve commands. A VM is a guest like a container
 * (one table, one admission, one address allocator); only how it runs
 * differs: a hypervisor process with a tap on the VPC's bridge.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { guestMacOn } from './fdb.js';
import { checkGuestName, guestsChanged } from './guest-reports.js';
import { formatSize } from '../core/quota.js';
import type { VmConfig, VmRecord, VpcWithMap } from '../core/types.js';
import type { VmAccel, VmDriver, VmSpec } from '../platform/driver.js';
import { defaultGuestImage, guestCmdline } from '../platform/linux/guest-image.js';
import * as repo from '../store/repo.js';
import { withLock } from '../store/lock.js';
import { atomically } from '../store/tx.js';
import { admit, type AddressWish } from './guest-guard.js';
import type { Host } from './host.js';
import { bridgeMtu, checkedWishes, refuseTaken, requireInterface } from './jail.js';
import { contains } from '../core/ipnet.js';
import * as v from '../core/validate.js';

/** bhyve opens a network backend by its name's prefix ("tap"), and bare tapN names belong to the kernel: tapv + a hash. */
export function tapFor(name: string): string {
  return `tapv${createHash('sha1').update(`vm/${name}`).digest('hex').slice(0, 10)}`;
}

const vmDir = (host: Host, name: string): string => join(host.home, 'vm', name);
export const consoleLogOf = (host: Host, name: string): string => join(vmDir(host, name), 'console.log');

function driverOf(host: Host): VmDriver {
  const d = host.driver.vm;
  if (!d) throw new UserError(`VMs are not supported on ${host.driver.platform} by this meshvpc yet`);
  return d;
}

function requireVm(host: Host, name: string): VmRecord {
  const g = repo.getGuest(host.db, name);
  if (!g) throw new UserError(`no VM named ${name} on ${host.self.nodename} (meshvpc bls)`, 'not_found');
  if (g.kind !== 'vm') throw new UserError(`${name} on ${host.self.nodename} is a container, not a VM (meshvpc jls)`, 'not_found');
  return g;
}

const vmLocked = <T>(host: Host, name: string, what: string, fn: () => Promise<T>): Promise<T> => withLock(host.db, `jail:${name}`, what, fn);

export interface BcreateInput {
  readonly jname: string;
  readonly interface: string;
  readonly vm_ram: number;
  readonly vm_cpus: number;
  readonly vm_accel: VmAccel | 'auto';
  readonly vm_kernel?: string;
  readonly vm_initrd?: string;
  readonly vm_disk?: string;
  readonly ip4_addr?: AddressWish;
  readonly ip6_addr?: AddressWish;
  readonly runasap?: boolean;
  readonly astart?: boolean;
  readonly force?: boolean;
}

export interface VmResult {
  readonly jname: string;
  readonly node: string;
  readonly interface: string;
  readonly addresses: readonly string[];
  readonly running: boolean;
  readonly accel: VmAccel | 'auto';
  readonly spared: readonly string[];
}

const addressesOf = (r: VmRecord): string[] => [r.ip4Addr, r.ip6Addr].filter((a): a is string => a !== null);
const resultOf = (host: Host, r: VmRecord, running: boolean, accel: VmAccel | 'auto' = r.vm.accel, spared: readonly string[] = []): VmResult => ({
  jname: r.name,
  node: host.self.nodename,
  interface: r.interface,
  addresses: addressesOf(r),
  running,
  accel,
  spared,
});

/**
 * A file the user named must exist, be a regular file (after symlinks), and
 * not be meshvpc's own state (its database, keys, another VM's files): a
 * guest gets read-write access to it as root. Its size is what disk_max
 * counts for a disk (a qcow2's file size, not its virtual size).
 */
async function fileSize(host: Host, path: string, key: string): Promise<number> {
  const real = await realpath(path).catch(() => null);
  const s = real === null ? null : await stat(real).catch(() => null);
  if (real === null || !s || !s.isFile()) throw new UserError(`invalid ${key} ${v.shown(path)}: no such file on this host`);
  const home = await realpath(host.home).catch(() => host.home);
  if (real === home || real.startsWith(`${home}/`)) throw new UserError(`invalid ${key} ${v.shown(path)}: it is inside meshvpc's state directory ${home}; give a file of your own`);
  return s.size;
}

/** A disk another VM of this host already has (by any path to it): two VMs writing one image corrupt it. */
async function refuseSharedDisk(host: Host, disk: string | undefined): Promise<void> {
  if (disk === undefined) return;
  const real = await realpath(disk).catch(() => disk);
  for (const g of repo.listGuests(host.db)) {
    if (g.kind !== 'vm' || g.vm.disk === null) continue;
    if ((await realpath(g.vm.disk).catch(() => g.vm.disk)) === real) throw new UserError(`invalid vm_disk ${v.shown(disk)}: VM ${g.name} already uses it`, 'conflict');
  }
}

async function configOf(host: Host, input: BcreateInput): Promise<VmConfig> {
  if (input.vm_initrd !== undefined && input.vm_kernel === undefined) throw new UserError('vm_initrd= needs vm_kernel=: an initrd is loaded with a kernel');
  if (input.vm_kernel !== undefined) await fileSize(host, input.vm_kernel, 'vm_kernel');
  if (input.vm_initrd !== undefined) await fileSize(host, input.vm_initrd, 'vm_initrd');
  const diskBytes = input.vm_disk === undefined ? 0 : await fileSize(host, input.vm_disk, 'vm_disk');
  await refuseSharedDisk(host, input.vm_disk);
  if (host.driver.platform === 'freebsd') {
    // What bhyve cannot run is refused before it is stored and counted (bhyve.ts renders the same limits).
    if (input.vm_disk === undefined || input.vm_kernel !== undefined) throw new UserError('on FreeBSD a VM boots from vm_disk= with UEFI firmware: bhyve cannot boot a kernel directly (vm_kernel= needs QEMU on Linux)');
    if (input.vm_accel === 'tcg') throw new UserError('vm_accel=tcg: bhyve runs on the vmm(4) hypervisor only; use vm_accel=auto or kvm on FreeBSD');
    if (input.vm_cpus > 16) throw new UserError(`invalid vm_cpus "${input.vm_cpus}": bhyve takes at most 16`);
  }
  if (input.vm_kernel === undefined && input.vm_disk === undefined && host.driver.platform === 'linux' && defaultGuestImage() === null) {
    throw new UserError('the default VM guest is not built on this host (bash scripts/guest-image.sh builds it); or give vm_kernel= or vm_disk=');
  }
  return { ramBytes: input.vm_ram, cpus: input.vm_cpus, accel: input.vm_accel, kernel: input.vm_kernel ?? null, initrd: input.vm_initrd ?? null, disk: input.vm_disk ?? null, diskBytes };
}

/** The tap's name must be free or this VM's own leftover: never someone else's. */
async function checkTapFree(host: Host, name: string, hostIf: string): Promise<void> {
  if ((await driverOf(host).tapIsOurs({ name, hostIf })) === false) {
    throw new UserError(`interface ${hostIf} already exists on ${host.self.nodename} and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
  }
}

export async function bcreate(host: Host, input: BcreateInput): Promise<VmResult> {
  const name = input.jname;
  driverOf(host);
  const vpc = requireInterface(host, input.interface);
  checkGuestName(host, vpc, name);
  const wishes = checkedWishes(vpc, input.ip4_addr, input.ip6_addr);
  refuseTaken(host, name);
  const vm = await configOf(host, input);
  return vmLocked(host, name, 'bcreate', async () => {
    refuseTaken(host, name);
    const hostIf = tapFor(name);
    await checkTapFree(host, name, hostIf);
    if (input.runasap) await vpcBridgeMtu(host, vpc.name);
    const base: VmRecord = { kind: 'vm', name, interface: vpc.name, ip4Addr: null, ip6Addr: null, guestId: null, hostIf, astart: input.astart ?? false, vm };
    const adding = { name, node: host.self.nodename, kind: 'vm' as const, vcpus: vm.cpus, ramBytes: vm.ramBytes, diskBytes: vm.diskBytes };
    const record = await admit(host, { vpc, adding, ip4: wishes.ip4, ip6: wishes.ip6, force: input.force ?? false }, (addr) => {
      const r: VmRecord = { ...base, ip4Addr: addr.ip4Addr, ip6Addr: addr.ip6Addr };
      atomically(host.db, () => {
        refuseTaken(host, name);
        repo.putGuest(host.db, r);
      });
      return r;
    });
    if (!input.runasap) return resultOf(host, record, false);
    try {
      const { accel } = await start(host, record);
      await guestsChanged(host, [record.interface]);
      return resultOf(host, record, true, accel);
    } catch (e) {
      // A VM that could not start is not kept half made.
      atomically(host.db, () => repo.deleteGuest(host.db, name));
      await rm(vmDir(host, name), { recursive: true, force: true });
      // Its admission's claim (backend=etcd) goes with it.
      await guestsChanged(host, [record.interface]);
      throw e;
    }
  });
}

const vpcBridgeMtu = async (host: Host, vpc: string): Promise<number> => bridgeMtu(host, await host.driver.observe(), vpc);

/**
 * `auto` is decided once per host by a probe boot (KVM can be present and
 * still hang a guest) and remembered in the state directory.
 */
async function accelFor(host: Host, asked: VmAccel | 'auto', kernel: string | null): Promise<VmAccel> {
  if (asked !== 'auto') return asked;
  // bhyve has one accelerator (vmm(4)): nothing to probe.
  if (host.driver.platform !== 'linux') return (await driverOf(host).accel('', '')).accel;
  const file = join(host.home, 'vm', 'accel.json');
  const known = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { accel?: unknown }, () => null);
  if (known && (known.accel === 'kvm' || known.accel === 'tcg')) return known.accel;
  const probeKernel = kernel ?? defaultGuestImage()?.kernel ?? null;
  if (probeKernel === null) return 'tcg';
  await mkdir(join(host.home, 'vm'), { recursive: true });
  const found = await driverOf(host).accel(probeKernel, join(host.home, 'vm'));
  await writeFile(file, `${JSON.stringify({ ...found, at: new Date().toISOString() })}\n`);
  return found.accel;
}

/** The guest network's gateway, when the VM's IPv4 address is in that network: its default route. */
function gatewayFor(vpc: VpcWithMap | null, ip4: string | null): string | null {
  const g = vpc?.guestNetwork ?? null;
  if (!g || !g.gateway || ip4 === null || g.gateway.includes(':')) return null;
  return contains(v.network(g.network, 'guest_network'), ip4.split('/')[0] as string) ? g.gateway : null;
}

async function specOf(host: Host, r: VmRecord, accel: VmAccel, mtu: number): Promise<VmSpec> {
  const dir = vmDir(host, r.name);
  const image = r.vm.kernel === null && r.vm.disk === null ? defaultGuestImage() : null;
  if (r.vm.kernel === null && r.vm.disk === null && image === null) throw new UserError('the default VM guest is not built on this host (bash scripts/guest-image.sh builds it)');
  const kernel = r.vm.kernel ?? image?.kernel ?? null;
  const initrd = r.vm.initrd ?? image?.initrd ?? null;
  return {
    name: r.name,
    bridge: r.interface,
    mtu,
    hostIf: r.hostIf,
    mac: guestMacOn(host, r.interface, r.name, 0),
    ramBytes: r.vm.ramBytes,
    cpus: r.vm.cpus,
    accel,
    kernel,
    initrd,
    disk: r.vm.disk,
    cmdline: kernel === null ? '' : guestCmdline({ name: r.name, ip4: r.ip4Addr, ip6: r.ip6Addr, gw4: gatewayFor(repo.getVpc(host.db, r.interface), r.ip4Addr), mtu }),
    consoleLog: join(dir, 'console.log'),
    pidFile: join(dir, 'vm.pid'),
  };
}

async function start(host: Host, r: VmRecord): Promise<{ accel: VmAccel }> {
  const d = driverOf(host);
  if (await d.running(r.guestId)) throw new UserError(`${r.name} is already running`, 'conflict');
  await checkTapFree(host, r.name, r.hostIf);
  const mtu = await vpcBridgeMtu(host, r.interface);
  const accel = await accelFor(host, r.vm.accel, r.vm.kernel);
  await mkdir(vmDir(host, r.name), { recursive: true });
  const spec = await specOf(host, r, accel, mtu);
  const id = await d.start(spec);
  atomically(host.db, () => repo.setGuestId(host.db, r.name, id, [spec.mac]));
  return { accel };
}

export function bstart(host: Host, input: { readonly jname: string }): Promise<VmResult> {
  requireVm(host, input.jname);
  return vmLocked(host, input.jname, 'bstart', async () => {
    const r = requireVm(host, input.jname);
    const { accel } = await start(host, r);
    await guestsChanged(host, [r.interface]);
    return resultOf(host, r, true, accel);
  });
}

/** Stopping needs no bridge: the process (if still the one meshvpc started) and the tap (if marked meshvpc's) go. */
async function stop(host: Host, r: VmRecord): Promise<string[]> {
  const spared = await driverOf(host).stop({ name: r.name, hostIf: r.hostIf }, r.guestId);
  atomically(host.db, () => repo.setGuestId(host.db, r.name, null));
  return spared;
}

export function bstop(host: Host, input: { readonly jname: string }): Promise<VmResult> {
  requireVm(host, input.jname);
  return vmLocked(host, input.jname, 'bstop', async () => {
    const r = requireVm(host, input.jname);
    const spared = await stop(host, r);
    await guestsChanged(host, [r.interface]);
    return resultOf(host, r, false, r.vm.accel, spared);
  });
}

export function bremove(host: Host, input: { readonly jname: string }): Promise<VmResult> {
  requireVm(host, input.jname);
  return vmLocked(host, input.jname, 'bremove', async () => {
    const r = requireVm(host, input.jname);
    const spared = await stop(host, r);
    atomically(host.db, () => repo.deleteGuest(host.db, r.name));
    await rm(vmDir(host, r.name), { recursive: true, force: true });
    await guestsChanged(host, [r.interface]);
    return resultOf(host, r, false, r.vm.accel, spared);
  });
}

export interface VmRow {
  readonly jname: string;
  readonly node: string;
  readonly status: 'On' | 'Off';
  readonly interface: string;
  readonly ip4_addr: string;
  readonly ip6_addr: string;
  readonly mac: string;
  readonly ram: string;
  readonly cpus: number;
  readonly pid: number | null;
  readonly accel: string;
  readonly astart: boolean;
  readonly host_if: string;
}

export async function bls(host: Host): Promise<VmRow[]> {
  const d = host.driver.vm;
  const rows: VmRow[] = [];
  for (const g of repo.listGuests(host.db)) {
    if (g.kind !== 'vm') continue;
    const on = d ? await d.running(g.guestId) : false;
    rows.push({
      jname: g.name,
      node: host.self.nodename,
      status: on ? 'On' : 'Off',
      interface: g.interface,
      ip4_addr: g.ip4Addr ?? '0',
      ip6_addr: g.ip6Addr ?? '0',
      mac: guestMacOn(host, g.interface, g.name, 0),
      ram: formatSize(g.vm.ramBytes),
      cpus: g.vm.cpus,
      pid: on && g.guestId ? Number(g.guestId.split(':')[0]) : null,
      accel: g.vm.accel,
      astart: g.astart,
      host_if: g.hostIf,
    });
  }
  return rows;
}

export interface ConsoleResult {
  readonly jname: string;
  readonly text: string;
}

/** A guest writes its console as fast as it likes: bconsole reads at most its last 256 KiB. */
const CONSOLE_TAIL_BYTES = 256 * 1024;

async function tail(path: string, bytes: number): Promise<string | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (fh === null) return null;
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const text = buf.toString('utf8');
    // Cut at a line start when the front was dropped.
    return size > bytes ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await fh.close();
  }
}

/** The VM's serial console as written so far (the last `lines` lines, and never more than its last 256 KiB). */
export async function bconsole(host: Host, input: { readonly jname: string; readonly lines?: number }): Promise<ConsoleResult> {
  const r = requireVm(host, input.jname);
  const text = await tail(consoleLogOf(host, r.name), CONSOLE_TAIL_BYTES);
  if (text === null) throw new UserError(`${r.name} has no console log yet: it has not been started on ${host.self.nodename} (meshvpc bstart jname=${r.name})`, 'not_found');
  // Serial output carries CR and terminal escapes; a log shows lines.
  // eslint-disable-next-line no-control-regex -- the escape character is what is being removed
  const clean = text.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  const lines = clean.split('\n');
  return { jname: r.name, text: input.lines === undefined ? clean : lines.slice(-input.lines - 1).join('\n') };
}

/** For guests mode=start_all. */
export const startVm = start;
