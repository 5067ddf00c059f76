/**
 * The etcd control plane's certificates: one cluster CA, a server and a peer
 * certificate per etcd member (SANs: the member's name and underlay
 * addresses), and a client certificate per meshvpc host (CN: its nodename).
 *
 * Made with the openssl command (argv only, never a shell string) through an
 * Executor, so tests run the real tool and nothing here reads process state.
 * Keys are EC P-256 (etcd and Node both speak it; small and fast to make).
 * Every subject value is checked before it reaches openssl's argv or the
 * extension file: a name with "/" or "," could otherwise add a field.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { runChecked, type Executor } from '../platform/exec.js';

export type CertKind = 'server' | 'peer' | 'client';

/** A certificate and its private key, both PEM. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface Subject {
  /** The CN: a member's or host's nodename. */
  readonly name: string;
  /** IP SANs (server and peer certificates). */
  readonly addresses?: readonly string[];
}

/** Where a host keeps its etcd credentials: $MESHVPC_HOME/etcd/pki, 0700, keys 0600. */
export const pkiDir = (home: string): string => join(home, 'etcd', 'pki');

export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  peerCert: 'peer.crt',
  peerKey: 'peer.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
  /** The cluster's CRL (signed by the CA); etcd members read it on every new TLS connection. */
  crl: 'ca.crl',
  /** The name of the host that holds the CA key (ran cluster mode=init). */
  caHolder: 'ca-holder',
} as const;

/**
 * The CA's openssl `ca` state, only on the host that holds the CA key, next to
 * it (0700): index.txt, crlnumber, and the client certificates issued at init
 * (issued/NODE.crt), so a host's certificate can be revoked by its serial.
 */
export const caStateDir = (home: string): string => join(pkiDir(home), 'ca-state');
const issuedPath = (home: string, name: string): string => join(caStateDir(home), 'issued', `${v.nodeName(name, 'node')}.crt`);

/** A member's server or peer certificate as the CA holder issued it (kept to revoke it when the member is removed). */
const memberIssuedPath = (home: string, name: string, kind: 'server' | 'peer'): string => join(caStateDir(home), 'issued', `${v.nodeName(name, 'node')}.${kind}.crt`);

/** Keep a member's server and peer certificates beside the CA's state (from meshvpc 0.7 on). */
export function recordMemberCerts(home: string, name: string, certs: { readonly server: CertPair; readonly peer: CertPair }): void {
  writePrivate(memberIssuedPath(home, name, 'server'), certs.server.cert);
  writePrivate(memberIssuedPath(home, name, 'peer'), certs.peer.cert);
}

/**
 * Revoke a removed member's server and peer certificates (both also
 * authenticate as clients) and make a new CRL; the serials revoked (none when
 * the CA holder kept no copy: a member made before 0.7).
 */
export async function revokeMemberCerts(exec: Executor, home: string, ca: CertPair, name: string): Promise<{ serials: string[]; crl: string }> {
  const index = readFileSync(join(caStateDir(home), 'index.txt'), 'utf8');
  const serials: string[] = [];
  for (const kind of ['server', 'peer'] as const) {
    const path = memberIssuedPath(home, name, kind);
    if (!existsSync(path)) continue;
    const out = await runChecked(exec, ['openssl', 'x509', '-in', path, '-noout', '-serial']);
    const serial = /^serial=([0-9A-F]+)\s*$/.exec(out)?.[1];
    if (!serial) throw new UserError(`cannot read the serial of ${path}`, 'storage');
    serials.push(serial);
    if (!index.split('\n').some((l) => l.startsWith('R\t') && l.split('\t')[3] === serial)) await withCa(home, ca, (args) => runChecked(exec, ['openssl', 'ca', ...args, '-revoke', path]));
  }
  return { serials, crl: await makeCrl(exec, home, ca) };
}

const CA_DAYS = 3650;
const LEAF_DAYS = 825;

const PEM_CERT = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]{100,20000}\n-----END CERTIFICATE-----\n?$/;
const PEM_CRL = /^-----BEGIN X509 CRL-----\n[A-Za-z0-9+/=\n]{100,200000}\n-----END X509 CRL-----\n?$/;
const PEM_KEY = /^-----BEGIN (EC |)PRIVATE KEY-----\n[A-Za-z0-9+/=\n]{100,20000}\n-----END (EC |)PRIVATE KEY-----\n?$/;

