/**
 * Strict validation of every value a user can type. Values are checked here,
 * before they reach a command line, an SSH request or SQL, so that the error
 * names the bad value and what is allowed.
 */
import { ipaddr } from './lazy.js';
import { shown, UserError } from './errors.js';

export { shown };

function check(re: RegExp, what: string, allowed: string) {
  return (value: string, key = what): string => {
    if (!re.test(value)) throw new UserError(`invalid ${key} ${shown(value)}: ${allowed}`);
    return value;
  };
}

/** Host names as DNS labels joined by dots; they appear in interface aliases. */
export const nodeName = check(
  /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/,
  'nodename',
  'use 1-63 letters, digits, "." or "-", starting and ending with a letter or digit',
);

/**
 * A VPC name is also the bridge's interface name (15 characters on Linux and
 * FreeBSD) and part of an rc.d variable name, so it must be a shell identifier.
 */
export const vpcName = (value: string, key = 'vpc_name'): string => {
  check(/^[a-z][a-z0-9_]{0,14}$/, key, 'use 1-15 lowercase letters, digits or "_", starting with a letter')(value, key);
  if (/^(vxlan\d+|lo|all|bridge\d*|epair\d*)$/.test(value)) {
    throw new UserError(`invalid ${key} ${shown(value)}: this name is reserved for system interfaces`);
  }
  return value;
};

/** Container names: FreeBSD forbids "." and all-digit names; netns names are file names. */
export const jailName = check(
  /^[A-Za-z][A-Za-z0-9_-]{0,31}$/,
  'jname',
  'use 1-32 letters, digits, "_" or "-", starting with a letter',
);

/**
 * A file a user hands to a VM (vm_kernel=, vm_disk=): absolute, plain
 * characters only, since QEMU's own option syntax splits on "," and "=".
 */
export const filePath = (value: string, key: string): string => {
  check(/^\/[A-Za-z0-9._/+-]{0,1023}$/, key, 'use an absolute path of letters, digits, ".", "_", "-", "+" and "/"')(value, key);
  if (value.split('/').includes('..')) throw new UserError(`invalid ${key} ${shown(value)}: ".." is not allowed in the path`);
  return value;
};

/** API token names: shown in listings and logs. */
export const tokenName = check(/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/, 'name', 'use 1-32 letters, digits, "_", "." or "-", starting with a letter');

export const userName = check(/^[a-z_][a-z0-9_-]{0,31}$/, 'user', 'use a POSIX user name such as root');

export function integer(value: string, key: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UserError(`invalid ${key} ${shown(value)}: use a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

export const port = (value: string, key = 'port'): number => integer(value, key, 1, 65535);

/** Tunnel MTU bounds: IPv6 needs 1280; jumbo underlays top out near 9000. */
export const mtu = (value: string, key = 'mtu'): number => integer(value, key, 1280, 9000);

export function boolFlag(value: string, key: string): boolean {
  if (value === '1' || value === 'yes' || value === 'true') return true;
  if (value === '0' || value === 'no' || value === 'false') return false;
  throw new UserError(`invalid ${key} ${shown(value)}: use 1 or 0`);
}

export function isIPv4(value: string): boolean {
  return /^[0-9.]{7,15}$/.test(value) && ipaddr().IPv4.isValidFourPartDecimal(value);
}

export function isIPv6(value: string): boolean {
  return /^[0-9a-fA-F:.]{2,45}$/.test(value) && value.includes(':') && ipaddr().IPv6.isValid(value);
}

export function ipv4(value: string, key = 'nodeip'): string {
  if (!isIPv4(value)) throw new UserError(`invalid ${key} ${shown(value)}: use an IPv4 address such as 192.0.2.10`);
  return value;
}

export function ipv6(value: string, key = 'nodeip6'): string {
  if (!isIPv6(value)) throw new UserError(`invalid ${key} ${shown(value)}: use an IPv6 address such as 2001:db8::10`);
  return ipaddr().IPv6.parse(value).toString();
}

/** An address of either family, normalised (IPv6 compressed, lower case). */
export function address(value: string, key = 'node'): string {
  if (isIPv4(value)) return value;
  if (isIPv6(value)) return ipaddr().IPv6.parse(value).toString();
  throw new UserError(`invalid ${key} ${shown(value)}: use an IPv4 or IPv6 address`);
}

/** A node is named by its nodename or one of its addresses. */
export function nodeRef(value: string, key = 'node'): string {
  if (isIPv4(value) || isIPv6(value)) return address(value, key);
  return nodeName(value, key);
}

export interface Cidr {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefix: number;
}

function cidr(value: string, key: string, requireNetwork: boolean): Cidr {
  const m = /^([0-9a-fA-F:.]{2,45})\/(\d{1,3})$/.exec(value);
  const bad = (why: string): never => {
    throw new UserError(`invalid ${key} ${shown(value)}: ${why}`);
  };
  if (!m) return bad('use ADDRESS/PREFIX such as 10.100.0.0/24');
  const [, addr = '', prefixText = ''] = m;
  const prefix = Number(prefixText);
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : bad('the address part is not an IPv4 or IPv6 address');
  const max = family === 4 ? 32 : 128;
  if (prefix > max) bad(`the prefix length must be 0-${max}`);
  const normal = family === 4 ? addr : ipaddr().IPv6.parse(addr).toString();
  if (requireNetwork) {
    const parsed = ipaddr().parse(normal);
    const net = ipaddr().parseCIDR(`${normal}/${prefix}`);
    const base = family === 4 ? ipaddr().IPv4.networkAddressFromCIDR(`${normal}/${prefix}`) : ipaddr().IPv6.networkAddressFromCIDR(`${normal}/${prefix}`);
    if (base.toString() !== parsed.toString()) bad(`host bits are set; the network is ${base.toString()}/${net[1]}`);
  }
  return { family, address: normal, prefix };
}

/** A network in CIDR form with no host bits set (10.100.0.0/24). */
export const network = (value: string, key: string): Cidr => cidr(value, key, true);

/** An interface address in CIDR form (10.10.11.1/24). */
export const interfaceAddress = (value: string, key: string): Cidr => {
  const c = cidr(value, key, false);
  const host = ipaddr().parse(c.address);
  if (host.range() === 'unspecified') {
    throw new UserError(`invalid ${key} ${shown(value)}: use a host address with its prefix such as 10.10.11.1/24`);
  }
  return c;
};

export const cidrText = (c: Cidr): string => `${c.address}/${c.prefix}`;

/** A comma separated list, each element checked by `one`. Empty elements are refused. */
export function list<T>(value: string, key: string, one: (v: string, k: string) => T): T[] {
  if (value === '') throw new UserError(`invalid ${key} "": give at least one value`);
  return value.split(',').map((v) => one(v.trim(), key));
}
