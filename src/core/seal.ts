/**
 * The sealed data plane (encrypt=wireguard): one WireGuard link per host,
 * shared by every encrypted VPC it is in, with one WireGuard peer per host it
 * has an encrypted tunnel to. Each pair of an encrypted VPC owns a second
 * block of the peer network (its seal block, see peermap.ts): the two ends'
 * addresses sit on the WireGuard link, and the pair's VXLAN tunnel runs
 * between them, so its packets can only leave inside WireGuard. Nothing here
 * is taken from a peer's word but its own key and port; addresses and names
 * are derived here.
 */
import { UserError } from './errors.js';
import { blockFor, type Pair } from './peermap.js';
import type { Observed, ObservedLink } from './observed.js';
import type { Op } from './ops.js';
import type { VpcWithMap } from './types.js';
import { network, shown } from './validate.js';

export type Encryption = 'none' | 'wireguard';
export const ENCRYPTIONS: readonly Encryption[] = ['none', 'wireguard'];

/** The host's WireGuard link: not a possible VPC name (those have no "-"), 10 characters. */
export const WG_IFNAME = 'meshvpc-wg';
/** meshvpc's mark on it (alias on Linux, description on FreeBSD). */
export const WG_ALIAS = 'meshvpc-wireguard';
export const DEFAULT_WG_PORT = 51820;
/**
 * WireGuard's cost per packet: outer IP (20 / 40) + UDP 8 + WireGuard data
 * header 16 + Poly1305 tag 16. The VXLAN tunnel runs inside what is left.
 */
export const WG_OVERHEAD = { 4: 60, 6: 80 } as const;

/** A WireGuard public (or private) key: base64 of 32 bytes, as `wg` prints it. */
export function wgKey(value: string, key = 'wireguard key'): string {
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(value)) {
    throw new UserError(`invalid ${key} ${shown(value)}: a WireGuard key is 44 characters of base64 (32 bytes), as wg pubkey prints it`);
  }
  return value;
}

/** This host's WireGuard identity as its peers learn it (hello, node records, member records). */
export interface SealIdentity {
  readonly key: string;
  readonly port: number;
}

/** The two ends of a pair's seal block. */
export function sealBlock(vpc: Pick<VpcWithMap, 'peerNetwork'>, pair: Pair): { readonly addrA: string; readonly addrB: string; readonly prefix: number } | null {
  if (pair.sealSlot === undefined || pair.sealSlot === null) return null;
  return blockFor(network(vpc.peerNetwork, 'peer_network'), pair.sealSlot);
}

/** One sealed tunnel of this host: the VXLAN endpoints inside WireGuard. */
export interface SealedEnd {
  readonly vpc: string;
  readonly peer: string;
  readonly vni: number;
  readonly local: string;
  readonly remote: string;
  readonly prefix: number;
}

/** The sealed tunnels a host terminates across its active encrypted VPCs. */
export function sealedEnds(self: string, vpcs: readonly VpcWithMap[]): SealedEnd[] {
  return vpcs.flatMap((v) => {
    if (v.encrypt !== 'wireguard' || !v.members.some((m) => m.node === self)) return [];
    const members = new Set(v.members.map((m) => m.node));
    return v.pairs.flatMap((p) => {
      if ((p.a !== self && p.b !== self) || !members.has(p.a) || !members.has(p.b)) return [];
      // A pair without its seal block (a definition stored half way) gets no sealed end: its tunnel
      // fails alone (spec.ts refuses it), the host's other VPCs go on.
      const block = sealBlock(v, p);
      if (!block) return [];
      const mine = p.a === self;
      return [{ vpc: v.name, peer: mine ? p.b : p.a, vni: p.vni, local: mine ? block.addrA : block.addrB, remote: mine ? block.addrB : block.addrA, prefix: block.prefix }];
    });
  });
}

export interface SealPeer {
  readonly node: string;
  readonly key: string;
  /** The peer's underlay address and WireGuard port. */
  readonly endpoint: string;
  readonly port: number;
  /** Its seal addresses, one per sealed pair with this host (/32 or /128): WireGuard sends them to it and accepts them only from it. */
  readonly allowedIps: readonly string[];
}

