/**
 * Shared by the seal-*.test.ts and freebsd-seal.test.ts files: encrypted
 * VPCs (encrypt=wireguard), their members' WireGuard keys, and a stand-in for
 * the WireGuard link that carries out planSeal's ops as the kernel would.
 */
import { allocatePeerMap } from '../../src/core/peermap.js';
import type { ObservedLink, Observed } from '../../src/core/observed.js';
import type { Op } from '../../src/core/ops.js';
import { WG_IFNAME, type ObservedSeal, type ObservedSealPeer, type SealIdentity } from '../../src/core/seal.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { network } from '../../src/core/validate.js';

/** Public keys as `wg pubkey` printed them (their private halves are not kept anywhere). */
export const WG_KEYS: Readonly<Record<string, string>> = {
  node1: 'ZNLW27tWrYElO4818OAIJEmIdGig+PlguAGCCsb8Uls=',
  node2: 'Jwi3u5WBLZg9J09FfobnYMPfoYoPVJmmOSvidySuBh8=',
  node3: 'oDHd/Oyk5ldIAk+Xwg8A1Ia2UmRLf/7xBdheuuZRmBE=',
  node4: 'koiQhESvU1wc9CZbuqPDxpqcMzC0l6MJkyDZ91Upf2s=',
};
/** node2's key after a rotation. */
export const NODE2_ROTATED = 'os1/MJ29aIEoAka0TdQ/QBy6ZoqZ3aqljAJMPjep1Aw=';
/** node1's key after a rotation. */
export const NODE1_ROTATED = 'dWA/Glo9IviJuh35+Loz0PeiJwYBuvAJwzZt3dLgNC0=';

export const WG_PORT = 51820;
export const KEY_FILE = '/var/lib/meshvpc/wireguard/private.key';

export const UNDERLAY4: Readonly<Record<string, string>> = { node1: '192.0.2.1', node2: '192.0.2.2', node3: '192.0.2.3', node4: '192.0.2.4' };
export const UNDERLAY6: Readonly<Record<string, string>> = { node1: '2001:db8::1', node2: '2001:db8::2', node3: '2001:db8::3', node4: '2001:db8::4' };

export interface SealedVpcOptions {
  /** Default: 198.51.100.0/26 (IPv4). */
  readonly peerNetwork?: string;
  /** VNIs other VPCs hold (extended with this one's, as allocation does cluster-wide). */
  readonly taken?: Set<number>;
  /** false: a cleartext VPC built the same way. */
  readonly encrypt?: boolean;
  readonly firewall?: boolean;
  /** A member's WireGuard port, by node (default WG_PORT). */
  readonly ports?: Readonly<Record<string, number>>;
  /** A member's key, by node (default WG_KEYS). */
  readonly keys?: Readonly<Record<string, string>>;
}

/**
 * An encrypted VPC over the given underlay family: every pair has its seal
 * block, every member its key and port. With the default network, the pairs
 * of node1..node3 are node1-node2 (block 0, seal block 1: .5/.6),
 * node1-node3 (2, seal 3: .13/.14) and node2-node3 (4, seal 5: .21/.22).
 */
export function sealedVpc(name: string, members: readonly string[], family: 4 | 6, options: SealedVpcOptions = {}): VpcWithMap {
  const encrypt = options.encrypt ?? true;
  const peerNetwork = options.peerNetwork ?? '198.51.100.0/26';
  const taken = options.taken ?? new Set<number>();
  const pairs = allocatePeerMap({ members, network: network(peerNetwork, 'peer_network'), existing: [], takenVnis: taken, sealed: encrypt });
  for (const p of pairs) taken.add(p.vni);
  const underlay = family === 4 ? UNDERLAY4 : UNDERLAY6;
  const keys = options.keys ?? WG_KEYS;
  return {
    name,
    peerNetwork,
    family,
    mtu: null,
    firewall: options.firewall ?? true,
    members: members.map((node) => ({
      node,
      underlay: underlay[node] ?? '',
      ...(encrypt ? { wgKey: keys[node] ?? '', wgPort: options.ports?.[node] ?? WG_PORT } : {}),
    })),
    pairs,
    encrypt: encrypt ? 'wireguard' : 'none',
  };
}

