/**
 * VMs on Linux: QEMU with a tap on the VPC bridge. The tap is made by
 * meshvpc (persistent, marked with the guest's alias) before QEMU opens it,
 * so its MTU and bridge are set like a container's port and `bstop` can tell
 * meshvpc's tap from anyone else's. QEMU daemonizes and writes its pid; the
 * VM's identity is that pid with the process's start time, so a pid reused by
 * another process after a crash is never taken for the VM (nor killed).
 */
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../core/errors.js';
import type { Executor } from '../exec.js';
import { runChecked } from '../exec.js';
import type { VmAccel, VmSpec } from '../driver.js';
import { guestAlias } from '../../core/spec.js';
import { parseIpLinks } from './parse.js';

/** Paths reach QEMU's option syntax, where "," separates options: only plain characters are let through. */
const SAFE_PATH = /^\/[A-Za-z0-9._/+-]{0,4000}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function safePath(p: string, what: string): string {
  if (!SAFE_PATH.test(p) || p.includes('/../')) throw new Error(`internal: ${what} path ${JSON.stringify(p)} is not a plain absolute path`);
  return p;
}

/** The disk's format from its name: QEMU refuses to guess a raw image's format for writing. */
const diskFormat = (path: string): string => (/\.qcow2$/i.test(path) ? 'qcow2' : 'raw');

export function qemuArgv(vm: VmSpec): string[] {
  if (!MAC.test(vm.mac)) throw new Error(`internal: bad MAC ${vm.mac}`);
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(vm.name)) throw new Error(`internal: bad VM name ${vm.name}`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(vm.hostIf)) throw new Error(`internal: bad tap name ${vm.hostIf}`);
  if (vm.kernel === null && vm.disk === null) throw new Error('internal: a VM needs a kernel or a disk');
  // -append is one argv element (no shell); the guest kernel splits it on spaces and reads quotes.
  if (/["\\\n\r\0]/.test(vm.cmdline)) throw new Error('internal: the kernel command line has a quote, backslash or line break');
  const argv = [
    'qemu-system-x86_64',
    '-name',
    `${vm.name},process=meshvpc-vm-${vm.name}`,
    '-machine',
    `q35,accel=${vm.accel}`,
    '-m',
    `${Math.floor(vm.ramBytes / 2 ** 20)}M`,
    '-smp',
    String(vm.cpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    `file:${safePath(vm.consoleLog, 'console log')}`,
    '-netdev',
    `tap,id=n0,ifname=${vm.hostIf},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${vm.mac}`,
  ];
  if (vm.kernel !== null) argv.push('-kernel', safePath(vm.kernel, 'kernel'), '-append', vm.cmdline);
  if (vm.initrd !== null) argv.push('-initrd', safePath(vm.initrd, 'initrd'));
  if (vm.disk !== null) argv.push('-drive', `file=${safePath(vm.disk, 'disk')},if=virtio,format=${diskFormat(vm.disk)}`);
  argv.push('-daemonize', '-pidfile', safePath(vm.pidFile, 'pid file'));
  return argv;
}

/**
 * The tap, made before QEMU starts: persistent, marked, with the VPC's MTU,
 * on the bridge. The mark comes first and alone: a tap that then fails to
 * join the bridge is still known as this VM's, and removed or reused later.
 */
export function tapCommands(vm: VmSpec): string[][] {
  return [
    ['ip', 'tuntap', 'add', 'dev', vm.hostIf, 'mode', 'tap'],
    ['ip', 'link', 'set', 'dev', vm.hostIf, 'alias', guestAlias(vm.name)],
    ['ip', 'link', 'set', 'dev', vm.hostIf, 'mtu', String(vm.mtu), 'master', vm.bridge, 'up'],
  ];
}

export const vmStartCommands = (vm: VmSpec): string[][] => [...tapCommands(vm), qemuArgv(vm)];

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); the name field may hold spaces, so count after its ")". */
export function startTimeOf(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  return fields[19] ?? null;
}

/** Field 3 of /proc/PID/stat: a killed process that nobody reaped yet is a zombie (Z), not a running VM. */
export function stateOf(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  return close < 0 ? null : (stat.slice(close + 2).split(' ')[0] ?? null);
}

/** This boot of the kernel: a pid and start time recorded before a reboot never match a process after it. */
let bootId: Promise<string> | null = null;
const thisBoot = (): Promise<string> =>
  (bootId ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (t) => t.trim().replace(/[^0-9a-f]/g, '').slice(0, 12),
    () => 'noboot',
  ));

/** PID:START:BOOT of a live (not zombie) process, or null. */
async function identityOf(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const start = startTimeOf(stat);
    const state = stateOf(stat);
    return start === null || state === 'Z' || state === 'X' ? null : `${pid}:${start}:${await thisBoot()}`;
  } catch {
    return null;
  }
}

