/**
 * Requests arrive from other hosts; they are checked with the same validators
 * as typed input before anything reaches SQL or a command line.
 */
import type { AppliedState } from '../core/applied.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import type { Pair } from '../core/peermap.js';
import { pairsNeeded, VNI_MAX, VNI_MIN } from '../core/peermap.js';
import type { GuestNetworkDef, GuestOnHost, JailOnHost, Member, TunnelStatus, VpcWithMap } from '../core/types.js';
import type { Quota } from '../core/quota.js';
import { checkGuestNetwork } from '../core/ipam.js';
import { checkVpc, MAX_MEMBERS } from '../core/consistency.js';
import { checkUnderlayAddress } from '../core/addrules.js';
import type { EtcdJoinRequest, EtcdMembersRequest, Hello, Layer, NodeIntro, PemPair, Request } from './protocol.js';
import { pemCert, pemCrl, pemKey } from './pki.js';
import type { EtcdMember } from './etcd-member.js';
import { parseEndpoint } from '../store/etcd/client.js';
import type { LinkKind, ObservedLink } from '../core/observed.js';
import { PLATFORMS, type Platform } from '../platform/driver.js';
import { ENCRYPTIONS, wgKey, type Encryption, type SealIdentity } from '../core/seal.js';
import { FDB_MODES, type FdbMode } from '../core/fdb.js';
import { MAX_LINK_MTU, MIN_LINK_MTU, type LinkMtus } from '../core/mtu-claims.js';

type Json = Record<string, unknown>;

const obj = (x: unknown, what: string): Json => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new UserError(`bad request: ${what} is not an object`);
  return x as Json;
};
const str = (x: unknown, what: string): string => {
  if (typeof x !== 'string') throw new UserError(`bad request: ${what} is not a string`);
  return x;
};
const optStr = (x: unknown, what: string): string | null => (x === null || x === undefined ? null : str(x, what));
const int = (x: unknown, what: string, min: number, max: number): number => {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw new UserError(`bad request: ${what} out of range`);
  return x;
};
const arr = (x: unknown, what: string, max: number): unknown[] => {
  if (!Array.isArray(x)) throw new UserError(`bad request: ${what} is not a list`);
  if (x.length > max) throw new UserError(`bad request: ${x.length} ${what}, at most ${max} are allowed`);
  return x;
};

/** A link MTU a peer reports: a whole number a real link can have. */
const linkMtu = (x: unknown, what: string): number => int(x, what, MIN_LINK_MTU, MAX_LINK_MTU);

/** A request larger than this is refused before it is parsed: a full 256-member map is ~5 MB. */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const platform = (x: unknown): Platform => {
  const p = str(x, 'platform');
  if (!(PLATFORMS as readonly string[]).includes(p)) throw new UserError(`bad request: unknown platform ${v.shown(p)}`);
  return p as Platform;
};

const keyBase64 = (x: unknown, what: string): string => {
  const k = str(x, what);
  if (!/^[A-Za-z0-9+/]{20,2000}={0,2}$/.test(k)) throw new UserError(`bad request: ${what} is not a base64 SSH key`);
  return k;
};

function intro(x: unknown): NodeIntro {
  const o = obj(x, 'node');
  const ip4 = optStr(o.ip4, 'ip4');
  const ip6 = optStr(o.ip6, 'ip6');
  return {
    nodename: v.nodeName(str(o.nodename, 'nodename')),
    ip4: ip4 === null ? null : checkUnderlayAddress(v.ipv4(ip4), 'ip4'),
    ip6: ip6 === null ? null : checkUnderlayAddress(v.ipv6(ip6), 'ip6'),
    hostKey: keyBase64(o.hostKey, 'hostKey'),
    publicKey: `ssh-ed25519 ${keyBase64(/^ssh-ed25519 (\S+)/.exec(str(o.publicKey, 'publicKey'))?.[1], 'publicKey')}`,
    platform: platform(o.platform),
    sshPort: int(o.sshPort, 'sshPort', 1, 65535),
    sshUser: v.userName(str(o.sshUser, 'sshUser')),
    sshAddress: v.address(str(o.sshAddress, 'sshAddress')),
    ...sealIdentityFromWire(o),
  };
}