export interface SealSpec {
  readonly name: string;
  readonly alias: string;
  readonly port: number;
  readonly mtu: number;
  /** This host's seal ends with their block's prefix: the kernel routes each peer's end into the link. */
  readonly addresses: readonly string[];
  readonly peers: readonly SealPeer[];
  /** This host's public key: a link answering with another one is given the private key again. */
  readonly publicKey: string;
}

export interface SealInput {
  readonly self: string;
  /** The host's active VPCs (vxlan layer on); only encrypted ones count. */
  readonly vpcs: readonly VpcWithMap[];
  readonly identity: SealIdentity;
  /** Each peer's key and port, by node: what it said itself (its node record), or for a node this host never met what its encrypted VPCs here agree on. */
  readonly peers: ReadonlyMap<string, SealIdentity>;
  /** MTU of the underlay path to each peer address. */
  readonly underlayMtu: ReadonlyMap<string, number>;
}

const DEFAULT_UNDERLAY_MTU = 1500;
const hostRoute = (a: string): string => `${a}/${a.includes(':') ? 128 : 32}`;

/** The WireGuard link this host needs, or null when none of its active VPCs is encrypted. */
export function sealSpec(input: SealInput): SealSpec | null {
  const ends = sealedEnds(input.self, input.vpcs);
  if (ends.length === 0) return null;
  const byPeer = new Map<string, { endpoint: string; remotes: string[] }>();
  // The endpoint is the peer's underlay in the first encrypted VPC by name (a WireGuard peer has one).
  for (const v of [...input.vpcs].sort((x, y) => (x.name < y.name ? -1 : 1))) {
    for (const e of ends.filter((x) => x.vpc === v.name)) {
      const m = v.members.find((x) => x.node === e.peer);
      if (!m) continue;
      const entry = byPeer.get(e.peer) ?? { endpoint: m.underlay, remotes: [] };
      entry.remotes.push(e.remote);
      byPeer.set(e.peer, entry);
    }
  }
  // A peer whose key is not known here gets no entry: its tunnels carry nothing (fail closed) until
  // a deploy brings its key; the host's other peers go on.
  const peers = [...byPeer].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([node, e]): SealPeer[] => {
    const id = input.peers.get(node);
    return id ? [{ node, key: id.key, endpoint: e.endpoint, port: id.port, allowedIps: e.remotes.map(hostRoute).sort() }] : [];
  });
  const mtus = [...byPeer.values()].map((p) => (input.underlayMtu.get(p.endpoint) ?? DEFAULT_UNDERLAY_MTU) - WG_OVERHEAD[p.endpoint.includes(':') ? 6 : 4]);
  return {
    name: WG_IFNAME,
    alias: WG_ALIAS,
    port: input.identity.port,
    mtu: Math.min(...mtus),
    addresses: [...new Set(ends.map((e) => `${e.local}/${e.prefix}`))].sort(),
    peers,
    publicKey: input.identity.key,
  };
}

/** What the WireGuard link reports (`wg show NAME dump`). */
export interface ObservedSeal {
  readonly publicKey: string | null;
  readonly port: number;
  readonly peers: readonly ObservedSealPeer[];
}

