/**
 * What a peer may say. Every cluster key is bound (by its authorized_keys
 * entry) to the node it was registered for, so a request arrives with the
 * caller's name fixed by sshd, not by the request. A host speaks only for
 * itself; a VPC is changed only by its members; a definition's underlay
 * addresses must be the ones this host knows for those nodes.
 */
import { UserError } from './errors.js';
import type { NodeRecord, SelfNode, VpcDef } from './types.js';

export type Caller =
  /** A cluster key, bound to this node by its authorized_keys entry. */
  | { readonly kind: 'member'; readonly node: string }
  /** Someone who logged in as root with a password or their own key: could run anything anyway. */
  | { readonly kind: 'root' }
  /** A cluster key whose entry predates caller binding (meshvpc 0.1): read-only until upgraded. */
  | { readonly kind: 'legacy' };

function refuse(why: string): never {
  throw new UserError(`refused: ${why}`);
}

/** Requests that change nothing may come from any cluster member. */
export function requireBound(c: Caller, what: string): void {
  if (c.kind === 'legacy') {
    refuse(`${what} needs a cluster key bound to its node; this host's entries were written by meshvpc 0.1 and have just been upgraded: run the command again`);
  }
}

/**
 * `pair`: a member may (re)register only itself, with the key it
 * authenticated with, and not with another node's addresses.
 */
export function checkPair(
  c: Caller,
  intro: { readonly nodename: string; readonly ip4: string | null; readonly ip6: string | null; readonly sshAddress: string; readonly publicKeyBlob: string },
  authenticatedBlob: string | null,
  self: SelfNode,
  nodes: readonly NodeRecord[],
): void {
  requireBound(c, 'pair');
  if (intro.nodename === self.nodename) refuse(`${intro.nodename} is this host's own name`);
  if (c.kind === 'member') {
    if (intro.nodename !== c.node) refuse(`${c.node} may only speak for itself, not for ${intro.nodename}`);
    if (authenticatedBlob !== intro.publicKeyBlob) refuse(`${c.node} offered a cluster key other than the one it authenticated with`);
  }
  const mine = [self.ip4, self.ip6].filter((a): a is string => a !== null);
  for (const addr of [intro.ip4, intro.ip6, intro.sshAddress]) {
    if (addr === null) continue;
    if (mine.includes(addr)) refuse(`${intro.nodename} claims ${addr}, which is this host's own address`);
    const owner = nodes.find((n) => n.name !== intro.nodename && (n.ip4 === addr || n.ip6 === addr || n.sshAddress === addr));
    if (owner) refuse(`${intro.nodename} claims ${addr}, which belongs to ${owner.name}`);
  }
}

/**
 * `node_moved`: a member may say that a node's address changed, but the
 * receiver believes only the node itself (it reaches the node at the new
 * address with its own pinned host key and reads the node's addresses from
 * its hello). Nobody moves the receiver: its own addresses are its initenv's.
 */
export function checkMoved(c: Caller, node: string, self: SelfNode): void {
  requireBound(c, 'node_moved');
  if (node === self.nodename) refuse(`${node} is this host's own name; its addresses change only with its own meshvpc initenv`);
}

/** `unpair`: a member may only take itself out. */
export function checkUnpair(c: Caller, node: string): void {
  requireBound(c, 'unpair');
  if (c.kind === 'member' && c.node !== node) refuse(`${c.node} may only remove itself, not ${node}`);
}

/**
 * A VPC is changed (defined, applied, collapsed, forgotten) only by one of its
 * members as this host knows them; a VPC unknown here only by a member of the
 * definition offered, which must include this host.
 */
export function checkVpcChange(c: Caller, self: string, stored: VpcDef | null, incoming: VpcDef | null, what: string): void {
  requireBound(c, what);
  if (c.kind !== 'member') return;
  const name = stored?.name ?? incoming?.name ?? '?';
  if (stored) {
    if (!stored.members.some((m) => m.node === c.node)) refuse(`${c.node} is not a member of ${name} here, so it may not ${what} it`);
    return;
  }
  if (!incoming) return;
  if (!incoming.members.some((m) => m.node === c.node)) refuse(`${c.node} is not a member of the ${name} it sent`);
  if (!incoming.members.some((m) => m.node === self)) refuse(`${name} as sent by ${c.node} does not include ${self}`);
}