/** A host's WireGuard key and port as it states them (absent before meshvpc 0.4). */
export function sealIdentityFromWire(o: Json): { wgKey?: string; wgPort?: number } {
  if (o.wgKey === undefined || o.wgKey === null) return {};
  return { wgKey: wgKey(str(o.wgKey, 'wgKey'), 'wgKey'), wgPort: int(o.wgPort, 'wgPort', 1, 65535) };
}

/** The WireGuard identity in a peer's hello, or null when it has none (older meshvpc). */
export function helloSeal(x: unknown): SealIdentity | null {
  const id = sealIdentityFromWire(obj(x, 'hello'));
  return id.wgKey && id.wgPort ? { key: id.wgKey, port: id.wgPort } : null;
}

export function vpcFromWire(x: unknown): VpcWithMap {
  const o = obj(x, 'vpc');
  const net = v.network(str(o.peerNetwork, 'peerNetwork'), 'peer_network');
  const family = int(o.family, 'family', 4, 6);
  if (family !== 4 && family !== 6) throw new UserError('bad request: family must be 4 or 6');
  const members = arr(o.members, 'members', MAX_MEMBERS).map((m): Member => {
    const mo = obj(m, 'member');
    const member = { node: v.nodeName(str(mo.node, 'member')), underlay: v.address(str(mo.underlay, 'underlay')), ...sealIdentityFromWire(mo) };
    // Absent from 0.3.0 peers and for members that reported no link MTU.
    return mo.mtu === undefined || mo.mtu === null ? member : { ...member, mtu: linkMtu(mo.mtu, 'member mtu') };
  });
  const pairs = arr(o.pairs, 'pairs', pairsNeeded(MAX_MEMBERS)).map((p): Pair => {
    const po = obj(p, 'pair');
    return {
      a: v.nodeName(str(po.a, 'pair.a')),
      b: v.nodeName(str(po.b, 'pair.b')),
      vni: int(po.vni, 'vni', VNI_MIN, VNI_MAX),
      slot: int(po.slot, 'slot', 0, Number.MAX_SAFE_INTEGER),
      addrA: v.address(str(po.addrA, 'addrA')),
      addrB: v.address(str(po.addrB, 'addrB')),
      prefix: int(po.prefix, 'prefix', 0, 128),
      ...(po.sealSlot === undefined || po.sealSlot === null ? {} : { sealSlot: int(po.sealSlot, 'sealSlot', 0, Number.MAX_SAFE_INTEGER) }),
    };
  });
  let encrypt: Encryption | undefined;
  if (o.encrypt !== undefined) {
    const e = str(o.encrypt, 'encrypt');
    if (!(ENCRYPTIONS as readonly string[]).includes(e)) throw new UserError(`bad request: unknown encrypt ${v.shown(e)}`);
    encrypt = e as Encryption;
  }
  let fdb: FdbMode | undefined;
  if (o.fdb !== undefined) {
    const f = str(o.fdb, 'fdb');
    if (!(FDB_MODES as readonly string[]).includes(f)) throw new UserError(`bad request: unknown fdb ${v.shown(f)}`);
    fdb = f as FdbMode;
  }
  return checkVpc({
    name: v.vpcName(str(o.name, 'name')),
    peerNetwork: v.cidrText(net),
    family,
    mtu: o.mtu === null ? null : int(o.mtu, 'mtu', 1280, 9000),
    firewall: o.firewall !== false,
    members,
    pairs,
    // Absent from 0.2 peers: then the receiver keeps what it has (store/repo.ts putVpc).
    ...(o.quota === undefined ? {} : { quota: quotaFromWire(o.quota) }),
    ...(o.guestNetwork === undefined ? {} : { guestNetwork: guestNetworkFromWire(o.guestNetwork, net) }),
    // Absent from 0.3 peers: the receiver keeps what it has, and refuses to lose encryption (vpc-local.ts accept).
    ...(encrypt === undefined ? {} : { encrypt }),
    // Absent from 0.4 peers: the receiver keeps what it has.
    ...(fdb === undefined ? {} : { fdb }),
  });
}

