/** `initenv`: this host's identity and cluster key, made once. */
import { atomically } from '../store/tx.js';
import { ensureIdentity, fingerprint, keyBlob } from '../cluster/keys.js';
import { openDb } from '../store/db.js';
import * as repo from '../store/repo.js';
import { UserError } from '../core/errors.js';
import { checkUnderlayAddress } from '../core/addrules.js';
import { ensureWgKey } from '../cluster/wg-keys.js';
import { DEFAULT_WG_PORT } from '../core/seal.js';

export interface InitenvInput {
  readonly nodename: string;
  readonly nodeip?: string | null;
  readonly nodeip6?: string | null;
  readonly wg_port?: number;
}

export interface InitenvResult {
  readonly nodename: string;
  readonly home: string;
  /** There was an identity here before. */
  readonly updated: boolean;
  readonly ip4: string | null;
  readonly ip6: string | null;
  readonly key: string;
  /** new: made now; replaced: the old one was malformed and could never authenticate. */
  readonly keyState: 'kept' | 'new' | 'replaced';
  /** The WireGuard public key and port (encrypt=wireguard). */
  readonly wgKey: string;
  readonly wgPort: number;
  readonly wgKeyNew: boolean;
}

export function initenv(home: string, input: InitenvInput): InitenvResult {
  const { nodename } = input;
  const ip4 = input.nodeip ? checkUnderlayAddress(input.nodeip, 'nodeip') : null;
  const ip6 = input.nodeip6 ? checkUnderlayAddress(input.nodeip6, 'nodeip6') : null;
  const db = openDb(home, 'create');
  try {
    const old = repo.getSelf(db);
    if (old && old.nodename !== nodename && repo.listNodes(db).length > 0) {
      throw new UserError(`this host is ${old.nodename} in a cluster; renaming it to ${nodename} would strand its peers`);
    }
    const id = ensureIdentity(home, `meshvpc@${nodename}`);
    const wg = ensureWgKey(home);
    atomically(db, () => {
      repo.putSelf(db, { nodename, ip4, ip6 });
      if (input.wg_port !== undefined) repo.putSelfWgPort(db, input.wg_port);
    });
    const wgPort = repo.getSelfWgPort(db) ?? DEFAULT_WG_PORT;
    return { nodename, home, updated: old !== null, ip4, ip6, key: fingerprint(keyBlob(id.publicKey)), keyState: id.replaced ? 'replaced' : id.created ? 'new' : 'kept', wgKey: wg.publicKey, wgPort, wgKeyNew: wg.created };
  } finally {
    db.close();
  }
}
