/**
 * WireGuard identities in the cluster's store (backend=etcd, encrypt=wireguard).
 * A host's public key and port are its own word: each host writes them under
 * `seal/NODE`, signed, and a reader believes them only when NODE signed
 * them. A definition's writer copies them in, but no reader takes a key from
 * the writer: every agent puts each member's own word in locally before it
 * applies, so a changed key (a rotation) reaches the others without any
 * member writing the VPC again, and a forged one reaches nobody.
 */
import { UserError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import type { SealIdentity } from '../core/seal.js';
import type { VpcWithMap } from '../core/types.js';
import { sealIdentityFromWire } from '../cluster/wire.js';
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';
import { ownBody, parseKey, SEAL_PREFIX, sealKey, STATUS_PREFIX, statusFromStore } from '../store/etcd/layout.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { selfSeal } from './seal.js';
import { believedIn, sayOwn } from './store-own.js';

/** One host's identity as a value under its key (the shape `hello` says it in). */
const sealBody = (s: SealIdentity): string => JSON.stringify({ wgKey: s.key, wgPort: s.port });

/**
 * A seal value, believed only when the node its key names signed it; null for
 * anything else. `prev` is the revision the value replaced (signed with it):
 * a reader refuses a value that replaced one older than the one it believes,
 * an old key written back.
 */
export function sealIn(client: EtcdClient, kv: { readonly key: string; readonly value: string }): { node: string; seal: SealIdentity; prev: number } | null {
  const k = parseKey(kv.key);
  if (k?.kind !== 'seal') return null;
  try {
    const opened = client.open(kv.key, kv.value);
    if (opened.by !== k.node) return null;
    const id = sealIdentityFromWire(JSON.parse(opened.body) as Record<string, unknown>);
    return id.wgKey && id.wgPort ? { node: k.node, seal: { key: id.wgKey, port: id.wgPort }, prev: opened.prev } : null;
  } catch {
    return null;
  }
}

/** Every believed seal in a range of the store, by node. */
export function sealsIn(client: EtcdClient, kvs: readonly KeyValue[]): Map<string, SealIdentity> {
  return believedIn(kvs, (kv) => {
    const s = sealIn(client, kv);
    return s ? { node: s.node, value: s.seal } : null;
  });
}

/**
 * Write this host's own identity under its key when the store does not hold
 * exactly it, signed (a key made here, rotated, or a value another writer
 * put there). Returns the public key when it wrote, else null. A host with no
 * WireGuard driver has nothing to say.
 */
export async function publishSeal(host: Host, client: EtcdClient): Promise<string | null> {
  if (!host.driver.seal) return null;
  const own = selfSeal(host);
  return (await sayOwn(client, sealKey(host.self.nodename), host.self.nodename, sealBody(own))) ? own.key : null;
}

/**
 * A definition as this host applies it: each member's WireGuard key and port
 * from that member's own word in the store (else from its last hello to this
 * host; null when it has said none: its tunnel waits for it), this host's
 * from itself. Nodes this host keeps a record of have it brought in line
 * (the link uses the record first). Refused when one key stands for two
 * hosts: the link would give one's addresses to the other.
 */
export function withStoreSeals(host: Host, vpc: VpcWithMap, seals: ReadonlyMap<string, SealIdentity>): VpcWithMap {
  if (vpc.encrypt !== 'wireguard') return vpc;
  const self = host.self.nodename;
  const own = selfSeal(host);
  // The host's one WireGuard link serves every encrypted VPC: a key this host knows for another
  // node (its record, or a member of another encrypted VPC here) is that node's, whatever this
  // definition's members say.
  const owner = new Map<string, string>([[own.key, self]]);
  for (const n of repo.listNodes(host.db)) if (n.wgKey && !owner.has(n.wgKey)) owner.set(n.wgKey, n.name);
  for (const other of repo.listVpcs(host.db)) {
    if (other.name === vpc.name || other.encrypt !== 'wireguard') continue;
    for (const m of other.members) if (m.wgKey && !owner.has(m.wgKey)) owner.set(m.wgKey, m.node);
  }
  const members = vpc.members.map((m) => {
    if (m.node === self) return { ...m, wgKey: own.key, wgPort: own.port };
    // Not said in the store yet (its agent has not run since the VPC moved in from SSH push):
    // what the node said itself in its last hello here, if anything.
    const record = repo.getNode(host.db, m.node);
    const s = seals.get(m.node) ?? (record?.wgKey && record.wgPort ? { key: record.wgKey, port: record.wgPort } : undefined);
    if (!s) return { ...m, wgKey: null, wgPort: null };
    const other = owner.get(s.key);
    if (other !== undefined && other !== m.node) throw new UserError(`${vpc.name}: ${m.node} says its WireGuard key is ${s.key}, which is ${other}'s; the VPC is left as it is here until one of them says another`, 'conflict');
    owner.set(s.key, m.node);
    return { ...m, wgKey: s.key, wgPort: s.port };
  });
  for (const m of members) {
    const known = m.node === self ? null : repo.getNode(host.db, m.node);
    if (known && m.wgKey && m.wgPort && (known.wgKey !== m.wgKey || known.wgPort !== m.wgPort)) repo.putNodeSeal(host.db, m.node, m.wgKey, m.wgPort);
  }
  return { ...vpc, members };
}

/**
 * A definition as its writer puts it in the store: each member's key and port
 * copied from that member's own signed word (a definition must name them
 * all to hang together), never from anything the writer holds. Refused,
 * naming them, when a member has said none: its agent has not run.
 */
export async function withMemberSeals(client: EtcdClient, vpc: VpcWithMap): Promise<VpcWithMap> {
  if (vpc.encrypt !== 'wireguard') return vpc;
  const seals = sealsIn(client, (await client.range(SEAL_PREFIX, { prefix: true })).kvs);
  const silent = vpc.members.filter((m) => !seals.has(m.node)).map((m) => m.node);
  if (silent.length > 0) {
    // An agent of an older meshvpc (it writes no key) is named with both versions.
    const versions = await agentVersions(client);
    const named = silent.map((n) => {
      const version = versions.get(n);
      return version && version !== VERSION ? `${n} (its agent runs meshvpc ${version}, this host ${VERSION}: upgrade it)` : n;
    });
    throw new UserError(
      `${vpc.name} is encrypted, and ${named.join(', ')} ${silent.length === 1 ? 'has' : 'have'} no WireGuard key in the cluster's store: start meshvpc agent there (meshvpc ${VERSION} writes it at start), then try again`,
      'unreachable',
    );
  }
  return { ...vpc, members: vpc.members.map((m) => {
    const s = seals.get(m.node) as SealIdentity;
    return { ...m, wgKey: s.key, wgPort: s.port };
  }) };
}

/** The meshvpc version each host's agent last reported (from its own status values). */
async function agentVersions(client: EtcdClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kv of (await client.range(STATUS_PREFIX, { prefix: true })).kvs) {
    const k = parseKey(kv.key);
    if (k?.kind !== 'status') continue;
    try {
      out.set(k.node, statusFromStore(ownBody(client, kv, k.node), k).version);
    } catch {
      // Not its own word: says nothing of its version.
    }
  }
  return out;
}

