/** `meshvpc node`: join hosts over SSH, list them, forget them, re-pin their keys. */
import type { Invocation } from '../cli/args.js';
import { printRows, say } from '../cli/output.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { authorize, deauthorize, fingerprint, readPublicKey, sshHostKey } from '../cluster/keys.js';
import { connect, firstContactAuth } from '../cluster/ssh.js';
import { Peers, request } from '../cluster/peers.js';
import { readPrivateKey } from '../cluster/keys.js';
import type { Hello, NodeIntro } from '../cluster/protocol.js';
import type { NodeRecord } from '../core/types.js';
import * as repo from '../store/repo.js';
import { openHost, type Host } from './host.js';
import { readPassword } from './password.js';

const MODES = ['add', 'list', 'remove', 'repin'] as const;

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.require('mode', `use one of ${MODES.join(', ')}`);
  if (!(MODES as readonly string[]).includes(mode)) throw new UserError(`unknown node mode ${v.shown(mode)}; modes: ${MODES.join(', ')}`);
  // Validate everything before opening state, so bad input changes nothing.
  if (mode === 'list') p.only(['mode'], 'node mode=list');
  else if (mode === 'add') p.only(['mode', 'node', 'port', 'user'], 'node mode=add');
  else p.only(['mode', 'node'], `node mode=${mode}`);
  const host = await openHost(undefined, mode === 'list' ? 'read' : 'write');
  try {
    if (mode === 'list') return list(host, inv);
    const ref = v.nodeRef(p.require('node', 'the address (or name) of the other host'), 'node');
    if (mode === 'add') {
      const port = v.port(p.get('port') ?? '22', 'port');
      const user = v.userName(p.get('user') ?? 'root', 'user');
      return await add(host, ref, port, user);
    }
    const node = repo.findNode(host.db, ref);
    if (!node) throw new UserError(`unknown node ${v.shown(ref)}; known: ${repo.listNodes(host.db).map((n) => n.name).join(', ') || 'none'}`, 'not_found');
    if (mode === 'remove') return await remove(host, node, p.flag('force'));
    return await repin(host, node);
  } finally {
    host.db.close();
  }
}

function list(host: Host, inv: Invocation): number {
  const rows = repo.listNodes(host.db).map((n) => ({
    name: n.name,
    ip4: n.ip4,
    ip6: n.ip6,
    ssh: `${n.sshUser}@${n.sshAddress.includes(':') ? `[${n.sshAddress}]` : n.sshAddress}:${n.sshPort}`,
    platform: n.platform,
    hostkey: fingerprint(n.hostKey),
  }));
  printRows(inv.params, rows, ['name', 'ip4', 'ip6', 'ssh', 'platform']);
  return 0;
}

/** Our own address in the family the peer was reached on: that is where it can reach us. */
function ownAddressFor(host: Host, peerAddress: string): string {
  const v6 = peerAddress.includes(':');
  const mine = v6 ? host.self.ip6 : host.self.ip4;
  if (!mine) throw new UserError(`${peerAddress} is IPv${v6 ? 6 : 4} but this host has no nodeip${v6 ? '6' : ''}: run meshvpc initenv with it`);
  return mine;
}

async function add(host: Host, address: string, port: number, user: string): Promise<number> {
  const known = repo.findNode(host.db, address);
  const intro: NodeIntro = {
    ...host.self,
    hostKey: sshHostKey(),
    publicKey: readPublicKey(host.home),
    platform: host.driver.platform,
    sshPort: 22,
    sshUser: 'root',
    sshAddress: ownAddressFor(host, address),
  };
  // A known host is reached with its pinned key and our cluster key: adding
  // it again refreshes both sides and never silently accepts a new host key.
  const conn = known
    ? await connect({ address, port, user, label: known.name }, { pinned: known.hostKey }, [{ type: 'publickey', key: readPrivateKey(host.home) }])
    : await connect({ address, port, user, label: address }, { firstContact: true }, firstContactAuth(await readPassword(`${user}@${address}'s password: `)));
  let peer: Hello;
  try {
    peer = await request<Hello>(conn, { op: 'pair', node: intro }, address);
  } finally {
    conn.close();
  }
  const name = v.nodeName(peer.nodename, 'peer nodename');
  if (name === host.self.nodename) throw new UserError(`${address} answers as ${name}, which is this host's own name`);
  const record: NodeRecord = { name, sshAddress: address, sshPort: port, sshUser: user, ip4: peer.ip4, ip6: peer.ip6, hostKey: conn.hostKey, platform: peer.platform };
  host.db.transaction(() => repo.putNode(host.db, record))();
  authorize(peer.publicKey, name);
  say(`${name}: ${known ? 'refreshed' : 'added'} (${address}, ${peer.platform}, host key ${fingerprint(conn.hostKey)})`);
  return 0;
}

/**
 * Forget a host: first take it out of every VPC it is in (its tunnels go
 * from every other member), then remove the trust on both sides.
 */
async function remove(host: Host, node: NodeRecord, force: boolean): Promise<number> {
  const vpcs = repo.listVpcs(host.db).filter((x) => x.members.some((m) => m.node === node.name));
  const { leaveVpc } = await import('./vpc.js');
  for (const vpc of vpcs) {
    say(`${node.name}: leaving ${vpc.name}`);
    const code = await leaveVpc(host, vpc.name, node.name);
    if (code !== 0 && !force) throw new UserError(`${node.name} did not leave ${vpc.name} cleanly; nothing more was changed (force=1 goes on)`, 'failed');
  }
  const peers = new Peers(host.home);
  try {
    await peers.call(node, { op: 'unpair', node: host.self.nodename });
  } catch (e) {
    if (!force) throw new UserError(`${(e as Error).message} (force=1 forgets ${node.name} here anyway)`);
    say(`warning: ${(e as Error).message}`);
  } finally {
    peers.close();
  }
  host.db.transaction(() => repo.deleteNode(host.db, node.name))();
  deauthorize(node.name);
  say(`${node.name}: removed`);
  return 0;
}

async function repin(host: Host, node: NodeRecord): Promise<number> {
  const conn = await connect(
    { address: node.sshAddress, port: node.sshPort, user: node.sshUser, label: node.name },
    { firstContact: true },
    [{ type: 'publickey', key: readPrivateKey(host.home) }],
  );
  conn.close();
  host.db.transaction(() => repo.putNode(host.db, { ...node, hostKey: conn.hostKey }))();
  say(`${node.name}: host key ${fingerprint(node.hostKey)} -> ${fingerprint(conn.hostKey)}`);
  return 0;
}
