/**
 * bhyve(8) argv for a VM on a VPC bridge (pure; the driver runs them, dry runs
 * and golden files print them). Facts from FreeBSD 13-15's manual pages and
 * sources, cited where a choice rests on them.
 *
 * Start: kernel modules, a tap with meshvpc's name and mark joined to the
 * bridge, a detached copier from the console's nmdm(4) B side into the
 * console log, then bhyve itself, detached, its pid in vm.pidFile.
 *
 * Only disk boots: bhyve cannot load a Linux kernel and initrd itself (its
 * loaders are a boot ROM, bhyveload(8) for FreeBSD, grub-bhyve from ports), so
 * a VmSpec with vm_kernel= is refused rather than rendered into something that
 * would not boot.
 */
import { UserError, shown } from '../../core/errors.js';
import { guestAlias } from '../../core/spec.js';
import type { VmSpec } from '../driver.js';

/** sysutils/bhyve-firmware (edk2-bhyve) installs the UEFI code here; bhyve(8)'s own examples use it. */
export const UEFI_FIRMWARE = '/usr/local/share/uefi-firmware/BHYVE_UEFI.fd';

/**
 * FreeBSD 13's bhyve(8): "The current maximum number of guest virtual CPUs is
 * 16." 14 and later take hw.vmm.maxcpu (the host's CPU count unless tuned),
 * which only the host knows: the driver may check it, this bound holds on all.
 */
export const BHYVE_MAX_CPUS = 16;

/** Less than this and no UEFI guest gets far; bhyve's own default is 256M. */
export const BHYVE_MIN_RAM_MIB = 32;

const MIB = 1024 * 1024;

/**
 * A VM's name: /dev/vmm/NAME and bhyve's last argument. The kernel takes at
 * most 31 bytes through hw.vmm.create on 13/14 (a VM_MAX_NAMELEN = 32 buffer
 * with its NUL). No leading "-": bhyve's getopt would read it as an option.
 */
const VM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,30}$/;

/**
 * The tap's name. bhyve picks a network backend by the device name's prefix
 * (net_backends.c: "tap", "vmnet", "netgraph"...), so it must start with
 * "tap"; 15 characters at most (IFNAMSIZ). tapN is refused: the kernel hands
 * those out to `ifconfig tap create`, and another tool could take it first.
 */
const TAP_NAME = /^tap[A-Za-z0-9_]{1,12}$/;
const KERNEL_TAP_NAME = /^tap\d+$/;

/** Bridges are named after their VPC (validate.vpcName). */
const BRIDGE_NAME = /^[A-Za-z0-9_]{1,15}$/;

/** ethers(5) form, as bhyve's mac= reads it. */
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * nmdm(4) creates a pair on the first open of /dev/nmdm<name>A or ...B; since
 * FreeBSD 11 the name between "nmdm" and the A/B is free text (nmdm.c:
 * 'Device name must be "nmdm%s%c"'), the manual page still shows nmdmN only.
 * 63 characters keeps it inside SPECNAMELEN on every release.
 */
const NMDM_A = /^\/dev\/(nmdm[A-Za-z0-9_.-]{1,58})A$/;

function invalid(key: string, value: string, rule: string): never {
  throw new UserError(`invalid ${key} ${shown(value)}: ${rule}`);
}

/**
 * Absolute, without whitespace or control characters. Paths inside a bhyve
 * option string (disk, console, firmware) may not hold a comma either: bhyve
 * splits `-s` and `-l` values at commas.
 */
function checkPath(key: string, value: string, inBhyveOption: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (!value.startsWith('/') || /[\s\x00-\x1f\x7f]/.test(value)) invalid(key, value, 'use an absolute path without spaces');
  if (inBhyveOption && value.includes(',')) invalid(key, value, 'bhyve splits its options at commas: use a path without ","');
  return value;
}

function checkName(name: string): void {
  if (!VM_NAME.test(name)) invalid('vm name', name, 'use 1-31 letters, digits, "_" or "-", not starting with "-" (bhyve VM names)');
}

function checkTap(hostIf: string): void {
  if (!TAP_NAME.test(hostIf) || KERNEL_TAP_NAME.test(hostIf)) {
    invalid('tap name', hostIf, 'bhyve needs a tap named "tap" and 1-12 letters, digits or "_" (not tapN)');
  }
}

/** RAM in whole MiB, rounded up so the guest never gets less than asked. */
export function ramMib(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < BHYVE_MIN_RAM_MIB * MIB) {
    throw new UserError(`invalid vm_ram ${shown(String(bytes))}: a bhyve VM needs at least ${BHYVE_MIN_RAM_MIB}M`);
  }
  return Math.ceil(bytes / MIB);
}

