/**
 * Signed values in the cluster's store. etcd lets any client certificate of
 * the cluster write any key, so a value is believed for its writer only when
 * the writer signed it: the same certificate and key that open this host's
 * connection to etcd sign what it writes, and every reader checks the
 * signature against the cluster's CA and takes the writer's name from the
 * certificate (its CN), never from the value. What the writer may say is then
 * the reader's rule (a host speaks for itself; a VPC is changed only by its
 * members), as on the SSH wire.
 *
 * The signature covers the key (a value cannot be moved to another key) and
 * `prev`, the revision of the key the writer replaced (for a key that was not
 * there, the store's revision when the writer read it), so
 * a reader that applied a definition can refuse an older one written back
 * (a replay).
 *
 *   {"signed":1,"by":NODE,"prev":N,"body":TEXT,"cert":PEM,"sig":BASE64}
 */
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import * as v from '../../core/validate.js';

export interface Opened {
  /** The writer, from its certificate. */
  readonly by: string;
  readonly prev: number;
  readonly body: string;
}

export interface Signer {
  readonly node: string;
  seal(key: string, body: string, prev: number): string;
}

export interface Verifier {
  /** The value's writer and body; throws a UserError saying why it is not believed. */
  open(key: string, raw: string): Opened;
}

const signed = (key: string, prev: number, body: string): Buffer => Buffer.from(JSON.stringify([key, prev, body]), 'utf8');

/** The node a certificate names (CN), only for a client certificate of meshvpc's PKI (OU=client). */
function nodeOf(cert: X509Certificate): string | null {
  const fields = new Map(cert.subject.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  const cn = fields.get('CN');
  if (fields.get('OU') !== 'client' || cn === undefined) return null;
  try {
    return v.nodeName(cn);
  } catch {
    return null;
  }
}

/** This host's signer: its etcd client certificate must name it. */
export function signerOf(node: string, certPem: string | Buffer, keyPem: string | Buffer): Signer {
  const cert = new X509Certificate(certPem);
  const named = nodeOf(cert);
  if (named !== node) throw new UserError(`this host's etcd client certificate names ${named ?? `no meshvpc host (${cert.subject.replace(/\n/g, ', ')})`}, not ${node}: values it writes could not be believed as ${node}'s`, 'conflict');
  const key: KeyObject = createPrivateKey(keyPem);
  const pem = cert.toString();
  return {
    node,
    seal: (k, body, prev) => JSON.stringify({ signed: 1, by: node, prev, body, cert: pem, sig: sign('sha256', signed(k, prev, body), key).toString('base64') }),
  };
}

/** A reader's verifier for the cluster's CA. Certificates it checked once are remembered (by their text). */
export function verifierOf(caPem: string | Buffer): Verifier {
  const ca = new X509Certificate(caPem);
  const known = new Map<string, { node: string; key: KeyObject }>();
  const certOf = (pem: string): { node: string; key: KeyObject } => {
    const hit = known.get(pem);
    if (hit) return hit;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new UserError('its certificate cannot be read');
    }
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw new UserError("its certificate is not the cluster CA's");
    const node = nodeOf(cert);
    if (node === null) throw new UserError('its certificate is not a meshvpc host\'s client certificate');
    const now = Date.now();
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) throw new UserError(`its certificate (${node}) is not valid now`);
    const entry = { node, key: createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })) };
    if (known.size > 1024) known.clear();
    known.set(pem, entry);
    return entry;
  };
  return {
    open(key, raw) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        throw new UserError('not JSON');
      }
      if (o === null || typeof o !== 'object' || o.signed !== 1) throw new UserError('not signed (written by meshvpc 0.5 or by hand)');
      const { by, prev, body, cert, sig } = o;
      if (typeof by !== 'string' || typeof body !== 'string' || typeof cert !== 'string' || typeof sig !== 'string' || typeof prev !== 'number' || !Number.isSafeInteger(prev) || prev < 0) throw new UserError('a signed value of the wrong shape');
      const c = certOf(cert);
      if (c.node !== by) throw new UserError(`it says it is ${v.shown(by)}'s but its certificate is ${c.node}'s`);
      if (!verify('sha256', signed(key, prev, body), c.key, Buffer.from(sig, 'base64'))) throw new UserError(`its signature (${c.node}) does not match`);
      return { by: c.node, prev, body };
    },
  };
}
