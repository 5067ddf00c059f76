/**
 * An etcd member as meshvpc runs it: its URLs (from the member's underlay
 * addresses) and the etcd command line (argv, never a shell string), TLS with
 * client certificates on both the client and the peer side.
 */
import { join } from 'node:path';
import * as v from '../core/validate.js';
import { UserError } from '../core/errors.js';
import { pkiPaths } from './pki.js';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

/** A member as the cluster configuration holds it. */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrls: readonly string[];
  readonly peerUrls: readonly string[];
}

const hostPart = (addr: string): string => (addr.includes(':') ? `[${addr}]` : addr);

/** A member on these underlay addresses (IPv4 first), on etcd's usual ports unless told otherwise. */
export function memberAt(name: string, addresses: readonly string[], ports: { client?: number; peer?: number } = {}): EtcdMember {
  const n = v.nodeName(name, 'etcd member');
  const addrs = addresses.map((a) => v.address(a, `address of ${n}`)).sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
  if (addrs.length === 0) throw new UserError(`etcd member ${n} has no underlay address: run meshvpc initenv with nodeip= or nodeip6= on it`);
  const client = ports.client ?? CLIENT_PORT;
  const peer = ports.peer ?? PEER_PORT;
  return { name: n, clientUrls: addrs.map((a) => `https://${hostPart(a)}:${client}`), peerUrls: addrs.map((a) => `https://${hostPart(a)}:${peer}`) };
}

/** The addresses in a member's URLs (the SANs its certificates need). */
export function memberAddresses(m: EtcdMember): string[] {
  const out = new Set<string>();
  for (const u of [...m.clientUrls, ...m.peerUrls]) out.add(new URL(u).hostname.replace(/^\[|\]$/g, ''));
  return [...out];
}

export const etcdDataDir = (home: string): string => join(home, 'etcd', 'data');

/** Present while this host is a member added to a running cluster: its etcd joins it (--initial-cluster-state existing). */
export const joiningMarker = (home: string): string => join(home, 'etcd', 'joining');

export interface EtcdRunSpec {
  readonly home: string;
  readonly self: EtcdMember;
  readonly members: readonly EtcdMember[];
  /** Tells this cluster's members from another's (etcd refuses a peer with another token). */
  readonly clusterToken: string;
  /** 'new' the first time the member starts; etcd ignores it once its data dir holds a cluster. */
  readonly state?: 'new' | 'existing';
  readonly binary?: string;
  /** Start with the cluster's CRL (pki ca.crl) for client and peer certificates. */
  readonly crl?: boolean;
}

/** The etcd command line for this host's member. */
export function etcdArgv(s: EtcdRunSpec): string[] {
  if (!s.members.some((m) => m.name === s.self.name)) throw new UserError(`${s.self.name} is not one of the etcd members (${s.members.map((m) => m.name).join(', ')})`);
  if (!/^[A-Za-z0-9-]{1,64}$/.test(s.clusterToken)) throw new UserError(`invalid etcd cluster token ${v.shown(s.clusterToken)}`);
  const pki = pkiPaths(s.home);
  const initial = s.members.flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u}`)).join(',');
  return [
    s.binary ?? 'etcd',
    '--name', s.self.name,
    '--data-dir', etcdDataDir(s.home),
    '--listen-client-urls', s.self.clientUrls.join(','),
    '--advertise-client-urls', s.self.clientUrls.join(','),
    '--listen-peer-urls', s.self.peerUrls.join(','),
    '--initial-advertise-peer-urls', s.self.peerUrls.join(','),
    '--initial-cluster', initial,
    '--initial-cluster-token', s.clusterToken,
    '--initial-cluster-state', s.state ?? 'new',
    '--client-cert-auth',
    '--trusted-ca-file', pki.caCert,
    '--cert-file', pki.serverCert,
    '--key-file', pki.serverKey,
    '--peer-client-cert-auth',
    '--peer-trusted-ca-file', pki.caCert,
    '--peer-cert-file', pki.peerCert,
    '--peer-key-file', pki.peerKey,
    // Read again on every new TLS connection (docs/etcd.md, revocation).
    ...(s.crl ? ['--client-crl-file', pki.crl, '--peer-crl-file', pki.crl] : []),
    // etcd 3.4 only logs the v2 API's deprecation otherwise; meshvpc speaks v3.
    '--enable-v2=false',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
}