/** A PEM certificate as it may arrive from a peer: one certificate block, base64 only. */
export function pemCert(x: string, what: string): string {
  if (!PEM_CERT.test(x)) throw new UserError(`bad request: ${what} is not one PEM certificate`);
  return x.endsWith('\n') ? x : `${x}\n`;
}

/** A PEM CRL as it may arrive from a peer: one CRL block, base64 only (its signature is checked by crlHere). */
export function pemCrl(x: string, what: string): string {
  if (!PEM_CRL.test(x)) throw new UserError(`bad request: ${what} is not one PEM CRL`);
  return x.endsWith('\n') ? x : `${x}\n`;
}

/** A PEM private key as it may arrive from a peer. */
export function pemKey(x: string, what: string): string {
  if (!PEM_KEY.test(x)) throw new UserError(`bad request: ${what} is not one PEM private key`);
  return x.endsWith('\n') ? x : `${x}\n`;
}

function checkSubject(s: Subject): { name: string; addresses: string[] } {
  return { name: v.nodeName(s.name, 'name'), addresses: (s.addresses ?? []).map((a) => v.address(a, 'address')) };
}

/** A directory only root reads, made if missing; an existing one is tightened. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Write a file readable by its owner only (a key) or by all (a certificate), replacing it atomically. */
export function writePrivate(path: string, content: string, mode = 0o600): void {
  const tmp = `${path}.new-${process.pid}`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  chmodSync(tmp, mode);
  // rename is atomic: a reader sees the old file or the new one, never half of one.
  renameSync(tmp, path);
}

async function newKey(exec: Executor): Promise<string> {
  return runChecked(exec, ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
}

function serial(): string {
  // 127 bits, positive: RFC 5280 wants at most 20 octets and unpredictable serials.
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f;
  return `0x${b.toString('hex')}`;
}

function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'meshvpc-pki-'));
}

