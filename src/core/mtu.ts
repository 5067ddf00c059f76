/**
 * VXLAN encapsulation cost: outer IP header (20 on IPv4, 40 on IPv6) + UDP 8 +
 * VXLAN 8 + inner Ethernet 14. The tunnel MTU is what is left of the underlay's.
 */
export const VXLAN_OVERHEAD = { 4: 50, 6: 70 } as const;

/** The smallest MTU IPv6 allows on a link; a tunnel below it cannot carry IPv6 guests. */
export const MIN_TUNNEL_MTU = 1280;

export function tunnelMtu(underlayMtu: number, family: 4 | 6): number {
  return underlayMtu - VXLAN_OVERHEAD[family];
}

/**
 * One MTU for the whole segment: a bridge forwards frames between all its
 * ports, so every tunnel, the bridge and every guest use the smallest.
 */
export function segmentMtu(tunnelMtus: readonly number[], fallback: number): number {
  return tunnelMtus.length === 0 ? fallback : Math.min(...tunnelMtus);
}
