/**
 * Reading FreeBSD command output (ifconfig, jls, route, ping) into the
 * observed-state model. The text formats come from FreeBSD's printing code
 * (13: ioctl ifconfig; 14: netlink ifconfig, LOWER_UP in the flags; 15: bridge
 * flags line, no "ifmaxaddr 0"). Parsers read flag NAMES, never hex values,
 * and skip lines they do not know, so a new line in a later release is harmless.
 * What they refuse is text whose lines cannot be placed under an interface
 * (see splitBlocks): guessing there misreports which interfaces a host has.
 */
import { ipaddr } from '../../core/lazy.js';
import type { LinkKind, ObservedLink, ObservedVxlan } from '../../core/observed.js';

/** One interface's lines: the header and everything indented below it. */
interface Block {
  readonly name: string;
  readonly flags: readonly string[];
  readonly mtu: number;
  readonly lines: readonly string[];
}

/**
 * `vxlan100: flags=1008943<UP,...,LOWER_UP> metric 0 mtu 1430`; the <...> part
 * is absent when no flag is set. A name may hold colons (iocage names its
 * epairs `vnet0:6`, so the header reads `vnet0:6: flags=...`): the name is
 * all the text before `: flags=`, colons included, not the text before the
 * first colon.
 */
const HEADER = /^(\S+): flags=[0-9a-fA-F]+(?:<([^>]*)>)?(.*)$/;
/** freebsd.md section 1; IPv6 addresses in brackets. */
const VXLAN_STATUS = /^\tvxlan vni (\d+) local (\[[^\]]*\]|[^\s:]*):(\d*) (remote|group) (\[[^\]]*\]|[^\s:]*):(\d*)$/;
const VXLAN_CONFIG = /^\t\tconfig: (no)?learning\b/;
/**
 * `\tmember: vnet0:4 flags=943<LEARNING,DISCOVER,PRIVATE,AUTOEDGE,AUTOPTP>`; the
 * name may hold colons. What follows the flags (and the indented lines below:
 * `ifmaxaddr`, port, STP role, FreeBSD 15's `vlan protocol 802.1q`) is not read.
 */
const MEMBER = /^\tmember: (\S+) flags=[0-9a-fA-F]+(?:<([A-Z0-9_,]*)>)?/;
/** The bridge status block's first line, in case a bridge has no `groups:` line. */
const BRIDGE_ID = /^\tid [0-9a-f:]+ priority \d+/;
const INET_MASK = /^\tinet (\d+\.\d+\.\d+\.\d+)(?: --> \S+)? netmask (0x[0-9a-fA-F]+|\d+\.\d+\.\d+\.\d+)/;
const INET_CIDR = /^\tinet (\d+\.\d+\.\d+\.\d+)\/(\d+)/;
const INET6 = /^\tinet6 ([0-9a-fA-F:.]+)(?:%\S+)?(?: prefixlen (\d+)|\/(\d+))/;
const LINK_LOCAL = /^fe[89ab][0-9a-f]:/i;

/**
 * A line's indentation as ifconfig prints it: tabs. Output that went through a
 * terminal and was pasted (never a live ifconfig) has the tabs expanded to
 * spaces at 8-column stops; every 8 leading spaces are turned back into one
 * tab, which restores the first level exactly (`\tmember:`, `\tinet`) and the
 * vxlan `\t\tconfig:` line. Indentation of 1 to 7 spaces cannot come from a
 * tab, so nothing tells which level such a line is on: refused rather than
 * guessed, since a guess can hand a member or an address to the wrong interface.
 */
function tabIndented(line: string, lineNo: number): string {
  const spaces = /^ */.exec(line)?.[0].length ?? 0;
  if (spaces === 0) return line;
  if (spaces < 8) {
    throw new Error(
      `ifconfig output line ${lineNo} is indented with ${spaces} space(s), not a tab: ` +
        `cannot tell which interface it belongs to: ${JSON.stringify(line.trim())}`,
    );
  }
  const tabs = Math.floor(spaces / 8);
  return '\t'.repeat(tabs) + line.slice(tabs * 8);
}

/**
 * An indented line belongs to the header above it. A line at column 0 that is
 * not a header (a stray message) ends the interface before it, and an indented
 * line under no header is refused: it means a header this reader did not
 * understand, and taking its lines for the previous interface's (or dropping
 * the interface) would misreport what the host has.
 */
function splitBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let current: { name: string; flags: string[]; mtu: number; lines: string[] } | null = null;
  text.split('\n').forEach((raw, i) => {
    const untrimmed = raw.replace(/\r$/, '');
    // Blank lines belong to no interface and end none.
    if (untrimmed.trim() === '') return;
    const line = tabIndented(untrimmed, i + 1);
    const header = HEADER.exec(line);
    if (header) {
      const mtu = /\bmtu (\d+)/.exec(header[3] ?? '');
      current = {
        name: header[1] as string,
        flags: (header[2] ?? '').split(',').filter((f) => f !== ''),
        mtu: mtu ? Number(mtu[1]) : 0,
        lines: [],
      };
      blocks.push(current);
    } else if (line.startsWith('\t')) {
      if (!current) {
        throw new Error(
          `ifconfig output line ${i + 1} is indented but follows no interface header this reader understands: ` +
            JSON.stringify(line.trim()),
        );
      }
      current.lines.push(line);
    } else {
      current = null;
    }
  });
  return blocks;
}

