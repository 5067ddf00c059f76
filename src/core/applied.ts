/**
 * What a member last applied for a VPC, so a no-op deploy can leave it alone.
 *
 * A member's apply (vpc_apply with a definition) is a function of: the
 * definition it is sent (peer map, every member's underlay address, link MTU
 * and WireGuard identity included: the deployer writes the members' reported
 * facts into it), the layers asked for, and its own name; and, on the host
 * itself, of what it keeps locally (layers, bridge addresses, guests, MTU
 * caps, other VPCs) and of its kernel. The digest covers the first part; the
 * host's local record (vpc_local) is rewritten by every reconcile, which
 * forgets the digest, so a local change (destroy_vxlan, collapse, an apply by
 * hand) never leaves a stale one behind; so does storing another definition
 * without applying it (a sync).
 *
 * The kernel can drift without meshvpc (a tunnel deleted by hand): a digest
 * alone would call such a member current. So the member also keeps a
 * fingerprint of its VPC links as the apply left them (kind, admin state,
 * MTU, master, split horizon, VXLAN parameters, addresses, alias; no
 * counters or carrier), and compares it with the kernel when it answers the
 * deployer's hello, from the look at the kernel the hello takes anyway. Not
 * covered, and repaired by `vpc mode=apply` on the host or `deploy full=1`:
 * the firewall's rules, a change of the route MTU toward a peer, and a
 * guest's port taken off the bridge by hand (guest ports are not the VPC's
 * own links). The deployer never skips members of an encrypted VPC or of one
 * with fdb=control, whose WireGuard peers and FDB entries are not links.
 */
import { createHash } from 'node:crypto';
import type { VpcWithMap } from './types.js';
import type { Observed } from './observed.js';

/** Changes when what a digest covers, or how it is computed, changes: a member of another version is never current. */
const DIGEST_VERSION = 'meshvpc-apply-1';

/** JSON with object keys sorted at every level and undefined left out: equal values, equal text. */
export function stableJson(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x) ?? 'null';
  if (Array.isArray(x)) return `[${x.map((e) => (e === undefined ? 'null' : stableJson(e))).join(',')}]`;
  const o = x as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The definition as it matters to an apply: members by name, pairs by their
 * two ends (their order in a list says nothing), absent and null alike.
 */
function canonicalDefinition(def: VpcWithMap): unknown {
  const dropNull = (o: object): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
  return {
    ...dropNull({ ...def, members: undefined, pairs: undefined }),
    encrypt: def.encrypt ?? 'none',
    members: [...def.members].map(dropNull).sort((x, y) => (String(x.node) < String(y.node) ? -1 : 1)),
    pairs: [...def.pairs].map(dropNull).sort((x, y) => (`${String(x.a)} ${String(x.b)}` < `${String(y.a)} ${String(y.b)}` ? -1 : 1)),
  };
}

/**
 * The digests of what each member must have for `def` with `layers` on. The
 * definition is put in canonical form once: a 64-member map has 2016 pairs,
 * and every member's digest covers all of them.
 */
export function applyDigester(def: VpcWithMap): (member: string, layers: readonly string[]) => string {
  const text = stableJson(canonicalDefinition(def));
  return (member, layers) => sha256(`${stableJson([DIGEST_VERSION, member, [...new Set(layers)].sort()])}\n${text}`);
}

/** The digest of what `member` must have for `def` with `layers` on. */
export function applyDigest(def: VpcWithMap, member: string, layers: readonly string[]): string {
  return applyDigester(def)(member, layers);
}

/**
 * The VPC's links as the kernel has them (`owned`: the names the VPC's
 * applies made), in the fields an apply sets; a missing link counts too.
 */
export function linkFingerprint(observed: Observed, owned: readonly string[]): string {
  const links = [...new Set(owned)].sort().map((name) => {
    const l = observed.get(name);
    if (!l) return { name, missing: true };
    return {
      name,
      kind: l.kind,
      up: l.up,
      mtu: l.mtu,
      master: l.master,
      isolated: l.isolated,
      alias: l.alias,
      vxlan: l.vxlan,
      addresses: [...l.addresses].sort(),
    };
  });
  return sha256(stableJson([DIGEST_VERSION, links]));
}

/** What a member keeps after a deploy applied a definition (vpc_local.applied). */
export interface AppliedRecord {
  readonly digest: string;
  readonly links: string;
}

/** What a member tells the deployer in its hello: the digest it last applied, and whether its links are still as that apply left them. */
export interface AppliedState {
  readonly digest: string;
  readonly intact: boolean;
}

export function appliedState(record: AppliedRecord | null, observed: Observed, owned: readonly string[]): AppliedState | null {
  return record === null ? null : { digest: record.digest, intact: linkFingerprint(observed, owned) === record.links };
}

/**
 * Whether the deployer may leave a member alone: it said (this very deploy,
 * in its hello) that it applied exactly this, and that its links are intact.
 */
export function isCurrent(said: AppliedState | null | undefined, expected: string): boolean {
  return said !== null && said !== undefined && said.intact && said.digest === expected;
}