/** A member's word that it applied a VPC again after a host's key changed in the store. */
export interface SealTaken {
  readonly host: string;
  readonly vpc: string;
  readonly ok: boolean;
  readonly error: string | null;
}

/**
 * Follow the members of `vpcs` (other than `self`) until each has written its
 * status of the VPC after `revision` (the new key's): an agent applies every
 * encrypted VPC with that host again when its key changes. Each one's own
 * signed word, or a time-out for those that did not answer.
 */
export async function followSeal(client: EtcdClient, vpcs: readonly VpcWithMap[], self: string, revision: number, timeoutMs: number): Promise<SealTaken[]> {
  const wanted = vpcs.flatMap((v) => v.members.filter((m) => m.node !== self).map((m) => ({ host: m.node, vpc: v.name })));
  const done = new Map<string, SealTaken>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < wanted.length && Date.now() < deadline) {
    const kvs = await client.range(STATUS_PREFIX, { prefix: true }).then((r) => r.kvs, () => []);
    for (const kv of kvs) {
      const k = parseKey(kv.key);
      if (k?.kind !== 'status' || kv.modRevision <= revision || !wanted.some((w) => w.host === k.node && w.vpc === k.vpc)) continue;
      try {
        const s = statusFromStore(ownBody(client, kv, k.node), k);
        done.set(`${k.node}/${k.vpc}`, { host: k.node, vpc: k.vpc, ok: s.ok, error: s.error });
      } catch {
        // Not its own word: it says nothing.
      }
    }
    if (done.size < wanted.length) await new Promise((res) => setTimeout(res, 250));
  }
  return wanted.map((w) => done.get(`${w.host}/${w.vpc}`) ?? { ...w, ok: false, error: `its agent did not apply ${w.vpc} again within ${Math.round(timeoutMs / 1000)}s (is meshvpc agent running there?); it takes the new key when it runs` });
}