/** 0xffffff00 or 255.255.255.0 -> 24. */
export function maskToPrefix(mask: string): number {
  const value = mask.startsWith('0x') ? Number.parseInt(mask, 16) : mask.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  let bits = 0;
  for (let bit = 31; bit >= 0; bit--) if (Math.floor(value / 2 ** bit) % 2 === 1) bits++;
  return bits;
}

/** Addresses as the core writes them: IPv6 compressed and lower case (RFC 5952). */
function normalAddress(address: string): string {
  return address.includes(':') && ipaddr().IPv6.isValid(address) ? ipaddr().IPv6.parse(address).toString() : address;
}

/** `[2001:db8::1]` or `192.0.2.1` from the vxlan status line; empty means "not set". */
function endpoint(text: string): string | null {
  const bare = text.startsWith('[') ? text.slice(1, -1) : text;
  return bare === '' ? null : normalAddress(bare);
}

function kindOf(b: Block, groups: readonly string[], hasVxlan: boolean, isBridge: boolean, driver: string | null): LinkKind {
  // Interface groups survive a rename (the bridge is renamed to the VPC name), so they come first.
  for (const g of ['vxlan', 'bridge', 'epair'] as const) if (groups.includes(g)) return g;
  if (hasVxlan) return 'vxlan';
  if (isBridge) return 'bridge';
  const byName = /^(vxlan|bridge|epair)\d/.exec(driver ?? b.name);
  return byName ? (byName[1] as LinkKind) : 'other';
}

interface Parsed {
  readonly link: Omit<ObservedLink, 'master' | 'isolated'>;
  /** Ports listed by this interface if it is a bridge, with their PRIVATE flag. */
  readonly members: readonly { readonly name: string; readonly private: boolean }[];
}

function parseBlock(b: Block, index: number): Parsed {
  let alias: string | null = null;
  let groups: string[] = [];
  let status: RegExpExecArray | null = null;
  let learning: boolean | null = null;
  let driver: string | null = null;
  let bridgeId = false;
  const members: { name: string; private: boolean }[] = [];
  const addresses: string[] = [];
  for (const line of b.lines) {
    let m: RegExpExecArray | null;
    if (line.startsWith('\tdescription: ')) alias = line.slice('\tdescription: '.length);
    else if (line.startsWith('\tgroups:')) groups = line.slice('\tgroups:'.length).trim().split(/\s+/);
    else if (line.startsWith('\tdrivername: ')) driver = line.slice('\tdrivername: '.length).trim();
    else if ((m = VXLAN_STATUS.exec(line))) status = m;
    else if ((m = VXLAN_CONFIG.exec(line))) learning = m[1] !== 'no';
    else if ((m = MEMBER.exec(line))) members.push({ name: m[1] as string, private: (m[2] ?? '').split(',').includes('PRIVATE') });
    else if (BRIDGE_ID.test(line)) bridgeId = true;
    else if ((m = INET_MASK.exec(line))) addresses.push(`${m[1]}/${maskToPrefix(m[2] as string)}`);
    else if ((m = INET_CIDR.exec(line))) addresses.push(`${m[1]}/${m[2]}`);
    else if ((m = INET6.exec(line))) {
      const addr = normalAddress(m[1] as string);
      // The kernel adds link-local addresses by itself; they are not ours to manage.
      if (!LINK_LOCAL.test(addr)) addresses.push(`${addr}/${m[2] ?? m[3]}`);
    }
  }
  const kind = kindOf(b, groups, status !== null, bridgeId || members.length > 0, driver);
  let vxlan: ObservedVxlan | null = null;
  if (kind === 'vxlan') {
    const remote = status ? endpoint(status[5] as string) : null;
    const localPort = status ? Number(status[3]) : 0;
    const remotePort = status ? Number(status[6]) : 0;
    vxlan = {
      // No status line means the VNI was never set; 0 matches no spec, so the planner replaces it.
      vni: status ? Number(status[1]) : 0,
      local: status ? endpoint(status[2] as string) : null,
      remote,
      // The spec has one port for both directions (Linux cannot have two);
      // an interface sending and listening on different ports matches none.
      port: localPort === remotePort ? remotePort : 0,
      // The driver's default is to learn; only the -v config line says otherwise.
      learning: learning ?? true,
      // FreeBSD accepts zero UDP checksums on IPv6 by design. The flag only
      // means something on an IPv6 tunnel, and the spec sets it only there.
      udp6zerocsumrx: remote !== null && remote.includes(':'),
    };
  }
  return {
    link: {
      name: b.name,
      index,
      kind,
      mtu: b.mtu,
      up: b.flags.includes('UP'),
      running: b.flags.includes('RUNNING'),
      alias,
      vxlan,
      addresses,
    },
    members: kind === 'bridge' ? members : [],
  };
}