/**
 * A member this host knows must appear at the underlay address this host
 * knows for it (this host and its peers speak for themselves, not the
 * sender). Members this host has never met (the article joins every host
 * only to the one that deploys) are the sender's word, but may not claim an
 * address of this host or of a host known here under another name.
 */
export function checkUnderlays(def: VpcDef, self: SelfNode, nodes: readonly NodeRecord[]): void {
  const addressesOf = (n: { readonly ip4: string | null; readonly ip6: string | null }): string[] => [n.ip4, n.ip6].filter((a): a is string => a !== null);
  for (const m of def.members) {
    const known = m.node === self.nodename ? self : nodes.find((n) => n.name === m.node);
    if (known) {
      const want = def.family === 6 ? known.ip6 : known.ip4;
      if (want !== m.underlay) {
        refuse(`member ${m.node} of ${def.name} has underlay ${m.underlay}, but ${m.node}'s IPv${def.family} address here is ${want ?? 'not set'}`);
      }
      continue;
    }
    if (addressesOf(self).includes(m.underlay)) refuse(`member ${m.node} of ${def.name} claims ${m.underlay}, which is ${self.nodename}'s own address`);
    const owner = nodes.find((n) => addressesOf(n).includes(m.underlay) || n.sshAddress === m.underlay);
    if (owner) refuse(`member ${m.node} of ${def.name} claims ${m.underlay}, which belongs to ${owner.name}`);
  }
}

/** A member's WireGuard identity as a definition states it (or as this host holds it). */
export interface SealClaim {
  readonly key: string | null | undefined;
  readonly port: number | null | undefined;
  readonly underlay: string;
}

/**
 * What an encrypted definition says of its members' WireGuard keys. The host's
 * one WireGuard link serves all its encrypted VPCs, so a key, port or
 * endpoint believed for a node in one VPC carries that node's traffic in all
 * of them: a definition may not tell this host something about a node that
 * differs from what another of its encrypted VPCs says of that node, unless
 * the sender is that node (it speaks for itself: a rotation). A node this
 * host knows itself needs no such check: its own record is what the link
 * uses, whatever a definition says. No key may stand for two nodes (or for
 * this host): the link would hand one node's addresses to the other.
 */
export function checkSealClaims(
  c: Caller,
  def: VpcDef,
  self: { readonly name: string; readonly key: string },
  nodes: readonly NodeRecord[],
  others: readonly VpcDef[],
): void {
  if (def.encrypt !== 'wireguard') return;
  const keyOwner = new Map<string, string>([[self.key, self.name]]);
  for (const n of nodes) if (n.wgKey) keyOwner.set(n.wgKey, n.name);
  for (const v of others) {
    if (v.encrypt !== 'wireguard' || v.name === def.name) continue;
    for (const m of v.members) if (m.wgKey && !keyOwner.has(m.wgKey)) keyOwner.set(m.wgKey, m.node);
  }
  for (const m of def.members) {
    if (m.node === self.name || !m.wgKey) continue;
    const owner = keyOwner.get(m.wgKey);
    if (owner !== undefined && owner !== m.node) refuse(`member ${m.node} of ${def.name} has WireGuard key ${m.wgKey}, which is ${owner}'s`);
    if (nodes.some((n) => n.name === m.node && n.wgKey) || (c.kind === 'member' && c.node === m.node)) continue;
    for (const v of others) {
      if (v.encrypt !== 'wireguard' || v.name === def.name) continue;
      const there = v.members.find((x) => x.node === m.node);
      if (!there?.wgKey) continue;
      if (there.wgKey !== m.wgKey || there.wgPort !== m.wgPort || there.underlay !== m.underlay) {
        refuse(
          `member ${m.node} of ${def.name} has WireGuard key ${m.wgKey} port ${m.wgPort ?? '?'} at ${m.underlay}, but ${v.name} here has ${there.wgKey} port ${there.wgPort ?? '?'} at ${there.underlay}; only ${m.node} itself may change that`,
        );
      }
    }
  }
}