/** The B side of an nmdm pair, where the console copier reads. */
export function nmdmOtherSide(consoleDevice: string): string {
  if (!NMDM_A.test(consoleDevice)) {
    invalid('console device', consoleDevice, 'use the A side of an nmdm(4) pair, /dev/nmdm<name>A');
  }
  return `${consoleDevice.slice(0, -1)}B`;
}

/** The console copier's pid file, next to the VM's: /x/web1.pid -> /x/web1.console.pid. */
export function consolePidFile(pidFile: string): string {
  return pidFile.endsWith('.pid') ? `${pidFile.slice(0, -'.pid'.length)}.console.pid` : `${pidFile}.console`;
}

/** What a VmSpec must be for bhyve: the MAC in bhyve's lower case, RAM in MiB, the disk. */
function checkVm(vm: VmSpec): { mac: string; mib: number; disk: string } {
  // The boot method first: a VmSpec made for QEMU fails here with the reason.
  if (vm.kernel !== null || vm.initrd !== null) {
    throw new UserError(
      'FreeBSD boots VMs from vm_disk= with UEFI firmware; bhyve cannot load a Linux kernel and initrd directly, ' +
        'so a direct kernel boot (vm_kernel=, vm_initrd=) needs QEMU on Linux',
    );
  }
  if (vm.disk === null) throw new UserError(`VM ${shown(vm.name)} has no vm_disk=: FreeBSD boots VMs from a disk image with UEFI firmware`);
  if (vm.accel !== 'kvm') {
    throw new UserError('bhyve runs guests only with hardware virtualization (vmm(4)); software emulation (TCG) needs QEMU on Linux');
  }
  checkName(vm.name);
  checkTap(vm.hostIf);
  if (!BRIDGE_NAME.test(vm.bridge)) invalid('bridge', vm.bridge, 'use 1-15 letters, digits or "_"');
  if (!Number.isInteger(vm.mtu) || vm.mtu < 576 || vm.mtu > 65535) invalid('mtu', String(vm.mtu), 'use 576-65535');
  const mac = vm.mac.toLowerCase();
  // Bit 0 of the first octet marks a group address: no NIC may have one.
  if (!MAC.test(mac) || Number.parseInt(mac.slice(0, 2), 16) % 2 === 1 || mac === '00:00:00:00:00:00') {
    invalid('mac', vm.mac, 'use a unicast MAC such as 02:00:00:00:00:01');
  }
  if (!Number.isInteger(vm.cpus) || vm.cpus < 1 || vm.cpus > BHYVE_MAX_CPUS) {
    throw new UserError(`invalid vm_cpus ${shown(String(vm.cpus))}: bhyve takes 1-${BHYVE_MAX_CPUS}`);
  }
  checkPath('console log', vm.consoleLog, false);
  checkPath('pid file', vm.pidFile, false);
  return { mac, mib: ramMib(vm.ramBytes), disk: checkPath('vm_disk', vm.disk, true) };
}

/**
 * Makes the console's B side raw before copying it. A tty echoes what it
 * receives (ECHO is on by default): a plain `cat` of the B side would send the
 * guest's own output back to it as typed input. The script is constant; the
 * device is its $1, never spliced into it. stty works on stdin, and the
 * settings hold because the descriptor stays open into `exec cat`.
 */
const RAW_COPY = 'exec <"$1" && stty raw -echo && exec cat';

/**
 * The commands that start `vm`, its serial console on the nmdm(4) pair whose
 * A side is `consoleDevice`.
 */
