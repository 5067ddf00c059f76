/** `node`: join hosts over SSH, list them, forget them, re-pin their keys. */
import { atomically } from '../store/tx.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { authorize, deauthorize, fingerprint, readPublicKey, sshHostKey } from '../cluster/keys.js';
import { connect, firstContactAuth } from '../cluster/ssh.js';
import { Peers, request } from '../cluster/peers.js';
import { readPrivateKey } from '../cluster/keys.js';
import type { Hello, NodeIntro } from '../cluster/protocol.js';
import { helloSeal } from '../cluster/wire.js';
import { sealIntro } from './seal.js';
import type { NodeRecord } from '../core/types.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import type { ConvergeEvent, ConvergeResult } from './vpc-cluster.js';
import type { Revocation } from './cluster-revoke.js';

/** Asks whoever runs the operation for the first-contact password (null: none, use SSH keys/agent). */
export type PasswordSource = (prompt: string) => Promise<string | null>;


export function findKnown(host: Host, ref: string): NodeRecord {
  const node = repo.findNode(host.db, ref);
  if (!node) throw new UserError(`unknown node ${v.shown(ref)}; known: ${repo.listNodes(host.db).map((n) => n.name).join(', ') || 'none'}`, 'not_found');
  return node;
}


/** Our own address in the family the peer was reached on: that is where it can reach us. */
function ownAddressFor(host: Host, peerAddress: string): string {
  const v6 = peerAddress.includes(':');
  const mine = v6 ? host.self.ip6 : host.self.ip4;
  if (!mine) throw new UserError(`${peerAddress} is IPv${v6 ? 6 : 4} but this host has no nodeip${v6 ? '6' : ''}: run meshvpc initenv with it`);
  return mine;
}

export interface AddResult {
  readonly name: string;
  readonly address: string;
  readonly platform: string;
  /** Known before: its keys were refreshed on both sides. */
  readonly refreshed: boolean;
  readonly hostkey: string;
}

export async function add(host: Host, input: { readonly node: string; readonly port: number; readonly user: string }, password: PasswordSource): Promise<AddResult> {
  const { node: address, port, user } = input;
  const known = repo.findNode(host.db, address);
  const intro: NodeIntro = {
    ...host.self,
    hostKey: sshHostKey(),
    publicKey: readPublicKey(host.home),
    platform: host.driver.platform,
    sshPort: 22,
    sshUser: 'root',
    sshAddress: ownAddressFor(host, address),
    ...sealIntro(host),
  };
  // A known host is reached with its pinned key and our cluster key: adding
  // it again refreshes both sides and never silently accepts a new host key.
  const conn = known
    ? await connect({ address, port, user, label: known.name }, { pinned: known.hostKey }, [{ type: 'publickey', key: readPrivateKey(host.home) }])
    : await connect({ address, port, user, label: address }, { firstContact: true }, firstContactAuth(await password(`${user}@${address}'s password: `)));
  let peer: Hello;
  try {
    peer = await request<Hello>(conn, { op: 'pair', node: intro }, address);
  } finally {
    conn.close();
  }
  const name = v.nodeName(peer.nodename, 'peer nodename');
  if (name === host.self.nodename) throw new UserError(`${address} answers as ${name}, which is this host's own name`);
  const record: NodeRecord = { name, sshAddress: address, sshPort: port, sshUser: user, ip4: peer.ip4, ip6: peer.ip6, hostKey: conn.hostKey, platform: peer.platform };
  const seal = helloSeal(peer);
  atomically(host.db, () => {
    repo.putNode(host.db, record);
    if (seal) repo.putNodeSeal(host.db, name, seal.key, seal.port);
  });
  authorize(peer.publicKey, name);
  return { name, address, platform: peer.platform, refreshed: known !== null, hostkey: fingerprint(conn.hostKey) };
}

/**
 * Forget a host: first take it out of every VPC it is in (its tunnels go
 * from every other member), then remove the trust on both sides.
 */
export type RemoveEvent = { readonly type: 'leaving'; readonly node: string; readonly vpc: string } | { readonly type: 'converge'; readonly event: ConvergeEvent; readonly result?: undefined } | { readonly type: 'left'; readonly result: ConvergeResult };

export interface RemoveResult {
  readonly name: string;
  /** The VPCs it was taken out of. */
  readonly left: readonly string[];
  /** Why the peer could not be told (force=1 forgot it anyway). */
  readonly warning: string | null;
  /** Its etcd client certificate revoked and the new CRL on each member (null: no etcd backend). */
  readonly revocation: Revocation | null;
}

export async function remove(host: Host, input: { readonly node: string; readonly force?: boolean }, events: (e: RemoveEvent) => void): Promise<RemoveResult> {
  const node = findKnown(host, input.node);
  const force = input.force ?? false;
  // With meshvpc's etcd, only the host holding the CA key may go on: checked before anything changes.
  const { planRevocation, revokeAndPush } = await import('./cluster-revoke.js');
  const revoking = planRevocation(host, node.name);
  const vpcs = repo.listVpcs(host.db).filter((x) => x.members.some((m) => m.node === node.name));
  const { leaveVpc } = await import('./vpc.js');
  for (const vpc of vpcs) {
    events({ type: 'leaving', node: node.name, vpc: vpc.name });
    const result = await leaveVpc(host, vpc.name, node.name, (event) => events({ type: 'converge', event }));
    events({ type: 'left', result });
    if (!result.ok && !force) throw new UserError(`${node.name} did not leave ${vpc.name} cleanly; nothing more was changed (force=1 goes on)`, 'failed');
  }
  let warning: string | null = null;
  const peers = new Peers(host.home);
  try {
    await peers.call(node, { op: 'unpair', node: host.self.nodename });
  } catch (e) {
    if (!force) throw new UserError(`${(e as Error).message} (force=1 forgets ${node.name} here anyway)`, e instanceof UserError ? e.kind : 'unreachable');
    warning = (e as Error).message;
  } finally {
    peers.close();
  }
  atomically(host.db, () => repo.deleteNode(host.db, node.name));
  deauthorize(node.name);
  const revocation = await revokeAndPush(host, node.name, revoking);
  return { name: node.name, left: vpcs.map((x) => x.name), warning, revocation };
}

export interface RepinResult {
  readonly name: string;
  readonly before: string;
  readonly after: string;
}

export async function repin(host: Host, input: { readonly node: string }): Promise<RepinResult> {
  const node = findKnown(host, input.node);
  const conn = await connect(
    { address: node.sshAddress, port: node.sshPort, user: node.sshUser, label: node.name },
    { firstContact: true },
    [{ type: 'publickey', key: readPrivateKey(host.home) }],
  );
  conn.close();
  atomically(host.db, () => repo.putNode(host.db, { ...node, hostKey: conn.hostKey }));
  return { name: node.name, before: fingerprint(node.hostKey), after: fingerprint(conn.hostKey) };
}
