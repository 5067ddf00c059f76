/** Shared by the firewall tests: several VPCs' peer maps, seen from one host. */
import { allocatePeerMap } from '../../src/core/peermap.js';
import type { ActiveVpc } from '../../src/core/firewall.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { network } from '../../src/core/validate.js';

const V4: Record<string, string> = { node1: '192.0.2.1', node2: '192.0.2.2', node3: '192.0.2.3', node4: '192.0.2.4' };
const V6: Record<string, string> = { node1: '2001:db8::1', node2: '2001:db8::2', node3: '2001:db8::3' };

/** A VPC over the given underlay; its VNIs avoid `taken` (which it extends), as allocation does cluster-wide. */
export function vpcOf(name: string, members: readonly string[], family: 4 | 6, taken: Set<number>, firewall = true): VpcWithMap {
  const peerNetwork = family === 4 ? '198.51.100.0/26' : 'fd00:99::/64';
  const pairs = allocatePeerMap({ members, network: network(peerNetwork, 'peer_network'), existing: [], takenVnis: taken });
  for (const p of pairs) taken.add(p.vni);
  const underlay = family === 4 ? V4 : V6;
  return { name, peerNetwork, family, mtu: null, firewall, members: members.map((node) => ({ node, underlay: underlay[node] ?? '' })), pairs };
}

/**
 * vpc1 (IPv4: node1, node2, node3; VNIs 100 node1-node2, 101 node1-node3, 102 node2-node3),
 * vpc2 (IPv4: node1, node3; 103), vpc6 (IPv6: node1, node2; 104), far (IPv4: node2, node4; 105,
 * node1 not a member), idle (IPv4: node1, node4; 106, its tunnels not up on node1).
 */
export function cluster(options: { firewallOff?: string } = {}): ActiveVpc[] {
  const taken = new Set<number>();
  const fw = (name: string): boolean => options.firewallOff !== name;
  return [
    { def: vpcOf('vpc1', ['node1', 'node2', 'node3'], 4, taken, fw('vpc1')), active: true },
    { def: vpcOf('vpc2', ['node1', 'node3'], 4, taken, fw('vpc2')), active: true },
    { def: vpcOf('vpc6', ['node1', 'node2'], 6, taken, fw('vpc6')), active: true },
    { def: vpcOf('far', ['node2', 'node4'], 4, taken, fw('far')), active: true },
    { def: vpcOf('idle', ['node1', 'node4'], 4, taken, fw('idle')), active: false },
  ];
}
