/** `node mode=list`: the known hosts, from the database alone (no SSH loaded). */
import { fingerprint } from '../cluster/keys.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';

export interface NodeRow {
  readonly name: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  readonly ssh: string;
  readonly platform: string;
  readonly hostkey: string;
}

export function list(host: Host): NodeRow[] {
  return repo.listNodes(host.db).map((n) => ({
    name: n.name,
    ip4: n.ip4,
    ip6: n.ip6,
    ssh: `${n.sshUser}@${n.sshAddress.includes(':') ? `[${n.sshAddress}]` : n.sshAddress}:${n.sshPort}`,
    platform: n.platform,
    hostkey: fingerprint(n.hostKey),
  }));
}
