/**
 * The cluster's hosts in its store (backend=etcd): each host's agent writes
 * its own underlay addresses, platform and meshvpc version under
 * `node/NODE`, signed, and a reader believes them only from NODE itself.
 * They say which hosts the cluster has and which version each agent runs
 * (`cluster mode=show`), and they bound what a definition may say of a
 * member this host has no record of: its tunnel endpoint must be one of the
 * addresses that member gave itself.
 */
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import type { VpcDef } from '../core/types.js';
import { VERSION, versionText } from '../core/version.js';
import type { EtcdClient, KeyValue } from '../store/etcd/client.js';
import { nodeKey, parseKey } from '../store/etcd/layout.js';
import * as repo from '../store/repo.js';
import { PLATFORMS, type Platform } from '../platform/driver.js';
import type { Host } from './host.js';
import { believedIn, sayOwn } from './store-own.js';

/** What a host says of itself in the store. */
export interface NodeSaid {
  readonly node: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  readonly platform: Platform;
  /** The meshvpc version of the agent that wrote it. */
  readonly version: string;
}

const bodyOf = (n: NodeSaid): string => JSON.stringify({ ip4: n.ip4, ip6: n.ip6, platform: n.platform, version: n.version });

/** A node value, believed only when the node its key names signed it (and checked as from the wire); null otherwise. `prev`: the revision it replaced. */
export function nodeIn(client: EtcdClient, kv: { readonly key: string; readonly value: string }): { said: NodeSaid; prev: number } | null {
  const k = parseKey(kv.key);
  if (k?.kind !== 'node') return null;
  try {
    const opened = client.open(kv.key, kv.value);
    if (opened.by !== k.node) return null;
    const o = JSON.parse(opened.body) as Record<string, unknown>;
    const addr = (x: unknown, what: string): string | null => (x === null ? null : v.address(String(x), what));
    const ip4 = addr(o.ip4, 'ip4');
    const ip6 = addr(o.ip6, 'ip6');
    if ((ip4 !== null && ip4.includes(':')) || (ip6 !== null && !ip6.includes(':'))) return null;
    if (!(PLATFORMS as readonly unknown[]).includes(o.platform)) return null;
    const version = versionText(o.version);
    if (version === null) return null;
    return { said: { node: k.node, ip4, ip6, platform: o.platform as Platform, version }, prev: opened.prev };
  } catch {
    return null;
  }
}

/** Every believed node value in a range of the store, by node. */
export function nodesIn(client: EtcdClient, kvs: readonly KeyValue[]): Map<string, NodeSaid> {
  return believedIn(kvs, (kv) => {
    const n = nodeIn(client, kv);
    return n ? { node: n.said.node, value: n.said } : null;
  });
}

/** This host's own word under its key, written when the store does not hold exactly it (signed with the revision it replaces). Whether it wrote. */
export function publishNode(host: Host, client: EtcdClient): Promise<boolean> {
  const self = host.self.nodename;
  return sayOwn(client, nodeKey(self), self, bodyOf({ node: self, ip4: host.self.ip4, ip6: host.self.ip6, platform: host.driver.platform, version: VERSION }));
}

/**
 * A definition's members this host has no record of: each one's tunnel
 * endpoint must be an address it gave itself in the store (when it said
 * any: an agent older than 0.7 says none, and the definition is taken as
 * before). Members this host knows are checked against its records
 * (core/authority.ts checkUnderlays).
 */
export function checkUnderlaysSaid(def: VpcDef, self: string, nodes: ReadonlyMap<string, NodeSaid>, local: Pick<Host, 'db'>): void {
  for (const m of def.members) {
    if (m.node === self || repo.getNode(local.db, m.node)) continue;
    const said = nodes.get(m.node);
    if (!said) continue;
    if (m.underlay !== said.ip4 && m.underlay !== said.ip6) {
      throw new UserError(`refused: member ${m.node} of ${def.name} has underlay ${m.underlay}, but ${m.node} says its addresses are ${[said.ip4, said.ip6].filter((a) => a !== null).join(', ') || 'none'}`, 'conflict');
    }
  }
}
