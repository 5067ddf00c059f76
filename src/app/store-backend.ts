/**
 * Which control plane this host's cluster uses: the embedded default (SQLite
 * per host, SSH push) when no cluster was made, or etcd (cluster mode=init
 * backend=etcd), reached with this host's own client certificate.
 */
import { getClusterConfig } from '../store/cluster-config.js';
import type { EtcdClient } from '../store/etcd/client.js';
import type { Host } from './host.js';

/** A client for the cluster's etcd, or null on the embedded backend (which loads nothing more). */
export async function storeClient(host: Host, timeoutMs?: number): Promise<EtcdClient | null> {
  const config = getClusterConfig(host.db);
  return config ? (await import('./cluster.js')).clientFor(config, timeoutMs, host.self.nodename) : null;
}