export interface ObservedSealPeer {
  readonly key: string;
  /** "address:port" or "[v6]:port"; null before the first handshake of a peer without one. */
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** Unix seconds of the last handshake, 0 for none. */
  readonly handshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export const endpointText = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

const isLinkLocal = (cidr: string): boolean => /^fe[89ab][0-9a-f]:/i.test(cidr);

/**
 * The ops that bring the WireGuard link to `spec` (null: remove it). The link
 * is meshvpc's only with its mark; a link of that name without it is refused.
 * A peer whose key changed (a rotation) is replaced in one `wg set`, so its
 * addresses move to the new key at once.
 *
 * `creating`: an earlier run of this host recorded that it was making the
 * link and never said it was done (it died between creating the link and
 * marking it). An unmarked link of that name that is neither a bridge, a
 * VXLAN tunnel nor a veth is then that run's link: it is marked and
 * configured, not refused forever.
 */
export function planSeal(spec: SealSpec | null, observed: Observed, seal: ObservedSeal | null, keyFile: string, creating = false): Op[] {
  const found = observed.get(WG_IFNAME);
  const orphan = creating && found !== undefined && found.alias !== WG_ALIAS && found.kind === 'other';
  const adopted = orphan ? { ...found, alias: WG_ALIAS } : found;
  const mark: Op[] = orphan ? [{ op: 'set_alias', name: WG_IFNAME, alias: WG_ALIAS }] : [];
  // No encrypted VPC here: only meshvpc's own link is removed; another one of that name is none of its business.
  if (!spec) return adopted?.alias === WG_ALIAS ? [...mark, { op: 'delete_link', name: WG_IFNAME }] : [];
  const link = checkSealName(orphan && adopted ? new Map([[WG_IFNAME, adopted]]) : observed);
  return [...mark, ...planSealOps(spec, link, seal, keyFile)];
}

/** The WireGuard link if it is meshvpc's; a link of its name without meshvpc's mark is refused. */
export function checkSealName(observed: Observed): ObservedLink | undefined {
  const link = observed.get(WG_IFNAME);
  if (link && link.alias !== WG_ALIAS) {
    throw new UserError(
      `interface ${WG_IFNAME} already exists on this host and is not meshvpc's (${link.kind}${link.alias ? `, alias ${JSON.stringify(link.alias)}` : ', no meshvpc alias'}): meshvpc will not take it over; rename or remove it before using encrypt=wireguard`,
      'conflict',
    );
  }
  return link;
}

/** The ops that bring the WireGuard link (meshvpc's, or none yet) to `spec`. */
function planSealOps(spec: SealSpec, link: ObservedLink | undefined, seal: ObservedSeal | null, keyFile: string): Op[] {
  const ops: Op[] = [];
  if (!link) ops.push({ op: 'create_wireguard', name: spec.name, mtu: spec.mtu, alias: spec.alias });
  else if (link.mtu !== spec.mtu) ops.push({ op: 'set_mtu', name: spec.name, mtu: spec.mtu });
  if (!link || !seal || seal.port !== spec.port || seal.publicKey !== spec.publicKey) {
    ops.push({ op: 'set_wireguard', name: spec.name, port: spec.port, keyFile });
  }
  const have = seal?.peers ?? [];
  const wanted = new Set(spec.peers.map((p) => p.key));
  const replaced = new Set<string>();
  for (const p of spec.peers) {
    const o = have.find((x) => x.key === p.key);
    const endpoint = endpointText(p.endpoint, p.port);
    if (o && o.endpoint === endpoint && [...o.allowedIps].sort().join() === p.allowedIps.join()) continue;
    // A peer of the link that holds this peer's addresses under another key: the key was rotated.
    const old = o ? undefined : have.find((x) => !wanted.has(x.key) && !replaced.has(x.key) && x.allowedIps.some((a) => p.allowedIps.includes(a)));
    if (old) replaced.add(old.key);
    ops.push({ op: 'wireguard_peer', name: spec.name, key: p.key, endpoint, allowedIps: p.allowedIps, ...(old ? { replaces: old.key } : {}) });
  }
  for (const o of have) if (!wanted.has(o.key) && !replaced.has(o.key)) ops.push({ op: 'wireguard_peer_remove', name: spec.name, key: o.key });
  const current = (link?.addresses ?? []).filter((a) => !isLinkLocal(a));
  for (const a of current) if (!spec.addresses.includes(a)) ops.push({ op: 'del_addr', name: spec.name, cidr: a });
  for (const a of spec.addresses) if (!current.includes(a)) ops.push({ op: 'add_addr', name: spec.name, cidr: a });
  if (!link?.up) ops.push({ op: 'set_up', name: spec.name });
  return ops;
}