/** A limit is a whole number or null (none): sizes in bytes up to 1 PiB, counts up to a million. */
function quotaFromWire(x: unknown): Quota {
  const o = obj(x, 'quota');
  const lim = (k: keyof Quota, max: number): number | null => (o[k] === null || o[k] === undefined ? null : int(o[k], k, 0, max));
  return { jail_max: lim('jail_max', 1e6), vm_max: lim('vm_max', 1e6), vcpu_max: lim('vcpu_max', 1e6), ram_max: lim('ram_max', 2 ** 50), disk_max: lim('disk_max', 2 ** 50) };
}

function guestNetworkFromWire(x: unknown, peerNetwork: v.Cidr): GuestNetworkDef | null {
  if (x === null) return null;
  const o = obj(x, 'guestNetwork');
  const net = v.network(str(o.network, 'guest_network'), 'guest_network');
  const gateway = optStr(o.gateway, 'guest_gateway');
  const gw = gateway === null ? null : net.family === 4 ? v.ipv4(gateway, 'guest_gateway') : v.ipv6(gateway, 'guest_gateway');
  checkGuestNetwork(net, gw, peerNetwork);
  return { network: v.cidrText(net), gateway: gw };
}

const LAYERS: readonly Layer[] = ['vxlan', 'bridge'];
const LINK_KINDS: readonly LinkKind[] = ['vxlan', 'bridge', 'veth', 'epair', 'other'];
/** A host with more interfaces that matter to one VPC than this is not one meshvpc plans for. */
const MAX_LINKS = 4096;

/** One link of a peer's hello, checked like everything else a peer says. */
function linkFromWire(x: unknown): ObservedLink {
  const o = obj(x, 'link');
  const name = str(o.name, 'link name');
  if (!/^[^\s/]{1,15}$/.test(name)) throw new UserError(`bad reply: interface name ${v.shown(name)}`);
  const kind = str(o.kind, 'link kind');
  if (!(LINK_KINDS as readonly string[]).includes(kind)) throw new UserError(`bad reply: interface kind ${v.shown(kind)}`);
  const alias = optStr(o.alias, 'alias');
  if (alias !== null && alias.length > 256) throw new UserError('bad reply: alias too long');
  const master = optStr(o.master, 'master');
  const vx = o.vxlan === null || o.vxlan === undefined ? null : obj(o.vxlan, 'vxlan');
  return {
    name,
    index: 0,
    kind: kind as LinkKind,
    mtu: int(o.mtu, 'mtu', 0, 65536),
    up: o.up === true,
    running: o.running === true,
    alias,
    master,
    isolated: o.isolated === true,
    vxlan: vx
      ? {
          vni: int(vx.vni, 'vni', 0, VNI_MAX),
          local: optStr(vx.local, 'local'),
          remote: optStr(vx.remote, 'remote'),
          port: int(vx.port, 'port', 0, 65535),
          learning: vx.learning === true,
          udp6zerocsumrx: vx.udp6zerocsumrx === true,
        }
      : null,
    addresses: arr(o.addresses, 'addresses', 1024).map((a) => v.cidrText(v.interfaceAddress(str(a, 'address'), 'address'))),
  };
}

/**
 * The parts of a peer's hello that the initiator acts on (the ids it cannot
 * give, the links in the way): a reply is validated like a request.
 */
export function helloFacts(x: Hello): Pick<Hello, 'usedVnis' | 'links' | 'linkMtu' | 'applied'> {
  const used = x.usedVnis === undefined ? undefined : arr(x.usedVnis, 'usedVnis', 1 << 20).map((u) => {
    const uo = obj(u, 'used id');
    return { vni: int(uo.vni, 'vni', 0, VNI_MAX), by: str(uo.by, 'by').slice(0, 200) };
  });
  const links = x.links === undefined ? undefined : arr(x.links, 'links', MAX_LINKS).map(linkFromWire);
  const mtus = x.linkMtu === undefined ? undefined : linkMtusFromWire(x.linkMtu);
  const applied = x.applied === undefined || x.applied === null ? undefined : appliedFromWire(x.applied);
  return { ...(used ? { usedVnis: used } : {}), ...(links ? { links } : {}), ...(mtus ? { linkMtu: mtus } : {}), ...(applied ? { applied } : {}) };
}

