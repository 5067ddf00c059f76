/**
 * `node mode=update`, the pure part: a peer's address or SSH port changed;
 * what its record becomes, which VPC definitions change with it, and every
 * refusal, decided before anything is contacted or stored.
 */
import { UserError } from './errors.js';
import { checkUnderlayAddress, containsAddress } from './addrules.js';
import { network } from './validate.js';
import type { Member, NodeRecord, SelfNode, VpcDef } from './types.js';

/** What the operator says changed (each optional; at least one). */
export interface MoveInput {
  readonly ip?: string;
  readonly ip6?: string;
  readonly port?: number;
}

/** One VPC whose member `node` is reached at another underlay address from now on. */
export interface UnderlayChange {
  readonly vpc: string;
  readonly from: string;
  readonly to: string;
}

export interface NodeMove {
  readonly before: NodeRecord;
  readonly after: NodeRecord;
  /** The record changes (false: it already says all this; the VPCs may still lag). */
  readonly changed: boolean;
  /** Every VPC here with the node as a member whose underlay for it changes. */
  readonly underlays: readonly UnderlayChange[];
}

const isV6 = (a: string): boolean => a.includes(':');

/** host:port as ssh would be told it ([v6]:port). */
export const endpoint = (address: string, port: number): string => `${isV6(address) ? `[${address}]` : address}:${port}`;

/**
 * The address that names a node's SSH endpoint follows the family it was
 * reached on: `ip=` moves an IPv4 SSH address, `ip6=` an IPv6 one.
 */
function sshAddressAfter(n: NodeRecord, input: MoveInput): string {
  if (input.ip !== undefined && !isV6(n.sshAddress)) return input.ip;
  if (input.ip6 !== undefined && isV6(n.sshAddress)) return input.ip6;
  return n.sshAddress;
}

/** Which of this host's and the other nodes' addresses `address` already is, if any. */
function ownerOf(address: string, node: string, self: SelfNode, nodes: readonly NodeRecord[]): string | null {
  if (self.ip4 === address || self.ip6 === address) return `${self.nodename}'s (this host's own)`;
  const other = nodes.find((o) => o.name !== node && (o.ip4 === address || o.ip6 === address || o.sshAddress === address));
  return other ? `${other.name}'s` : null;
}

/**
 * The node's record after the move and the VPCs it changes. Refuses: nothing
 * asked, an address that is not a unicast underlay address, one that another
 * node (or this host) already has, one inside a VPC's peer network (its
 * tunnels would route into themselves).
 */
export function planMove(n: NodeRecord, input: MoveInput, self: SelfNode, nodes: readonly NodeRecord[], vpcs: readonly VpcDef[]): NodeMove {
  if (input.ip === undefined && input.ip6 === undefined && input.port === undefined) {
    throw new UserError(`say what changed: node mode=update node=${n.name} ip=ADDR, ip6=ADDR and/or port=N`);
  }
  for (const [key, address] of [['ip', input.ip], ['ip6', input.ip6]] as const) {
    if (address === undefined) continue;
    checkUnderlayAddress(address, key);
    const owner = ownerOf(address, n.name, self, nodes);
    if (owner !== null) throw new UserError(`${key}=${address} is already ${owner} address (meshvpc node mode=list); nothing was changed`, 'conflict');
  }
  const after: NodeRecord = {
    ...n,
    ip4: input.ip ?? n.ip4,
    ip6: input.ip6 ?? n.ip6,
    sshPort: input.port ?? n.sshPort,
    sshAddress: sshAddressAfter(n, input),
  };
  const underlays = vpcs.flatMap((vpc): UnderlayChange[] => {
    const m = vpc.members.find((x) => x.node === n.name);
    const to = vpc.family === 6 ? after.ip6 : after.ip4;
    if (!m || to === null || m.underlay === to) return [];
    if (containsAddress(network(vpc.peerNetwork, 'peer_network'), to)) {
      throw new UserError(`${vpc.family === 6 ? 'ip6' : 'ip'}=${to} lies in ${vpc.peerNetwork}, the peer network of ${vpc.name}, where the tunnel ends live; nothing was changed`);
    }
    return [{ vpc: vpc.name, from: m.underlay, to }];
  });
  const changed = after.ip4 !== n.ip4 || after.ip6 !== n.ip6 || after.sshPort !== n.sshPort || after.sshAddress !== n.sshAddress;
  return { before: n, after, changed, underlays };
}

/** A VPC's members with `node` at its new underlay address. */
export function movedMembers(members: readonly Member[], node: string, to: string): Member[] {
  return members.map((m) => (m.node === node ? { ...m, underlay: to } : m));
}

/**
 * A host speaks for its own addresses: the node, reached at its new address,
 * must say it has the addresses the operator gave (its own `initenv` says so).
 * Returns the refusal, or null.
 */
export function disagreement(name: string, where: string, input: MoveInput, says: { readonly ip4: string | null; readonly ip6: string | null }): string | null {
  const wrong = (input.ip !== undefined && says.ip4 !== input.ip) || (input.ip6 !== undefined && says.ip6 !== input.ip6);
  if (!wrong) return null;
  const ip4 = input.ip ?? says.ip4;
  const ip6 = input.ip6 ?? says.ip6;
  const told = [...(input.ip !== undefined ? [`IPv4 ${says.ip4 ?? 'none'}`] : []), ...(input.ip6 !== undefined ? [`IPv6 ${says.ip6 ?? 'none'}`] : [])].join(' and ');
  const initenv = `meshvpc initenv nodename=${name}${ip4 ? ` nodeip=${ip4}` : ''}${ip6 ? ` nodeip6=${ip6}` : ''}`;
  return `${name} answers at ${where} but says its own address is ${told}: run ${initenv} on ${name} first (a host speaks for its own addresses); nothing was changed`;
}