/** A new CA: self-signed, for signing certificates only. `id` tells two clusters' CAs apart. */
export async function makeCa(exec: Executor, id: string): Promise<CertPair> {
  if (!/^[A-Za-z0-9-]{1,40}$/.test(id)) throw new UserError(`invalid CA id ${v.shown(id)}`);
  const key = await newKey(exec);
  const dir = workDir();
  try {
    const keyPath = join(dir, 'ca.key');
    writeFileSync(keyPath, key, { mode: 0o600 });
    const cert = await runChecked(exec, [
      'openssl', 'req', '-x509', '-new', '-key', keyPath, '-sha256', '-days', String(CA_DAYS),
      '-subj', `/O=meshvpc/CN=meshvpc etcd CA ${id}`,
      '-set_serial', serial(),
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash',
    ]);
    return { cert, key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The X.509 v3 extensions of a leaf certificate, from checked values only. */
export function leafExtensions(kind: CertKind, s: Subject): string {
  const { name, addresses } = checkSubject(s);
  const usage = kind === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  const sans = kind === 'client' ? [] : [`DNS:${name}`, ...addresses.map((a) => `IP:${a}`)];
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usage}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    '',
  ].join('\n');
}

/**
 * A new key and a certificate for it signed by `ca`: server and peer
 * certificates for an etcd member (both serverAuth and clientAuth: etcd's own
 * gateway and its peers dial with them), a client certificate for a host.
 */
export async function issue(exec: Executor, ca: CertPair, kind: CertKind, s: Subject): Promise<CertPair> {
  const { name } = checkSubject(s);
  if (kind !== 'client' && (s.addresses ?? []).length === 0) throw new UserError(`a ${kind} certificate for ${name} needs at least one address`);
  const key = await newKey(exec);
  const dir = workDir();
  try {
    const p = (f: string): string => join(dir, f);
    writeFileSync(p('ca.crt'), ca.cert);
    writeFileSync(p('ca.key'), ca.key, { mode: 0o600 });
    writeFileSync(p('leaf.key'), key, { mode: 0o600 });
    writeFileSync(p('ext.cnf'), leafExtensions(kind, s));
    const csr = await runChecked(exec, ['openssl', 'req', '-new', '-key', p('leaf.key'), '-subj', `/O=meshvpc/OU=${kind}/CN=${name}`]);
    writeFileSync(p('leaf.csr'), csr);
    const cert = await runChecked(exec, [
      'openssl', 'x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-set_serial', serial(), '-sha256', '-days', String(LEAF_DAYS), '-extfile', p('ext.cnf'),
    ]);
    return { cert, key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The credentials a host keeps: the CA certificate, its client pair, and a member's server and peer pairs. */
export interface HostCredentials {
  readonly ca: string;
  readonly client: CertPair;
  readonly server?: CertPair;
  readonly peer?: CertPair;
  /** Only on the host that made the CA (cluster mode=init). */
  readonly caKey?: string;
  /** The cluster's CRL (members; absent from clusters made before revocation existed). */
  readonly crl?: string;
  /** Who holds the CA key. */
  readonly caHolder?: string;
}

/** Paths of a host's credential files (whether or not they exist). */
export function pkiPaths(home: string): Record<keyof typeof PKI_FILES, string> {
  const dir = pkiDir(home);
  return Object.fromEntries(Object.entries(PKI_FILES).map(([k, f]) => [k, join(dir, f)])) as Record<keyof typeof PKI_FILES, string>;
}

/** Write a host's credentials under $MESHVPC_HOME/etcd/pki (0700), keys 0600, certificates 0644. */
export function storeCredentials(home: string, c: HostCredentials): void {
  privateDir(join(home, 'etcd'));
  privateDir(pkiDir(home));
  const at = pkiPaths(home);
  writePrivate(at.caCert, c.ca, 0o644);
  if (c.caKey) writePrivate(at.caKey, c.caKey);
  writePrivate(at.clientCert, c.client.cert, 0o644);
  writePrivate(at.clientKey, c.client.key);
  if (c.server) {
    writePrivate(at.serverCert, c.server.cert, 0o644);
    writePrivate(at.serverKey, c.server.key);
  }
  if (c.peer) {
    writePrivate(at.peerCert, c.peer.cert, 0o644);
    writePrivate(at.peerKey, c.peer.key);
  }
  if (c.crl) writePrivate(at.crl, c.crl, 0o644);
  if (c.caHolder) writePrivate(at.caHolder, `${v.nodeName(c.caHolder, 'CA holder')}\n`, 0o644);
}

/** The host that holds this cluster's CA key, as this host was told (null: unknown). */
export function caHolder(home: string): string | null {
  const path = pkiPaths(home).caHolder;
  if (!existsSync(path)) return null;
  const name = readFileSync(path, 'utf8').trim();
  return /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(name) ? name : null;
}

/** openssl `ca` wants its database in a configuration file: paths go there only when they are plain. */
function caConfig(home: string): string {
  const dir = caStateDir(home);
  if (!/^[A-Za-z0-9_./-]+$/.test(dir)) throw new UserError(`cannot keep the CA's state in ${v.shown(dir)}: MESHVPC_HOME must be a plain path (letters, digits, _ . / -)`, 'storage');
  return ['[ca]', 'default_ca = meshvpc', '[meshvpc]', `database = ${dir}/index.txt`, `crlnumber = ${dir}/crlnumber`, 'unique_subject = no', ''].join('\n');
}

/**
 * The CA's `openssl ca` state at init (next to the CA key, 0700): an empty
 * index, a CRL number, the client certificates issued (by node name). Returns
 * the first, empty CRL.
 */
export async function initCaState(exec: Executor, home: string, ca: CertPair, clients: ReadonlyMap<string, CertPair>): Promise<string> {
  const dir = caStateDir(home);
  privateDir(join(home, 'etcd'));
  privateDir(pkiDir(home));
  privateDir(dir);
  privateDir(join(dir, 'issued'));
  writePrivate(join(dir, 'index.txt'), '');
  writePrivate(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
  writePrivate(join(dir, 'crlnumber'), '1000\n');
  writePrivate(join(dir, 'openssl.cnf'), caConfig(home));
  for (const [name, pair] of clients) writePrivate(issuedPath(home, name), pair.cert);
  return makeCrl(exec, home, ca);
}

/** Run openssl ca with the CA's state here and its certificate and key in a private temporary directory. */
async function withCa<T>(home: string, ca: CertPair, fn: (args: string[]) => Promise<T>): Promise<T> {
  const dir = workDir();
  try {
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'ca.key'), ca.key, { mode: 0o600 });
    return await fn(['-config', join(caStateDir(home), 'openssl.cnf'), '-cert', join(dir, 'ca.crt'), '-keyfile', join(dir, 'ca.key'), '-md', 'sha256']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new CRL of everything revoked so far, signed by the CA (10 years: nothing re-issues it on a schedule). */
export async function makeCrl(exec: Executor, home: string, ca: CertPair): Promise<string> {
  const dir = workDir();
  try {
    const out = join(dir, 'ca.crl');
    await withCa(home, ca, (args) => runChecked(exec, ['openssl', 'ca', ...args, '-gencrl', '-crldays', String(CA_DAYS), '-out', out]));
    return pemCrl(readFileSync(out, 'utf8'), 'the new CRL');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The stored CA (certificate and key), or null when this host does not hold the key. */
export function storedCaPair(home: string): CertPair | null {
  const at = pkiPaths(home);
  if (!existsSync(at.caKey) || !existsSync(at.caCert) || !existsSync(join(caStateDir(home), 'openssl.cnf'))) return null;
  return { cert: readFileSync(at.caCert, 'utf8'), key: readFileSync(at.caKey, 'utf8') };
}

/** The serial (hex, upper case) of the client certificate issued to `name` at init, or null when none was. */
export async function issuedSerial(exec: Executor, home: string, name: string): Promise<string | null> {
  const path = issuedPath(home, name);
  if (!existsSync(path)) return null;
  const out = await runChecked(exec, ['openssl', 'x509', '-in', path, '-noout', '-serial']);
  const m = /^serial=([0-9A-F]+)\s*$/.exec(out);
  if (!m) throw new UserError(`cannot read the serial of ${path}`, 'storage');
  return m[1] as string;
}

/**
 * Revoke the client certificate issued to `name` (by its serial, in the CA's
 * index) and make a new CRL. A certificate revoked already is not revoked again.
 */
export async function revokeClient(exec: Executor, home: string, ca: CertPair, name: string): Promise<{ serial: string | null; crl: string }> {
  const serial = await issuedSerial(exec, home, name);
  if (serial !== null) {
    const index = readFileSync(join(caStateDir(home), 'index.txt'), 'utf8');
    const already = index.split('\n').some((l) => l.startsWith('R\t') && l.split('\t')[3] === serial);
    if (!already) await withCa(home, ca, (args) => runChecked(exec, ['openssl', 'ca', ...args, '-revoke', issuedPath(home, name)]));
  }
  return { serial, crl: await makeCrl(exec, home, ca) };
}

/** The serials (hex, upper case) a CRL lists. */
export async function crlSerials(exec: Executor, crl: string): Promise<string[]> {
  const dir = workDir();
  try {
    const path = join(dir, 'ca.crl');
    writeFileSync(path, pemCrl(crl, 'CRL'));
    const text = await runChecked(exec, ['openssl', 'crl', '-in', path, '-noout', '-text']);
    return [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1] as string);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Check a CRL as a member receives it: signed by this cluster's CA (`openssl
 * crl -CAfile`), and not older than the one it replaces (its CRL number), so
 * an earlier CRL cannot be replayed to un-revoke a host. Returns its number.
 */
export async function verifyCrl(exec: Executor, caCert: string, crl: string, current: string | null): Promise<bigint> {
  const dir = workDir();
  try {
    const p = (f: string): string => join(dir, f);
    writeFileSync(p('ca.crt'), caCert);
    writeFileSync(p('new.crl'), pemCrl(crl, 'crl'));
    const r = await exec.run(['openssl', 'crl', '-in', p('new.crl'), '-CAfile', p('ca.crt'), '-noout']);
    if (r.code !== 0 || !/verify OK/.test(r.stderr + r.stdout)) throw new UserError('refused: the CRL is not signed by this cluster\'s CA', 'conflict');
    const number = async (path: string): Promise<bigint> => {
      const out = await runChecked(exec, ['openssl', 'crl', '-in', path, '-noout', '-crlnumber']);
      const m = /crlNumber=0x([0-9A-Fa-f]+)/.exec(out);
      return m ? BigInt(`0x${m[1] as string}`) : 0n;
    };
    const n = await number(p('new.crl'));
    if (current !== null) {
      writeFileSync(p('old.crl'), current);
      const old = await number(p('old.crl')).catch(() => 0n);
      if (n < old) throw new UserError(`refused: the CRL is older (number ${n}) than the one this host has (${old})`, 'conflict');
    }
    return n;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The CA this host already trusts for etcd, or null. */
export function storedCa(home: string): string | null {
  const path = pkiPaths(home).caCert;
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

/** Remove a host's etcd credentials (a refused or undone init). */
export function removeCredentials(home: string): void {
  rmSync(pkiDir(home), { recursive: true, force: true });
}