/** A bridge port as its bridge's `member:` line shows it. */
export interface BridgePort {
  readonly bridge: string;
  readonly name: string;
  /** The PRIVATE member flag (Linux: isolated). */
  readonly private: boolean;
}

function portsOf(parsed: readonly Parsed[]): BridgePort[] {
  return parsed.flatMap((p) => p.members.map((m) => ({ bridge: p.link.name, name: m.name, private: m.private })));
}

/**
 * The `member:` lines of every bridge in `ifconfig` text, in listing order,
 * including ports the text does not describe themselves (`ifconfig BRIDGE`
 * alone, or a cut listing).
 */
export function parseBridgePorts(text: string): BridgePort[] {
  return portsOf(splitBlocks(text).map((b, i) => parseBlock(b, i + 1)));
}

/**
 * `ifconfig -a [-v]` (or `ifconfig [-v] NAME`) -> observed links. A port's
 * master and its isolation (the PRIVATE member flag) are read from the
 * bridge's `member:` lines: ifconfig prints nothing about it on the port.
 * FreeBSD's ifconfig prints no ifindex; `index` is the position in the
 * listing, which `-a` prints in ifindex order. Throws on text whose lines
 * cannot be placed under an interface (see splitBlocks and tabIndented).
 */
export function parseIfconfig(text: string): ObservedLink[] {
  const parsed = splitBlocks(text).map((b, i) => parseBlock(b, i + 1));
  const ports = new Map<string, BridgePort>();
  for (const port of portsOf(parsed)) ports.set(port.name, port);
  return parsed.map((p): ObservedLink => {
    const port = ports.get(p.link.name);
    return { ...p.link, master: port?.bridge ?? null, isolated: port?.private ?? false };
  });
}

interface JlsJail {
  name?: unknown;
  jid?: unknown;
}

function jlsJails(json: string): JlsJail[] {
  if (json.trim() === '') return [];
  const doc = JSON.parse(json) as { 'jail-information'?: { jail?: JlsJail[] } };
  return doc['jail-information']?.jail ?? [];
}

/** `jls --libxo json jid name` -> each jail's name and JID (the JID tells meshvpc's jail from a later one of the same name). */
export function parseJlsIds(json: string): { name: string; jid: string }[] {
  return jlsJails(json).flatMap((j) =>
    typeof j.name === 'string' && (typeof j.jid === 'number' || typeof j.jid === 'string') ? [{ name: j.name, jid: String(j.jid) }] : [],
  );
}

/**
 * `jls --libxo json [-N]` -> jail names. With -N (or a `name` parameter) each
 * jail has a `name`; otherwise only its JID is known, which is also its name
 * when none was given.
 */
export function parseJlsJson(json: string): string[] {
  return jlsJails(json).flatMap((j) => {
    if (typeof j.name === 'string' && j.name !== '') return [j.name];
    if (typeof j.jid === 'number' || typeof j.jid === 'string') return [String(j.jid)];
    return [];
  });
}

/**
 * `route -n get ADDR` -> the interface and the route's MTU. The metrics are a
 * table whose columns changed over the years (rttvar/hopcount before, weight
 * now), so the MTU is found by its column name. Values carry an `L` when the
 * metric is locked. MTU 0 (none recorded) comes back as null.
 */
export function parseRouteGet(text: string): { iface: string; mtu: number | null } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const iface = lines.map((l) => /^\s*interface: (\S+)/.exec(l)).find((m) => m !== null)?.[1];
  if (!iface) throw new Error('route get printed no interface: no route to that address');
  let mtu: number | null = null;
  const head = lines.findIndex((l) => /\brecvpipe\b/.test(l) && /\bmtu\b/.test(l));
  if (head >= 0) {
    const column = (lines[head] ?? '').trim().split(/\s+/).indexOf('mtu');
    const values = (lines.slice(head + 1).find((l) => l.trim() !== '') ?? '').trim().split(/\s+/);
    const value = Number((values[column] ?? '').replace(/L$/, ''));
    if (Number.isInteger(value) && value > 0) mtu = value;
  }
  return { iface, mtu };
}

/** `64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=0.123 ms` (IPv6: `..., icmp_seq=0 hlim=64 time=...`). */
export function parsePingRtt(output: string): number | null {
  const m = /time[=<]([\d.]+) ms/.exec(output);
  return m ? Number(m[1]) : null;
}

/**
 * The name `ifconfig <cloner> create` printed (bridge0, epair3a). Anything
 * else is refused: the next commands would act on the wrong interface.
 */
export function parseClonedName(stdout: string, cloner: 'bridge' | 'epair' | 'wg'): string {
  const name = stdout.trim();
  const expected = cloner === 'bridge' ? /^bridge\d+$/ : cloner === 'wg' ? /^wg\d+$/ : /^epair\d+a$/;
  if (!expected.test(name)) throw new Error(`ifconfig ${cloner} create printed ${JSON.stringify(name)}, not a new ${cloner} name`);
  return name;
}
