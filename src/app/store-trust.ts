/**
 * What this host believes of a VPC's definition read from the store
 * (backend=etcd): the writer, named by its signature's certificate, must be
 * allowed to say it, by the same rule as a definition arriving over SSH
 * (core/authority.ts): a VPC this host holds is changed only by one of its
 * members as this host knows them; a VPC it does not hold, only by a member
 * of the definition, which must include this host.
 */
import { checkVpcChange } from '../core/authority.js';
import { UserError } from '../core/errors.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import type { StoredDefinition } from './store-definitions.js';

export function trustDefinition(host: Host, name: string, d: StoredDefinition): void {
  try {
    checkVpcChange({ kind: 'member', node: d.by }, host.self.nodename, repo.getVpc(host.db, name), d.kind === 'destroyed' ? null : d.vpc, d.kind === 'vpc' ? 'change' : d.kind === 'collapsed' ? 'collapse' : 'destroy');
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError(`the definition of ${name} in the store is not believed: ${d.by} wrote it, and ${e.message.replace(/^refused: /, '')}`, 'conflict');
  }
}

/** A trust for writers: what they build on must be believed by this host. */
export const trustedBy = (host: Host, name: string) => (d: StoredDefinition): void => trustDefinition(host, name, d);
