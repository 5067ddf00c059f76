/**
 * `node mode=show`: one known host as this host knows it (addresses, SSH
 * endpoint, pinned key, the VPCs it is in) and as it answers now (reachable,
 * its version and platform, its containers). Every answer is checked.
 */
import { fingerprint } from '../cluster/keys.js';
import { Peers } from '../cluster/peers.js';
import { helloIdentity, jailsFromWire } from '../cluster/wire.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { findKnown } from './node.js';

export interface NodeShow {
  readonly name: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  readonly ssh: string;
  readonly hostkey: string;
  /** As recorded when it was added. */
  readonly platform: string;
  /** The VPCs it is a member of here, with the underlay address they reach it at. */
  readonly vpcs: readonly { readonly vpc: string; readonly underlay: string }[];
  readonly reachable: boolean;
  /** Why not, when it is not. */
  readonly error: string | null;
  /** What it says now (null when unreachable). */
  readonly version: string | null;
  readonly containers: readonly { readonly jname: string; readonly interface: string; readonly status: 'On' | 'Off' }[];
}

export async function show(host: Host, input: { readonly node: string }): Promise<NodeShow> {
  const n = findKnown(host, input.node);
  const vpcs = repo.listVpcs(host.db).flatMap((x) => x.members.filter((m) => m.node === n.name).map((m) => ({ vpc: x.name, underlay: m.underlay })));
  const base = {
    name: n.name,
    ip4: n.ip4,
    ip6: n.ip6,
    ssh: `${n.sshUser}@${n.sshAddress.includes(':') ? `[${n.sshAddress}]` : n.sshAddress}:${n.sshPort}`,
    hostkey: fingerprint(n.hostKey),
    platform: n.platform,
    vpcs,
  };
  const peers = new Peers(host.home);
  try {
    const hello = helloIdentity(await peers.call<unknown>(n, { op: 'hello' }), n.name);
    const jails = jailsFromWire(await peers.call<unknown>(n, { op: 'jail_list' }), n.name);
    return {
      ...base,
      platform: hello.platform,
      reachable: true,
      error: null,
      version: hello.version,
      containers: jails.map((j) => ({ jname: j.name, interface: j.interface, status: j.running ? 'On' : 'Off' })),
    };
  } catch (e) {
    return { ...base, reachable: false, error: (e as Error).message.split('\n')[0] ?? 'unreachable', version: null, containers: [] };
  } finally {
    peers.close();
  }
}