export function bhyveStartCommands(vm: VmSpec, consoleDevice: string): string[][] {
  const { mac, mib, disk } = checkVm(vm);
  const consoleB = nmdmOtherSide(consoleDevice);
  return [
    // Nothing loads nmdm on demand. bhyve's libvmmapi would load vmm itself,
    // but a host without VT-x/AMD-V then fails here, with kldload's message,
    // and not inside a detached bhyve whose error only reaches the log.
    ['kldload', '-n', 'vmm', 'nmdm'],
    // One call: `create` makes tapN, `name` renames it at once (ifconfig(8):
    // the new name is printed "unless the interface is renamed ... in the same
    // ifconfig invocation"), and the mark comes next so a failure further on
    // leaves a tap meshvpc's stop recognises. Renaming keeps /dev/tapN
    // reachable as /dev/HOSTIF too (if_tuntap adds a devfs alias), which is
    // the path bhyve opens. MTU before addm: a bridge refuses a port whose
    // MTU differs from its own.
    ['ifconfig', 'tap', 'create', 'name', vm.hostIf, 'description', guestAlias(vm.name), 'mtu', String(vm.mtu), 'up'],
    ['ifconfig', vm.bridge, 'addm', vm.hostIf],
    // The copier starts first so no early output is lost: its open of the B
    // side waits for carrier, i.e. for bhyve to open the A side, and it reads
    // EOF when bhyve closes it. -f: stdin from /dev/null; -o appends stdout
    // (file mode 0600); -p holds a locked pid file while it runs, so the stop
    // can end a copier whose bhyve died before opening the console.
    ['daemon', '-f', '-p', consolePidFile(vm.pidFile), '-o', vm.consoleLog, 'sh', '-c', RAW_COPY, 'sh', consoleB],
    [
      // -p: bhyve's pid, locked while it runs and removed when it exits
      // (daemon(8)); -o: bhyve's own errors land in the console log too.
      'daemon', '-f', '-p', vm.pidFile, '-o', vm.consoleLog,
      'bhyve',
      '-c', String(vm.cpus),
      '-m', `${mib}M`,
      // -A: ACPI tables (required before 15, a no-op kept for compatibility
      // since); -H: yield the host CPU on HLT instead of spinning; -P: exit on
      // PAUSE (spin loops); -u: the RTC keeps UTC, as Linux and BSD guests
      // expect; -D: a guest power-off also destroys /dev/vmm/NAME.
      '-A', '-H', '-P', '-u', '-D',
      '-s', '0,hostbridge',
      // Slot 31 is where the LPC bridge sits on real chipsets; Windows guests
      // need it there and no other guest minds.
      '-s', '31,lpc',
      // mtu= hands the VPC MTU to the guest's virtio driver (VIRTIO_NET_F_MTU),
      // so eth0 takes it without a kernel command line; a bhyve that does not
      // know the key ignores it.
      '-s', `2,virtio-net,${vm.hostIf},mac=${mac},mtu=${vm.mtu}`,
      '-s', `3,virtio-blk,${disk}`,
      '-l', `com1,${consoleDevice}`,
      // `-l bootrom` works on 13-15 (15 also takes `-o bootrom=`).
      '-l', `bootrom,${UEFI_FIRMWARE}`,
      vm.name,
    ],
  ];
}

/**
 * Stop `vm`: destroying the VM instance ends bhyve, which closes the tap and
 * the console (the copier then reads EOF); a copier that never saw its bhyve
 * is signalled through its pid file (-L: only while daemon holds the file
 * locked, so a stale pid is never hit); then the tap goes. `ifconfig destroy`
 * waits while bhyve still has the tap open. The driver (vm.ts) runs the
 * first step only while the VM's recorded identity still runs, the last only
 * if the tap still carries meshvpc's mark (guestAlias), and treats "already
 * gone" answers as done, as guestStop does. Its stop is given no pid file, so
 * the copier step runs when a start cleans up (a failed one, or the next).
 */
export function bhyveStopCommands(vm: VmSpec): string[][] {
  return [bhyveDestroyCommand(vm.name), consoleStopCommand(vm.pidFile), tapDestroyCommand(vm.hostIf)];
}

/** Ends VM `name`'s instance, and with it its bhyve. Only this VM's name is ever given. */
export function bhyveDestroyCommand(name: string): string[] {
  checkName(name);
  return ['bhyvectl', '--destroy', `--vm=${name}`];
}

/** Ends the console copier of the VM whose pid file is `pidFile`, only while daemon(8) holds its pid file locked. */
export function consoleStopCommand(pidFile: string): string[] {
  checkPath('pid file', pidFile, false);
  return ['pkill', '-L', '-F', consolePidFile(pidFile)];
}

export function tapDestroyCommand(hostIf: string): string[] {
  checkTap(hostIf);
  return ['ifconfig', hostIf, 'destroy'];
}

/**
 * The console device meshvpc gives VM `name`: the A side of nmdm pair
 * "-NAME-" (/dev/nmdm-web1-A; the copier reads /dev/nmdm-web1-B). One pair per
 * VM name, so two VMs never share a console.
 */
export function bhyveConsoleDevice(name: string): string {
  checkName(name);
  return `/dev/nmdm-${name}-A`;
}

/**
 * The VM instances the kernel holds: one /dev/vmm/NAME each (the memory
 * segments live in /dev/vmm.io). An instance is not always a running bhyve:
 * after a guest reboot bhyve exits and the instance stays; vm.pidFile tells
 * whether bhyve runs. When no VM was ever created /dev/vmm does not exist and
 * ls fails with "No such file or directory": that means none.
 */
export const bhyveRunningCommand = (): string[] => ['ls', '-1', '/dev/vmm'];

/**
 * `ls -1 /dev/vmm` -> VM names, in ls order. A line with a "/" cannot be a VM
 * name (vmm refuses it) and means the text is not this listing: refused.
 */
export function parseBhyveVms(text: string): string[] {
  const names = text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '');
  const bad = names.find((n) => n.includes('/'));
  if (bad !== undefined) throw new Error(`not a listing of /dev/vmm: line ${JSON.stringify(bad)}`);
  return names;
}
