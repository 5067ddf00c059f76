/**
 * `node mode=update`: the operator tells this host that a peer's address or
 * SSH port changed. The peer must answer there, with its pinned host key and
 * its own name, and say it has the new address (a host speaks for its own
 * addresses: its `initenv` says so first). Then, in one transaction, its
 * record and its underlay in every VPC it is in here change; the other
 * members are told (each checks with the peer itself, see `moved`), and each
 * of those VPCs is converged on every member as deploy does, so every member
 * replans: tunnels to the peer change their remote in place.
 */
import { atomically } from '../store/tx.js';
import { UserError, type ErrorKind } from '../core/errors.js';
import { disagreement, endpoint, movedMembers, planMove, type MoveInput, type NodeMove, type UnderlayChange } from '../core/node-move.js';
import type { NodeRecord, VpcWithMap } from '../core/types.js';
import { connect, type Connection } from '../cluster/ssh.js';
import { readPrivateKey } from '../cluster/keys.js';
import { Peers, request } from '../cluster/peers.js';
import { helloAddresses, helloIdentity } from '../cluster/wire.js';
import { fanout, type Outcome } from '../cluster/fanout.js';
import * as repo from '../store/repo.js';
import { withLock } from '../store/lock.js';
import type { Host } from './host.js';
import { findKnown } from './node.js';
import { converge, DEFAULT_CONCURRENCY, reported, type ConvergeEvent, type ConvergeResult, type SyncOutcome } from './vpc-cluster.js';
import { reconcileAccepted } from './vpc-local.js';

export interface UpdateInput extends MoveInput {
  readonly node: string;
  readonly dryrun?: boolean;
}

/** What the node says about itself, reached at its new endpoint. */
export interface Answer {
  readonly version: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
}

/**
 * Reach `n` at the endpoint its record names, with its pinned host key and
 * our cluster key, and ask who it is. Every failure is one line naming the
 * node and the endpoint.
 */
export async function answerAt(host: Host, n: NodeRecord): Promise<Answer> {
  const where = endpoint(n.sshAddress, n.sshPort);
  const failed = (e: unknown): UserError => {
    const msg = e instanceof Error ? e.message : String(e);
    const kind: ErrorKind = e instanceof UserError ? e.kind : 'unreachable';
    let why = msg;
    if (kind === 'host_key') why = `the host there is not ${n.name}: ${msg.replace(/; refusing to connect.*$/, '')}`;
    else if (msg.startsWith(`cannot reach ${n.name} (`)) why = msg.slice(msg.indexOf('): ') + 3);
    else if (msg.startsWith(`${n.name}: `)) why = msg.slice(n.name.length + 2);
    return new UserError(`${n.name} did not answer at ${where}: ${why}`, kind);
  };
  let conn: Connection;
  try {
    conn = await connect({ address: n.sshAddress, port: n.sshPort, user: n.sshUser, label: n.name }, { pinned: n.hostKey }, [{ type: 'publickey', key: readPrivateKey(host.home) }]);
  } catch (e) {
    throw failed(e);
  }
  try {
    const raw = await request<unknown>(conn, { op: 'hello' }, n.name);
    return { version: helloIdentity(raw, n.name).version, ...helloAddresses(raw) };
  } catch (e) {
    throw failed(e);
  } finally {
    conn.close();
  }
}

/** The move as this host's records stand now; every refusal of the input happens here. */
function currentMove(host: Host, input: UpdateInput): NodeMove {
  const self = host.self;
  if ([self.nodename, self.ip4, self.ip6].includes(input.node)) {
    throw new UserError(`${self.nodename} is this host: change its own addresses with meshvpc initenv nodename=${self.nodename} nodeip=... nodeip6=..., then run node mode=update on a peer`);
  }
  return planMove(findKnown(host, input.node), input, self, repo.listNodes(host.db), repo.listVpcs(host.db));
}

/** The VPCs here that have `node` as a member, by name. */
const vpcsWith = (host: Host, node: string): VpcWithMap[] => repo.listVpcs(host.db).filter((x) => x.members.some((m) => m.node === node));

