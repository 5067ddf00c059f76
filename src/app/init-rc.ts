/**
 * `vpc mode=init_rc`: bring a VPC back at boot. Linux gets a systemd unit that
 * re-applies the VPC (reconcile, so it also repairs whatever survived); the
 * FreeBSD driver writes an rc.d script instead.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { runChecked, systemExecutor } from '../platform/exec.js';
import type { Host } from './host.js';
import { requireVpc } from './vpc-list.js';

export const unitName = (vpc: string): string => `meshvpc-${vpc}.service`;

/** The line both boot files carry: a file at that path without it is someone else's. */
export const BOOT_FILE_MARK = 'Written by meshvpc';

/** Write a boot file only over nothing or over meshvpc's own. */
export function writeOwnFile(path: string, content: string, mode: number): void {
  if (existsSync(path) && !readFileSync(path, 'utf8').includes(BOOT_FILE_MARK)) {
    throw new UserError(`${path} exists and was not written by meshvpc: meshvpc will not replace it; move it away first`);
  }
  writeFileSync(path, content, { mode });
}

export function systemdUnit(vpc: string, meshvpcPath: string): string {
  return `# ${BOOT_FILE_MARK}; \`meshvpc vpc mode=init_rc vpc_name=${vpc}\` rewrites it.
[Unit]
Description=meshvpc VPC ${vpc}: VXLAN tunnels and bridge
Wants=network-online.target
After=network-online.target
Before=machines.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${meshvpcPath} vpc mode=apply vpc_name=${vpc}
# astart=1 guests come back once the bridge is there; one that fails is in the journal, the VPC stays up.
ExecStartPost=-${meshvpcPath} guests mode=start_all vpc_name=${vpc}
ExecStop=${meshvpcPath} vpc mode=down vpc_name=${vpc}
# What apply and start_all start stays in this unit's cgroup: the host's WireGuard link
# (wireguard-go) serves every encrypted VPC and a VM is not this VPC's to kill, so
# stopping the unit runs ExecStop and kills nothing else.
KillMode=process

[Install]
WantedBy=multi-user.target
`;
}

/** What init_rc wrote (or, dry, would write) and how it enabled it. */
export interface InitRcResult {
  readonly path: string;
  readonly content: string;
  /** The commands that enable it (run, or for dryrun to be run). */
  readonly enable: readonly (readonly string[])[];
  readonly dryrun: boolean;
  /** Whether the enable commands ran; false when dry or when systemd is not running here. */
  readonly enabled: boolean;
}

export async function initRc(host: Host, name: string, dryrun: boolean): Promise<InitRcResult> {
  requireVpc(host, name);
  if (host.driver.platform === 'freebsd') {
    const rc = await import('../platform/freebsd/rcd.js');
    const path = rc.freebsdRcScriptPath(name);
    const content = rc.freebsdRcScript(name);
    const enable = rc.freebsdRcInstallCommands(name);
    if (dryrun) return { path, content, enable, dryrun, enabled: false };
    writeOwnFile(path, content, 0o555);
    for (const argv of enable) await runChecked(systemExecutor, argv);
    return { path, content, enable, dryrun, enabled: true };
  }
  const path = `/etc/systemd/system/${unitName(name)}`;
  const content = systemdUnit(name, '/usr/bin/env meshvpc');
  const enable = [['systemctl', 'daemon-reload'], ['systemctl', 'enable', unitName(name)]];
  if (dryrun) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  writeOwnFile(path, content, 0o644);
  // Without a running systemd (containers, chroots) the unit is written and
  // will be enabled by the next `systemctl enable`; the result says so.
  if (!existsSync('/run/systemd/system')) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  for (const argv of enable) await runChecked(systemExecutor, argv);
  return { path, content, enable, dryrun, enabled: true };
}