/** Whether the VM process meshvpc started (pid and start time) still runs. */
export async function vmAlive(identity: string | null): Promise<boolean> {
  if (identity === null) return false;
  const pid = Number(identity.split(':')[0]);
  return Number.isSafeInteger(pid) && pid > 1 && (await identityOf(pid)) === identity;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The live QEMU whose pid file is this VM's and whose process name says it is this VM's, or null. */
async function qemuOf(vm: Pick<VmSpec, 'name' | 'pidFile'>): Promise<number | null> {
  const pid = Number((await readFile(vm.pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isSafeInteger(pid) || pid <= 1 || (await identityOf(pid)) === null) return null;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(`${vm.name},process=meshvpc-vm-${vm.name}`) ? pid : null;
}

export function linuxVm(exec: Executor) {
  const tapIsOurs = async (vm: Pick<VmSpec, 'hostIf' | 'name'>): Promise<boolean | null> => {
    const port = parseIpLinks((await exec.run(['ip', '-json', 'link', 'show', 'dev', vm.hostIf])).stdout || '[]')[0];
    return port ? port.alias === guestAlias(vm.name) : null;
  };
  const stop = async (vm: Pick<VmSpec, 'name' | 'hostIf'>, identity: string | null): Promise<string[]> => {
    const spared: string[] = [];
    if (await vmAlive(identity)) {
      const pid = Number((identity as string).split(':')[0]);
      // QEMU exits cleanly on SIGTERM (closes its tap and files); a VM that ignores it gets SIGKILL after 5 s.
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && (await vmAlive(identity)); i++) await sleep(100);
      if (await vmAlive(identity)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 20 && (await vmAlive(identity)); i++) await sleep(100);
    }
    const ours = await tapIsOurs(vm);
    if (ours === true) await exec.run(['ip', 'link', 'del', 'dev', vm.hostIf]);
    else if (ours === false) spared.push(`interface ${vm.hostIf}`);
    return spared;
  };
  return {
    startCommands: vmStartCommands,
    /** Start the VM; the caller checked the tap name is free. Returns its identity; on failure undoes only what it made. */
    async start(vm: VmSpec): Promise<string> {
      const [add, mark, join] = tapCommands(vm) as [string[], string[], string[]];
      // A QEMU of this VM that meshvpc lost track of (it died between starting QEMU and recording it) is not started twice.
      const orphan = await qemuOf(vm);
      if (orphan !== null) {
        throw new UserError(`a QEMU for VM ${vm.name} already runs (pid ${orphan}) without meshvpc's record of it: end it (kill ${orphan}), then start the VM again`, 'conflict');
      }
      // A pid file left by an earlier run must not be read as this one's.
      await rm(vm.pidFile, { force: true });
      await runChecked(exec, add);
      try {
        await runChecked(exec, mark);
        await runChecked(exec, join);
        await runChecked(exec, qemuArgv(vm));
        const pid = Number((await readFile(vm.pidFile, 'utf8')).trim());
        const identity = Number.isSafeInteger(pid) ? await identityOf(pid) : null;
        if (identity === null) throw new Error(`QEMU for ${vm.name} exited right after it started (see ${vm.consoleLog})`);
        return identity;
      } catch (e) {
        await stop(vm, null);
        throw e;
      }
    },
    stop,
    running: vmAlive,
    /** Whether an interface holds the tap's name, and whether it is this VM's. */
    tapIsOurs,
  };
}

/** How long a KVM probe may take to print the kernel's first line before KVM is judged not to work. */
const PROBE_MS = 8000;

/**
 * Whether KVM really runs a guest here: /dev/kvm can exist and accept
 * KVM_CREATE_VM while a guest still hangs (nested virtualisation), so boot
 * the kernel briefly and look for its first console line.
 */
export async function probeKvm(exec: Executor, kernel: string, scratch: string): Promise<{ accel: VmAccel; why: string }> {
  if (!(await access('/dev/kvm').then(() => true, () => false))) return { accel: 'tcg', why: 'no /dev/kvm' };
  // A directory of its own: two VMs starting at once never share (or kill) each other's probe.
  const dir = await mkdtemp(join(scratch, 'kvm-probe-'));
  const log = `${dir}/probe.log`;
  const pidFile = `${dir}/probe.pid`;
  // panic=-1 and -no-reboot: with no initrd the kernel panics once it has printed, and QEMU then exits by itself.
  const argv = ['qemu-system-x86_64', '-machine', 'q35,accel=kvm', '-m', '128M', '-nodefaults', '-no-user-config', '-display', 'none', '-serial', `file:${safePath(log, 'log')}`, '-kernel', safePath(kernel, 'kernel'), '-append', 'console=ttyS0 panic=-1', '-no-reboot', '-daemonize', '-pidfile', safePath(pidFile, 'pid file')];
  const started = await exec.run(argv);
  if (started.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    return { accel: 'tcg', why: `QEMU would not start with KVM: ${started.stderr.trim().split('\n').pop() ?? ''}` };
  }
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  const identity = Number.isSafeInteger(pid) && pid > 1 ? await identityOf(pid) : null;
  try {
    for (let t = 0; t < PROBE_MS; t += 250) {
      const text = await readFile(log, 'utf8').catch(() => '');
      if (/Linux version/.test(text)) return { accel: 'kvm', why: 'a guest kernel booted under KVM' };
      await sleep(250);
    }
    return { accel: 'tcg', why: `a guest kernel printed nothing under KVM within ${PROBE_MS / 1000}s (nested virtualisation?)` };
  } finally {
    // Killed only while it is still the probe this call started.
    if (identity !== null && (await vmAlive(identity))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}