/**
 * A member's word on what it last applied (hello): a SHA-256 in hex and a
 * flag. Anything else reads as "unknown" (undefined), which only means the
 * member is applied again: a garbled claim never makes a host unreachable.
 */
export function appliedFromWire(x: unknown): AppliedState | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return undefined;
  const o = x as Record<string, unknown>;
  if (typeof o.digest !== 'string' || !/^[0-9a-f]{64}$/.test(o.digest) || typeof o.intact !== 'boolean') return undefined;
  return { digest: o.digest, intact: o.intact };
}

/** A peer's underlay link MTUs (hello), each family optional. */
export function linkMtusFromWire(x: unknown): LinkMtus {
  const o = obj(x, 'linkMtu');
  const one = (k: 'ip4' | 'ip6'): LinkMtus => (o[k] === undefined || o[k] === null ? {} : { [k]: linkMtu(o[k], `${k} link mtu`) });
  return { ...one('ip4'), ...one('ip6') };
}

export function requestFromWire(text: string): Request {
  if (text.length > MAX_REQUEST_BYTES) throw new UserError(`bad request: ${text.length} bytes, at most ${MAX_REQUEST_BYTES} are allowed`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError('bad request: not JSON');
  }
  const o = obj(raw, 'request');
  const op = str(o.op, 'op');
  switch (op) {
    case 'hello':
      return o.vpc === undefined ? { op } : { op, vpc: v.vpcName(str(o.vpc, 'vpc')) };
    case 'jail_list':
      return { op };
    case 'guest_list':
      return o.vpc === undefined ? { op } : { op, vpc: v.vpcName(str(o.vpc, 'vpc')) };
    case 'guest_hold':
      return { op, vpc: v.vpcName(str(o.vpc, 'vpc')), token: leaseToken(o.token), ttl_ms: int(o.ttl_ms, 'ttl_ms', 1000, 600_000), wait_ms: int(o.wait_ms, 'wait_ms', 0, 120_000) };
    case 'guest_release':
      return { op, vpc: v.vpcName(str(o.vpc, 'vpc')), token: leaseToken(o.token) };
    case 'guest_report': {
      // Each guest is the sender's own (remote.ts checks the node against the caller).
      const vpc = v.vpcName(str(o.vpc, 'vpc'));
      const node = v.nodeName(str(o.node, 'node'));
      return { op, vpc, node, guests: guestsFromWire({ guests: o.guests }, node, vpc).guests };
    }
    case 'pair':
      return { op, node: intro(o.node) };
    case 'unpair':
      return { op, node: v.nodeName(str(o.node, 'node')) };
    case 'vpc_put':
      return { op, vpc: vpcFromWire(o.vpc), force: o.force === true, ...(o.policy === true ? { policy: true } : {}) };
    case 'vpc_apply':
      return {
        op,
        vpc: v.vpcName(str(o.vpc, 'vpc')),
        layers: arr(o.layers, 'layers', LAYERS.length).map((l) => {
          if (!(LAYERS as readonly unknown[]).includes(l)) throw new UserError('bad request: unknown layer');
          return l as Layer;
        }),
        dryrun: o.dryrun === true,
        ...(o.definition === undefined ? {} : { definition: vpcFromWire(o.definition) }),
        ...(o.renumber === undefined ? {} : { renumber: arr(o.renumber, 'renumber', pairsNeeded(MAX_MEMBERS)).map((x) => int(x, 'renumber', VNI_MIN, VNI_MAX)) }),
        ...(o.policy === true ? { policy: true } : {}),
      };
    case 'node_moved':
      return {
        op,
        node: v.nodeName(str(o.node, 'node')),
        ...(o.ip === undefined ? {} : { ip: checkUnderlayAddress(v.ipv4(str(o.ip, 'ip'), 'ip'), 'ip') }),
        ...(o.ip6 === undefined ? {} : { ip6: checkUnderlayAddress(v.ipv6(str(o.ip6, 'ip6'), 'ip6'), 'ip6') }),
        ...(o.port === undefined ? {} : { port: int(o.port, 'port', 1, 65535) }),
      };
    case 'vpc_collapse':
    case 'vpc_forget':
    case 'vpc_status':
      return { op, vpc: v.vpcName(str(o.vpc, 'vpc')) };
    case 'etcd_join':
      return etcdJoinFromWire(o);
    case 'etcd_forget':
      return { op, ca: pemCert(str(o.ca, 'ca'), 'ca') };
    case 'etcd_crl':
      return { op, ca: pemCert(str(o.ca, 'ca'), 'ca'), crl: pemCrl(str(o.crl, 'crl'), 'crl') };
    case 'etcd_members':
      return etcdMembersFromWire(o);
    default:
      throw new UserError(`bad request: unknown op ${v.shown(op)}`);
  }
}

