/** Shared by the spec and planner tests: a 3-host VPC (h1-h3, plus h4 for joins) seen from h1. */
import { allocatePeerMap, type Pair } from '../../src/core/peermap.js';
import type { HostSpecInput } from '../../src/core/spec.js';
import { network } from '../../src/core/validate.js';

export const V4 = new Map([
  ['h1', '192.0.2.1'],
  ['h2', '192.0.2.2'],
  ['h3', '192.0.2.3'],
  ['h4', '192.0.2.4'],
]);
export const V6 = new Map([
  ['h1', '2001:db8::1'],
  ['h2', '2001:db8::2'],
  ['h3', '2001:db8::3'],
  ['h4', '2001:db8::4'],
]);

export function pairsFor(members: string[], existing: readonly Pair[] = [], peerNetwork = '10.100.0.0/24'): Pair[] {
  return allocatePeerMap({ members, network: network(peerNetwork, 'peer_network'), existing, takenVnis: new Set() });
}

/** h1's view of vpc1 over an IPv4 underlay, tunnels only; `over` changes any field. */
export function specInput(over: Partial<HostSpecInput> = {}): HostSpecInput {
  return {
    vpc: 'vpc1',
    self: 'h1',
    pairs: pairsFor(['h1', 'h2', 'h3']),
    family: 4,
    underlay: V4,
    underlayMtu: new Map([
      ['h2', 1500],
      ['h3', 1500],
    ]),
    mtu: null,
    layers: { vxlan: true, bridge: false },
    bridgeIps: [],
    owned: [],
    ...over,
  };
}