const withMoved = (vpc: VpcWithMap, node: string, changes: readonly UnderlayChange[]): VpcWithMap => {
  const c = changes.find((u) => u.vpc === vpc.name);
  return c ? { ...vpc, members: movedMembers(vpc.members, node, c.to) } : vpc;
};

/** Each VPC's cluster lock, in name order (so two updates cannot wait on each other). */
function locked<T>(host: Host, names: readonly string[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = names;
  if (first === undefined) return fn();
  return withLock(host.db, `op:${first}`, 'node mode=update', () => locked(host, rest, fn));
}

/** One member's answer to `node_moved`, shaped as a sync outcome: its result is updated, unchanged, or unknown (it never met the node). */
export type ToldOutcome = SyncOutcome;

export type UpdateEvent =
  /** The node answered at its new endpoint as itself: the checks passed. */
  | { readonly type: 'answered'; readonly node: string; readonly at: string; readonly version: string }
  | { readonly type: 'told'; readonly outcome: ToldOutcome }
  | { readonly type: 'converge'; readonly event: ConvergeEvent; readonly result?: undefined }
  | { readonly type: 'vpc_updated'; readonly result: ConvergeResult };

/** A node's endpoint and addresses, as `node mode=list` shows them. */
export interface Endpoints {
  readonly ssh: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
}

export interface UpdateResult {
  readonly name: string;
  readonly dryrun: boolean;
  readonly before: Endpoints;
  readonly after: Endpoints;
  /** The node's record changed here (false: it already said this). */
  readonly changed: boolean;
  /** The meshvpc version that answered at the new endpoint. */
  readonly version: string;
  /** The VPCs here whose underlay for the node changed. */
  readonly underlays: readonly UnderlayChange[];
  /** Every VPC here the node is a member of: converged on all its members (dry: planned here). */
  readonly vpcs: readonly string[];
  /** The other members, told where the node is now. */
  readonly told: readonly ToldOutcome[];
  readonly converged: readonly ConvergeResult[];
  /** dryrun: the commands this host would run, per VPC. */
  readonly planned: readonly { readonly vpc: string; readonly commands: readonly (readonly string[])[] }[];
  /** Every member was told and every VPC converged everywhere. */
  readonly ok: boolean;
}

const endpoints = (n: NodeRecord): Endpoints => ({ ssh: `${n.sshUser}@${endpoint(n.sshAddress, n.sshPort)}`, ip4: n.ip4, ip6: n.ip6 });

const toldOf = (o: Outcome<{ result: string }>): ToldOutcome => ({ ...reported(o), result: o.ok ? o.value.result : null });

/**
 * Why not the third host's word: authority.ts lets a host speak only for
 * itself, and a member's definition must show every node this host knows at
 * the address this host knows for it. So the other members are not simply
 * sent the new definition: each is told where the node went (`node_moved`),
 * checks it with the node itself, as `update` does here, and only then
 * accepts definitions that show the new address.
 */
async function tellMembers(host: Host, node: string, input: MoveInput, vpcs: readonly VpcWithMap[], events: (e: UpdateEvent) => void): Promise<ToldOutcome[]> {
  const names = [...new Set(vpcs.flatMap((x) => x.members.map((m) => m.node)))].filter((n) => n !== host.self.nodename && n !== node).sort();
  const records = names.flatMap((n) => repo.getNode(host.db, n) ?? []);
  const peers = new Peers(host.home);
  const said = { ...(input.ip === undefined ? {} : { ip: input.ip }), ...(input.ip6 === undefined ? {} : { ip6: input.ip6 }), ...(input.port === undefined ? {} : { port: input.port }) };
  try {
    const results = await fanout(
      records.map((r) => r.name),
      DEFAULT_CONCURRENCY,
      async (key) => {
        try {
          return await peers.call<{ result: string }>(records.find((r) => r.name === key) as NodeRecord, { op: 'node_moved', node, ...said });
        } catch (e) {
          if (e instanceof UserError && /unknown op/.test(e.message)) {
            throw new UserError(`${e.message}: it runs an older meshvpc; upgrade it, or run meshvpc node mode=update node=${node} there`, 'failed');
          }
          throw e;
        }
      },
      (o) => events({ type: 'told', outcome: toldOf(o) }),
    );
    return results.map(toldOf);
  } finally {
    peers.close();
  }
}

export async function update(host: Host, input: UpdateInput, events: (e: UpdateEvent) => void = () => undefined): Promise<UpdateResult> {
  const move = currentMove(host, input);
  const name = move.before.name;
  const where = endpoint(move.after.sshAddress, move.after.sshPort);
  // Nothing is stored before the node answers at its new endpoint as itself.
  const answer = await answerAt(host, move.after);
  const refusal = disagreement(name, where, input, answer);
  if (refusal !== null) throw new UserError(refusal, 'conflict');
  events({ type: 'answered', node: name, at: where, version: answer.version });
  const vpcs = vpcsWith(host, name);
  const base = { name, before: endpoints(move.before), after: endpoints(move.after), changed: move.changed, version: answer.version, underlays: move.underlays, vpcs: vpcs.map((x) => x.name) };
  if (input.dryrun) {
    const planned = [];
    for (const vpc of vpcs) {
      const r = await reconcileAccepted(host, vpc.name, {}, true, withMoved(vpc, name, move.underlays));
      planned.push({ vpc: vpc.name, commands: r.commands });
    }
    return { ...base, dryrun: true, told: [], converged: [], planned, ok: true };
  }
  return locked(host, vpcs.map((x) => x.name), async () => {
    // Read again under the locks: what was checked must still be what is stored.
    const now = currentMove(host, input);
    const same = (a: NodeRecord, b: NodeRecord): boolean => JSON.stringify(a) === JSON.stringify(b);
    const still = vpcsWith(host, name).map((x) => x.name);
    if (!same(now.after, move.after) || still.join() !== base.vpcs.join()) {
      throw new UserError(`${name} or its VPCs changed while it was checked; nothing was changed: run the command again`, 'busy');
    }
    // All or nothing: the record and every VPC's underlay for it.
    atomically(host.db, () => {
      repo.putNode(host.db, now.after);
      for (const u of now.underlays) {
        const vpc = repo.getVpc(host.db, u.vpc);
        if (vpc) repo.putVpc(host.db, { ...vpc, members: movedMembers(vpc.members, name, u.to) });
      }
    });
    const updated = vpcsWith(host, name);
    const told = await tellMembers(host, name, input, updated, events);
    const converged: ConvergeResult[] = [];
    for (const vpc of updated) {
      const result = await converge(host, vpc, { dryrun: false, limit: DEFAULT_CONCURRENCY, leaving: [] }, (event) => events({ type: 'converge', event }));
      events({ type: 'vpc_updated', result });
      converged.push(result);
    }
    return { ...base, dryrun: false, told, converged, planned: [], ok: told.every((t) => t.ok) && converged.every((c) => c.ok) };
  });
}

/**
 * A member says `req.node` moved (`node_moved`). This host believes the node
 * only: it reaches it at the new endpoint with its own pinned host key and
 * cluster key, the node must say it has the new addresses, and only then does
 * this host's record of it change. A node never met here is left to the
 * definitions (authority.checkUnderlays takes the sender's word for those).
 */
export async function moved(host: Host, req: MoveInput & { readonly node: string }): Promise<{ node: string; result: 'updated' | 'unchanged' | 'unknown' }> {
  const known = repo.getNode(host.db, req.node);
  if (!known) return { node: req.node, result: 'unknown' };
  const move = planMove(known, req, host.self, repo.listNodes(host.db), []);
  const where = endpoint(move.after.sshAddress, move.after.sshPort);
  const refusal = disagreement(known.name, where, req, await answerAt(host, move.after));
  if (refusal !== null) throw new UserError(refusal, 'conflict');
  if (!move.changed) return { node: known.name, result: 'unchanged' };
  atomically(host.db, () => {
    const now = repo.getNode(host.db, known.name);
    if (!now || JSON.stringify(now) !== JSON.stringify(known)) throw new UserError(`${known.name} changed here while it was checked; nothing was changed`, 'busy');
    repo.putNode(host.db, move.after);
  });
  return { node: known.name, result: 'updated' };
}