const pemPair = (x: unknown, what: string): PemPair => {
  const o = obj(x, what);
  return { cert: pemCert(str(o.cert, `${what} cert`), `${what} cert`), key: pemKey(str(o.key, `${what} key`), `${what} key`) };
};

/** A URL of an etcd member as a peer sends it: https://ADDR:PORT, an address (not a name), nothing else. */
function memberUrl(x: unknown, what: string): string {
  const u = parseEndpoint(str(x, what), what);
  const host = new URL(u).hostname.replace(/^\[|\]$/g, '');
  checkUnderlayAddress(v.address(host, what), what);
  return u;
}

/** The cluster's token and member list as a peer sends them: each member a node name with https URLs at addresses. */
function etcdConfigFromWire(x: unknown): EtcdJoinRequest['config'] {
  const c = obj(x, 'config');
  const token = str(c.clusterToken, 'clusterToken');
  if (!/^meshvpc-[0-9a-f]{12}$/.test(token)) throw new UserError('bad request: clusterToken is not a meshvpc cluster token');
  const seen = new Set<string>();
  const members = arr(c.members, 'etcd members', 7).map((m): EtcdMember => {
    const mo = obj(m, 'etcd member');
    const name = v.nodeName(str(mo.name, 'etcd member name'), 'etcd member name');
    if (seen.has(name)) throw new UserError(`bad request: etcd member ${name} named twice`);
    seen.add(name);
    const clientUrls = arr(mo.clientUrls, 'client URLs', 2).map((u) => memberUrl(u, 'client URL'));
    const peerUrls = arr(mo.peerUrls, 'peer URLs', 2).map((u) => memberUrl(u, 'peer URL'));
    if (clientUrls.length === 0 || peerUrls.length === 0) throw new UserError(`bad request: etcd member ${name} has no URL`);
    return { name, clientUrls, peerUrls };
  });
  if (members.length === 0) throw new UserError('bad request: no etcd members');
  return { clusterToken: token, members };
}

/** `etcd_join`: every PEM one block of base64. */
function etcdJoinFromWire(o: Json): EtcdJoinRequest {
  return {
    op: 'etcd_join',
    ca: pemCert(str(o.ca, 'ca'), 'ca'),
    client: pemPair(o.client, 'client'),
    ...(o.server === undefined ? {} : { server: pemPair(o.server, 'server') }),
    ...(o.peer === undefined ? {} : { peer: pemPair(o.peer, 'peer') }),
    config: etcdConfigFromWire(o.config),
    ...(o.crl === undefined ? {} : { crl: pemCrl(str(o.crl, 'crl'), 'crl') }),
  };
}

/** `etcd_members`: as etcd_join's, with no client pair (every host has its own already). */
function etcdMembersFromWire(o: Json): EtcdMembersRequest {
  return {
    op: 'etcd_members',
    ca: pemCert(str(o.ca, 'ca'), 'ca'),
    config: etcdConfigFromWire(o.config),
    ...(o.server === undefined ? {} : { server: pemPair(o.server, 'server') }),
    ...(o.peer === undefined ? {} : { peer: pemPair(o.peer, 'peer') }),
    ...(o.crl === undefined ? {} : { crl: pemCrl(str(o.crl, 'crl'), 'crl') }),
  };
}

