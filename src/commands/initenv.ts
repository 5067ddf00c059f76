/** `meshvpc initenv`: this host's identity and cluster key, made once. */
import { hostname } from 'node:os';
import type { Invocation } from '../cli/args.js';
import { say } from '../cli/output.js';
import * as v from '../core/validate.js';
import { ensureIdentity, fingerprint, keyBlob } from '../cluster/keys.js';
import { openDb, homeDir } from '../store/db.js';
import * as repo from '../store/repo.js';
import { UserError } from '../core/errors.js';
import { checkUnderlayAddress } from '../core/addrules.js';

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  p.only(['nodename', 'nodeip', 'nodeip6'], 'initenv');
  const nodename = v.nodeName(p.get('nodename') ?? hostname().split('.')[0] ?? '', 'nodename');
  const ip4 = p.has('nodeip') && p.get('nodeip') !== '0' ? checkUnderlayAddress(v.ipv4(p.get('nodeip') as string, 'nodeip'), 'nodeip') : null;
  const ip6 = p.has('nodeip6') && p.get('nodeip6') !== '0' ? checkUnderlayAddress(v.ipv6(p.get('nodeip6') as string, 'nodeip6'), 'nodeip6') : null;
  const home = homeDir();
  const db = openDb(home, 'create');
  try {
    const old = repo.getSelf(db);
    if (old && old.nodename !== nodename && repo.listNodes(db).length > 0) {
      throw new UserError(`this host is ${old.nodename} in a cluster; renaming it to ${nodename} would strand its peers`);
    }
    const id = ensureIdentity(home, `meshvpc@${nodename}`);
    db.transaction(() => repo.putSelf(db, { nodename, ip4, ip6 }))();
    say(`${nodename}: ${old ? 'updated' : 'initialised'} in ${home}`);
    say(`  nodeip=${ip4 ?? '-'} nodeip6=${ip6 ?? '-'}`);
    say(`  cluster key ${fingerprint(keyBlob(id.publicKey))}${id.replaced ? ' (new: the old one was malformed and could never authenticate; add this host to its peers again with node mode=add)' : id.created ? ' (new)' : ''}`);
    return 0;
  } finally {
    db.close();
  }
}
