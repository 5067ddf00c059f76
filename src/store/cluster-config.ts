/**
 * This host's record of the cluster's control plane: which backend, its
 * members and the credential files to reach it. Host-local (each host keeps
 * its own copy, handed to it by cluster mode=init over SSH).
 */
import type { Db } from './db.js';
import type { EtcdMember } from '../cluster/etcd-member.js';

export interface ClusterConfig {
  readonly backend: 'etcd';
  /** meshvpc runs the members (etcd mode=run); false: an existing etcd given by endpoints=. */
  readonly managed: boolean;
  readonly clusterToken: string | null;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly members: readonly EtcdMember[];
}

interface Row {
  backend: 'etcd';
  managed: number;
  cluster_token: string | null;
  ca_file: string;
  cert_file: string;
  key_file: string;
}

const urls = (text: string): string[] => {
  const x = JSON.parse(text) as unknown;
  return Array.isArray(x) ? x.filter((u): u is string => typeof u === 'string') : [];
};

export function getClusterConfig(db: Db): ClusterConfig | null {
  const row = db.prepare('SELECT backend, managed, cluster_token, ca_file, cert_file, key_file FROM cluster_config WHERE id = 1').get() as Row | undefined;
  if (!row) return null;
  const members = (db.prepare('SELECT name, client_urls, peer_urls FROM etcd_member ORDER BY position').all() as { name: string; client_urls: string; peer_urls: string }[]).map(
    (m): EtcdMember => ({ name: m.name, clientUrls: urls(m.client_urls), peerUrls: urls(m.peer_urls) }),
  );
  return { backend: row.backend, managed: row.managed === 1, clusterToken: row.cluster_token, caFile: row.ca_file, certFile: row.cert_file, keyFile: row.key_file, members };
}

/** Replace the whole record (call inside a transaction). */
export function putClusterConfig(db: Db, c: ClusterConfig): void {
  db.prepare('DELETE FROM etcd_member').run();
  db.prepare('DELETE FROM cluster_config').run();
  db.prepare('INSERT INTO cluster_config (id, backend, managed, cluster_token, ca_file, cert_file, key_file) VALUES (1, ?, ?, ?, ?, ?, ?)').run(c.backend, c.managed ? 1 : 0, c.clusterToken, c.caFile, c.certFile, c.keyFile);
  const ins = db.prepare('INSERT INTO etcd_member (name, position, client_urls, peer_urls) VALUES (?, ?, ?, ?)');
  c.members.forEach((m, i) => ins.run(m.name, i, JSON.stringify(m.clientUrls), JSON.stringify(m.peerUrls)));
}
