/** Connections to peers that outlive one operation: for a long-lived process (the server). */
import { Peers } from '../cluster/peers.js';
import type { Host } from './host.js';

export const peerPool = (host: Host, idleMs: number): Peers => new Peers(host.home, { idleMs });