function leaseToken(x: unknown): string {
  const t = str(x, 'token');
  if (!/^[0-9a-f]{32}$/.test(t)) throw new UserError('bad request: a lease token is 32 hex digits');
  return t;
}

const optInt = (x: unknown, what: string, max: number): number | null => (x === null || x === undefined ? null : int(x, what, 0, max));
const optNum = (x: unknown, what: string): number | null => {
  if (x === null || x === undefined) return null;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 3_600_000) throw new UserError(`bad reply: ${what} out of range`);
  return x;
};
const COUNTER_MAX = Number.MAX_SAFE_INTEGER;
/** An interface name a peer may report for meshvpc's own objects: printable, no space or slash, as ip(8) and ifconfig allow. */
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/**
 * A peer's tunnel status: it speaks for its own tunnels only (every row names
 * it), and every value is checked before it reaches a table, a page or JSON.
 */
export function tunnelStatusFromWire(x: unknown, peer: string, pairs: readonly Pick<Pair, 'a' | 'b' | 'vni'>[]): TunnelStatus[] {
  const mine = pairs.filter((p) => p.a === peer || p.b === peer);
  return arr(x, 'tunnels', mine.length).map((t): TunnelStatus => {
    const o = obj(t, 'tunnel');
    const node = v.nodeName(str(o.node, 'node'));
    if (node !== peer) throw new UserError(`bad reply: ${peer} reported a tunnel of ${v.shown(node)}`);
    const tunnel = str(o.tunnel, 'tunnel');
    if (!IFNAME.test(tunnel)) throw new UserError(`bad reply: tunnel name ${v.shown(tunnel)}`);
    const far = v.nodeName(str(o.peer, 'peer'));
    const vni = int(o.vni, 'vni', 0, VNI_MAX);
    // Only the VPC's own pairs: a peer speaks for its tunnels of this map and nothing else.
    if (!mine.some((p) => p.vni === vni && (p.a === far || p.b === far))) throw new UserError(`bad reply: ${peer} reported a tunnel to ${v.shown(far)} with VXLAN id ${vni}, which is not a pair of this VPC`);
    return {
      node,
      tunnel,
      peer: far,
      vni,
      present: o.present === true,
      up: o.up === true,
      mtu: optInt(o.mtu, 'mtu', 65536),
      isolated: o.isolated === true,
      rtt_ms: optNum(o.rtt_ms, 'rtt_ms'),
      // Absent from 0.3.0 and older peers.
      pmtu_ok: typeof o.pmtu_ok === 'boolean' ? o.pmtu_ok : null,
      ...(typeof o.sealed === 'string' ? { sealed: o.sealed.replace(/[^\x20-\x7e]/g, '?').slice(0, 300) } : {}),
      // Absent from 0.4 and older peers; one of three words.
      ...(o.fdb === 'control' || o.fdb === 'suppress' || o.fdb === 'learn' ? { fdb: o.fdb } : {}),
      rx_bytes: optInt(o.rx_bytes, 'rx_bytes', COUNTER_MAX),
      tx_bytes: optInt(o.tx_bytes, 'tx_bytes', COUNTER_MAX),
      rx_packets: optInt(o.rx_packets, 'rx_packets', COUNTER_MAX),
      tx_packets: optInt(o.tx_packets, 'tx_packets', COUNTER_MAX),
    };
  });
}

/** A peer's containers: its own only, each field checked as jcreate checks it. */
export function jailsFromWire(x: unknown, peer: string): JailOnHost[] {
  return arr(x, 'containers', 1 << 16).map((j): JailOnHost => {
    const o = obj(j, 'container');
    const node = o.node === undefined ? peer : v.nodeName(str(o.node, 'node'));
    if (node !== peer) throw new UserError(`bad reply: ${peer} reported a container of ${v.shown(node)}`);
    const addr = (a: unknown, what: string): string | null => {
      const s = optStr(a, what);
      return s === null ? null : v.cidrText(v.interfaceAddress(s, what));
    };
    const hostIf = str(o.hostIf, 'hostIf');
    if (!IFNAME.test(hostIf)) throw new UserError(`bad reply: interface name ${v.shown(hostIf)}`);
    return {
      name: v.jailName(str(o.name, 'jname')),
      interface: v.vpcName(str(o.interface, 'interface')),
      ip4Addr: addr(o.ip4Addr, 'ip4_addr'),
      ip6Addr: addr(o.ip6Addr, 'ip6_addr'),
      hostIf,
      vnet: o.vnet !== false,
      guestId: null,
      kind: 'jail',
      astart: o.astart === true,
      node,
      running: o.running === true,
    };
  });
}

