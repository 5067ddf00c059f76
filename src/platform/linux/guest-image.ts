/**
 * The default VM guest image that scripts/guest-image.sh builds at install time
 * (a Debian cloud kernel and a busybox initramfs), and the kernel command line
 * its /init reads: meshvpc.name, .ip4, .ip6, .gw4 and .mtu.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { shown } from '../../core/errors.js';

export const defaultGuestDir = (): string => process.env.MESHVPC_GUEST_DIR || '/var/lib/meshvpc/guest';

/** The kernel and initrd in `dir`, or null when either is missing (the image was not built). */
export function defaultGuestImage(dir = defaultGuestDir()): { kernel: string; initrd: string } | null {
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  return existsSync(kernel) && existsSync(initrd) ? { kernel, initrd } : null;
}

export interface GuestBoot {
  readonly name: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  readonly gw4: string | null;
  readonly mtu: number;
}

/** Characters a command-line value may hold: no whitespace, quotes or shell syntax reach the guest. */
const SAFE = /^[A-Za-z0-9.:/_-]+$/;

function param(key: string, value: string): string {
  // The caller has validated every value; this is the last guard before the guest's /init.
  if (!SAFE.test(value)) throw new Error(`guest kernel command line: meshvpc.${key} ${shown(value)} is not [A-Za-z0-9.:/_-]+`);
  return `meshvpc.${key}=${value}`;
}

/**
 * The kernel command line of a guest booted from the default image; the
 * console is the serial port, and not quiet: bconsole shows the whole boot.
 */
export function guestCmdline(x: GuestBoot): string {
  if (!Number.isInteger(x.mtu) || x.mtu <= 0) throw new Error(`guest kernel command line: mtu ${x.mtu} is not a positive integer`);
  const parts = ['console=ttyS0', 'panic=-1', param('name', x.name)];
  if (x.ip4 !== null) parts.push(param('ip4', x.ip4));
  if (x.ip6 !== null) parts.push(param('ip6', x.ip6));
  if (x.gw4 !== null) parts.push(param('gw4', x.gw4));
  parts.push(param('mtu', String(x.mtu)));
  return parts.join(' ');
}