/** What each member of the VPCs said of itself, as reconcileSeal gathers it. */
export function identities(vpcs: readonly VpcWithMap[], self: string): Map<string, SealIdentity> {
  const peers = new Map<string, SealIdentity>();
  for (const v of vpcs) for (const m of v.members) if (m.node !== self && m.wgKey && m.wgPort && !peers.has(m.node)) peers.set(m.node, { key: m.wgKey, port: m.wgPort });
  return peers;
}

/** A link as the drivers report it. */
export function link(over: Partial<ObservedLink> & Pick<ObservedLink, 'name'>): ObservedLink {
  return { index: 9, kind: 'other', mtu: 1420, up: true, running: true, alias: null, master: null, isolated: false, vxlan: null, addresses: [], ...over };
}

/** The host as the drivers would read it back: its links, and `wg show meshvpc-wg dump` (null: no link). */
export interface WgHost {
  readonly observed: Observed;
  readonly seal: ObservedSeal | null;
}

export const EMPTY_HOST: WgHost = { observed: new Map(), seal: null };

/**
 * Carry out WireGuard-link ops the way the kernel and `wg` do: a new link
 * has no key and no port; `wg set ... private-key` sets the key whose public
 * half is `publicKeyOf(file)`; an allowed IP given to one peer is taken from
 * any other; a replaced peer is gone before the new one is added.
 */
export function applyToHost(host: WgHost, ops: readonly Op[], publicKeyOf: (keyFile: string) => string): WgHost {
  const links = new Map(host.observed);
  let seal: { publicKey: string | null; port: number; peers: ObservedSealPeer[] } | null = host.seal ? { ...host.seal, peers: [...host.seal.peers] } : null;
  const wg = (): NonNullable<typeof seal> => {
    if (!seal) throw new Error('a wg op on a host without a WireGuard link');
    return seal;
  };
  const setLink = (name: string, change: Partial<ObservedLink>): void => {
    const l = links.get(name);
    if (!l) throw new Error(`no link ${name}`);
    links.set(name, { ...l, ...change });
  };
  for (const op of ops) {
    switch (op.op) {
      case 'create_wireguard':
        if (links.has(op.name)) throw new Error(`${op.name} exists`);
        links.set(op.name, link({ name: op.name, mtu: op.mtu, alias: op.alias, up: false, running: false }));
        seal = { publicKey: null, port: 0, peers: [] };
        break;
      case 'delete_link':
        links.delete(op.name);
        if (op.name === WG_IFNAME) seal = null;
        break;
      case 'set_mtu':
        setLink(op.name, { mtu: op.mtu });
        break;
      case 'set_up':
        setLink(op.name, { up: true, running: true });
        break;
      case 'add_addr':
        setLink(op.name, { addresses: [...(links.get(op.name)?.addresses ?? []), op.cidr] });
        break;
      case 'del_addr':
        setLink(op.name, { addresses: (links.get(op.name)?.addresses ?? []).filter((a) => a !== op.cidr) });
        break;
      case 'set_wireguard':
        wg().port = op.port;
        wg().publicKey = publicKeyOf(op.keyFile);
        break;
      case 'wireguard_peer': {
        const s = wg();
        const others = s.peers.filter((p) => p.key !== op.key && p.key !== op.replaces).map((p) => ({ ...p, allowedIps: p.allowedIps.filter((a) => !op.allowedIps.includes(a)) }));
        const old = s.peers.find((p) => p.key === op.key);
        s.peers = [...others, { key: op.key, endpoint: op.endpoint, allowedIps: [...op.allowedIps], handshake: old?.handshake ?? 0, rxBytes: old?.rxBytes ?? 0, txBytes: old?.txBytes ?? 0 }];
        break;
      }
      case 'wireguard_peer_remove':
        wg().peers = wg().peers.filter((p) => p.key !== op.key);
        break;
      default:
        throw new Error(`not a WireGuard-link op: ${op.op}`);
    }
  }
  return { observed: links, seal };
}