/** A guest address as a peer reports it: an interface address, or none. */
const guestAddr = (a: unknown, what: string): string | null => {
  const s = optStr(a, what);
  return s === null ? null : v.cidrText(v.interfaceAddress(s, what));
};

/**
 * A peer's guests (`guest_list`): its own only, on the VPC asked about when
 * one was, each value checked, each name once. Sizes are bounded as bcreate
 * bounds them. With its bridge addresses on that VPC (never handed to a guest).
 */
export function guestsFromWire(x: unknown, peer: string, vpc?: string): { guests: GuestOnHost[]; bridgeIps: string[] } {
  const o = obj(x, 'guest list');
  const seen = new Set<string>();
  const guests = arr(o.guests, 'guests', 1 << 16).map((g): GuestOnHost => {
    const go = obj(g, 'guest');
    const node = v.nodeName(str(go.node, 'node'));
    if (node !== peer) throw new UserError(`bad reply: ${peer} reported a guest of ${v.shown(node)}`);
    const iface = v.vpcName(str(go.interface, 'interface'));
    if (vpc !== undefined && iface !== vpc) throw new UserError(`bad reply: ${peer} reported a guest of ${v.shown(iface)} when asked about ${vpc}`);
    const kind = str(go.kind, 'kind');
    if (kind !== 'jail' && kind !== 'vm') throw new UserError(`bad reply: guest kind ${v.shown(kind)}`);
    const name = v.jailName(str(go.name, 'jname'));
    if (seen.has(`${iface}/${name}`)) throw new UserError(`bad reply: ${peer} reported guest ${name} twice`);
    seen.add(`${iface}/${name}`);
    return {
      name,
      node,
      kind,
      interface: iface,
      ip4Addr: guestAddr(go.ip4Addr, 'ip4_addr'),
      ip6Addr: guestAddr(go.ip6Addr, 'ip6_addr'),
      running: go.running === true,
      vcpus: int(go.vcpus, 'vcpus', 0, 1024),
      ramBytes: int(go.ramBytes, 'ramBytes', 0, 2 ** 50),
      diskBytes: int(go.diskBytes, 'diskBytes', 0, 2 ** 50),
    };
  });
  const bridgeIps = arr(o.bridgeIps ?? [], 'bridgeIps', 64).map((a) => v.address(str(a, 'bridge address'), 'bridge address'));
  return { guests, bridgeIps };
}

/** Who a peer's hello says it is, checked: the name it was reached as, a known platform, a version string. */
export function helloIdentity(x: unknown, expected: string): { version: string; platform: Platform } {
  const o = obj(x, 'hello');
  const name = v.nodeName(str(o.nodename, 'nodename'));
  if (name !== expected) throw new UserError(`bad reply: ${expected} answered as ${v.shown(name)}`);
  const version = str(o.version, 'version');
  if (!/^\d{1,4}\.\d{1,4}\.\d{1,4}[A-Za-z0-9.+-]{0,24}$/.test(version)) throw new UserError(`bad reply: version ${v.shown(version)}`);
  return { version, platform: platform(o.platform) };
}

/** The addresses a peer's hello says it has (a host speaks for its own), checked as a pair's are. */
export function helloAddresses(x: unknown): { ip4: string | null; ip6: string | null } {
  const o = obj(x, 'hello');
  const ip4 = optStr(o.ip4, 'ip4');
  const ip6 = optStr(o.ip6, 'ip6');
  return {
    ip4: ip4 === null ? null : checkUnderlayAddress(v.ipv4(ip4, 'ip4'), 'ip4'),
    ip6: ip6 === null ? null : checkUnderlayAddress(v.ipv6(ip6, 'ip6'), 'ip6'),
  };
}
