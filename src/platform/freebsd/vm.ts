/**
 * VMs on FreeBSD: bhyve with a tap on the VPC bridge, run through the argv
 * bhyve.ts renders. Like Linux's QEMU driver, meshvpc makes the tap itself
 * (named, marked with the guest's alias) so `bstop` can tell its tap from
 * anyone else's, and the VM's identity is the hypervisor's pid with the
 * process's start time, so a pid reused by another process after a crash is
 * never taken for the VM (nor stopped).
 *
 * Identity on FreeBSD: "PID:START", START being the second, counted from boot,
 * at which the process started. FreeBSD has no /proc/PID/stat in the base
 * system; `ps -o lstart` prints the kernel's ki_start, which is the process's
 * start in uptime plus kern.boottime (kern_proc.c). kern.boottime moves when
 * the clock is stepped (ntpd -g at boot, date(1)), and every lstart with it:
 * a raw lstart would make a VM started before the step look gone after it.
 * lstart minus kern.boottime does not move. Both are printed in whole seconds
 * and a step changes boottime's fraction, so the difference can come out one
 * second off after a step: a match allows that second. The command name must
 * still be bhyve too, so a reused pid would have to be another bhyve started
 * within that second.
 */
import { UserError, shown } from '../../core/errors.js';
import { guestAlias } from '../../core/spec.js';
import type { VmAccel, VmDriver, VmSpec } from '../driver.js';
import { CommandError, runChecked, type Executor } from '../exec.js';
import {
  bhyveConsoleDevice,
  bhyveDestroyCommand,
  bhyveStartCommands,
  consoleStopCommand,
  tapDestroyCommand,
  bhyveRunningCommand,
  parseBhyveVms,
} from './bhyve.js';
import { parseIfconfig } from './parse.js';

/** ifconfig and bhyvectl saying the thing is not there any more: stop is done with it. */
const TAP_GONE = /does not exist/;
const VM_GONE = /could not be opened|No such file or directory|does not exist/;

/**
 * The pid in a pid file that daemon(8) still holds locked (-L), i.e. whose
 * child still runs. Fails with "Cannot open pidfile", "is empty" or "can be
 * locked" otherwise.
 */
export const pidFileCommand = (pidFile: string): string[] => ['pgrep', '-L', '-F', pidFile];

/** The C locale and UTC make lstart's text fixed ("Thu Jan  2 15:04:05 2025"), whatever the host's settings. */
export const psStartCommand = (pid: number): string[] => ['env', 'LC_ALL=C', 'TZ=UTC', 'ps', '-o', 'comm=', '-o', 'lstart=', '-p', String(pid)];

export const BOOTTIME_COMMAND: readonly string[] = ['sysctl', '-n', 'kern.boottime'];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const PS_LINE = /^(\S+)\s+[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** `bhyve    Thu Jan  2 15:04:05 2025` (C locale, UTC) -> command name and start in seconds since the epoch. */
export function parsePsStart(text: string): { comm: string; start: number } | null {
  const m = PS_LINE.exec(text.trim());
  if (!m) return null;
  const month = MONTHS.indexOf(m[2] as string);
  if (month < 0) return null;
  const at = Date.UTC(Number(m[7]), month, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return { comm: m[1] as string, start: at / 1000 };
}

/** `{ sec = 1735820000, usec = 250000 } Thu Jan  2 12:13:20 2025` -> 1735820000. */
export function parseBoottime(text: string): number {
  const m = /\bsec = (\d+)/.exec(text);
  if (!m) throw new Error(`cannot read kern.boottime from ${JSON.stringify(text.trim())}`);
  return Number(m[1]);
}

interface Identity {
  readonly pid: number;
  readonly start: number;
}

function parseIdentity(identity: string | null): Identity | null {
  const m = identity === null ? null : /^(\d+):(\d+)$/.exec(identity);
  if (!m) return null;
  const pid = Number(m[1]);
  return pid > 1 ? { pid, start: Number(m[2]) } : null;
}

/** The pid on a pid file's first line, as pgrep -F prints it. */
function pidIn(text: string): number | null {
  const m = /^(\d+)$/m.exec(text.trim());
  const pid = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

export interface VmTiming {
  /** Pause between two looks while waiting for bhyve to appear or to end. */
  readonly stepMs: number;
  /** Looks before giving up. */
  readonly tries: number;
}

const DEFAULT_TIMING: VmTiming = { stepMs: 100, tries: 50 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freebsdVm(exec: Executor, timing: VmTiming = DEFAULT_TIMING): VmDriver {
  const waitFor = async (done: () => Promise<boolean>): Promise<boolean> => {
    for (let i = 0; i < timing.tries; i++) {
      if (await done()) return true;
      await sleep(timing.stepMs);
    }
    return done();
  };

  /** The identity of process `pid` if it is a bhyve, else null (gone, or another program). */
  const identityOf = async (pid: number): Promise<Identity | null> => {
    const r = await exec.run(psStartCommand(pid));
    const p = r.code === 0 ? parsePsStart(r.stdout) : null;
    if (!p || p.comm !== 'bhyve') return null;
    return { pid, start: p.start - parseBoottime(await runChecked(exec, BOOTTIME_COMMAND)) };
  };

  const running = async (identity: string | null): Promise<boolean> => {
    const want = parseIdentity(identity);
    if (!want) return false;
    const now = await identityOf(want.pid);
    return now !== null && Math.abs(now.start - want.start) <= 1;
  };

  const tapIsOurs = async (vm: Pick<VmSpec, 'hostIf' | 'name'>): Promise<boolean | null> => {
    const argv = ['ifconfig', vm.hostIf];
    const r = await exec.run(argv);
    if (r.code !== 0) {
      if (TAP_GONE.test(r.stderr)) return null;
      throw new CommandError(argv, r);
    }
    const port = parseIfconfig(r.stdout).find((l) => l.name === vm.hostIf);
    return port ? port.alias === guestAlias(vm.name) : null;
  };

  /** The bhyve whose pid file daemon(8) still holds, if any. */
  const pidFromFile = async (pidFile: string): Promise<number | null> => {
    const r = await exec.run(pidFileCommand(pidFile));
    return r.code === 0 ? pidIn(r.stdout) : null;
  };

  const waitForPid = async (pidFile: string): Promise<number | null> => {
    for (let i = 0; i < timing.tries; i++) {
      const pid = await pidFromFile(pidFile);
      if (pid !== null) return pid;
      await sleep(timing.stepMs);
    }
    return pidFromFile(pidFile);
  };

  const startCommands = (vm: VmSpec): string[][] => bhyveStartCommands(vm, bhyveConsoleDevice(vm.name));

  const stop = async (vm: Pick<VmSpec, 'name' | 'hostIf'>, identity: string | null): Promise<string[]> => {
    const spared: string[] = [];
    const want = parseIdentity(identity);
    if (want && (await running(identity))) {
      const destroy = bhyveDestroyCommand(vm.name);
      const r = await exec.run(destroy);
      if (r.code !== 0 && !VM_GONE.test(r.stderr)) throw new CommandError(destroy, r);
      // Destroying the instance ends bhyve; one that lingers is killed, still only if it is the same process.
      if (!(await waitFor(async () => !(await running(identity))))) {
        await exec.run(['kill', '-KILL', String(want.pid)]);
        if (!(await waitFor(async () => !(await running(identity))))) {
          throw new Error(`bhyve for VM ${vm.name} (pid ${want.pid}) did not exit; its tap ${vm.hostIf} is left in place`);
        }
      }
    }
    // The console copier needs nothing: it reads EOF when bhyve closes the console, and exits.
    const ours = await tapIsOurs(vm);
    if (ours === true) {
      const argv = tapDestroyCommand(vm.hostIf);
      const r = await exec.run(argv);
      if (r.code !== 0 && !TAP_GONE.test(r.stderr)) throw new CommandError(argv, r);
    } else if (ours === false) spared.push(`interface ${vm.hostIf}`);
    return spared;
  };

  /**
   * What this call made, undone in reverse: bhyve's instance (this VM's name
   * only, and only if bhyve was started), the console copier (through its
   * locked pid file), the tap (only while it carries this VM's mark).
   * Failures here are not reported over the one that caused the undo.
   */
  const undo = async (vm: VmSpec, made: { tap: boolean; copier: boolean; bhyve: boolean }): Promise<void> => {
    if (made.bhyve) {
      await exec.run(bhyveDestroyCommand(vm.name));
      await waitFor(async () => (await pidFromFile(vm.pidFile)) === null);
    }
    if (made.copier) await exec.run(consoleStopCommand(vm.pidFile));
    if (made.tap && (await tapIsOurs(vm).catch(() => null)) === true) await exec.run(tapDestroyCommand(vm.hostIf));
  };

  return {
    startCommands,

    async start(vm) {
      // Rendering first: a VmSpec bhyve cannot run (a kernel boot, TCG) is refused before anything is touched.
      const [kldload, tapCreate, addm, copier, bhyve] = startCommands(vm) as [string[], string[], string[], string[], string[]];

      // A bhyve of this VM that meshvpc did not record (its daemon still holds
      // the pid file) is not replaced: daemon would refuse the pid file anyway,
      // and the tap below is that VM's.
      const orphan = await pidFromFile(vm.pidFile);
      if (orphan !== null) {
        throw new UserError(
          `a bhyve for VM ${shown(vm.name)} already runs (pid ${orphan}) without meshvpc's record of it: ` +
            `end it with "bhyvectl --destroy --vm=${vm.name}", then start the VM again`,
          'conflict',
        );
      }
      // With no bhyve of this VM left, a copier still holding the console's pid
      // file is a leftover (its bhyve died before opening the console), and it
      // would make the copier's daemon below refuse to start.
      await exec.run(consoleStopCommand(vm.pidFile));
      // The caller checked the tap name is free or this VM's. This VM's is a
      // leftover of an earlier run: `tap create name` cannot take an existing
      // name (it would leave an anonymous tapN behind), so it goes first.
      const leftover = await tapIsOurs(vm);
      if (leftover === false) {
        throw new UserError(`interface ${vm.hostIf} exists and is not meshvpc's: meshvpc will not take it over`, 'conflict');
      }
      if (leftover === true) await runChecked(exec, tapDestroyCommand(vm.hostIf));

      // A VM instance of this name that is not ours (another tool's, CBSD's): bhyve would
      // fail on it, and the undo below would destroy it. Refused before anything is touched.
      const listed = await exec.run(bhyveRunningCommand());
      if (parseBhyveVms(listed.code === 0 ? listed.stdout : '').includes(vm.name)) {
        throw new UserError(`a bhyve VM named ${shown(vm.name)} already exists (/dev/vmm/${vm.name}) and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
      }

      const made = { tap: false, copier: false, bhyve: false };
      try {
        await runChecked(exec, kldload);
        // Whatever happens to this command, a tap with this VM's mark under
        // this name is now this call's: the name was free just before.
        made.tap = true;
        await runChecked(exec, tapCreate);
        await runChecked(exec, addm);
        await runChecked(exec, copier);
        made.copier = true;
        await runChecked(exec, bhyve);
        // daemon(8) returns once it has detached, and its child writes the pid
        // a moment later (the file was truncated when daemon opened it, so an
        // old pid is never read): wait for it. No pid means bhyve already exited.
        const pid = await waitForPid(vm.pidFile);
        const identity = pid === null ? null : await identityOf(pid);
        // Only a bhyve known to be this call's is ever destroyed by the undo.
        made.bhyve = identity !== null;
        if (pid === null || identity === null) {
          throw new Error(`bhyve for VM ${vm.name} exited right after it started (see ${vm.consoleLog})`);
        }
        return `${identity.pid}:${identity.start}`;
      } catch (e) {
        await undo(vm, made).catch(() => undefined);
        throw e;
      }
    },

    stop,
    running,
    tapIsOurs,

    /**
     * bhyve has no software emulation: every guest runs on vmm(4), the
     * hardware virtualization (VT-x/AMD-V) the renderer requires (it refuses
     * 'tcg'). So `auto` resolves to the hardware one, reported as 'kvm', the
     * name VmAccel gives hardware acceleration; no probe boot is needed, and
     * a host without VT-x/AMD-V fails at start, at `kldload vmm`, with the
     * kernel's reason. The probe kernel and scratch directory are not used.
     */
    async accel(): Promise<{ accel: VmAccel; why: string }> {
      return { accel: 'kvm', why: 'bhyve uses the vmm(4) hypervisor (hardware virtualization); it has no software emulation' };
    },
  };
}
