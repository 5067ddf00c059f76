/** `token`: API tokens for `meshvpc server`. */
import { atomically } from '../store/tx.js';
import type { TokenRole } from '../core/token.js';
import { checkToken as lookupToken, createToken, listTokens, revokeToken, type TokenRow } from '../store/tokens.js';
import type { Host } from './host.js';

export interface CreatedToken {
  readonly name: string;
  readonly role: TokenRole;
  /** Shown once; only its hash is kept. */
  readonly token: string;
}

export function create(host: Host, input: { readonly name: string; readonly role: TokenRole }): CreatedToken {
  return { name: input.name, role: input.role, token: createToken(host.db, input.name, input.role) };
}

export function list(host: Host): TokenRow[] {
  return listTokens(host.db);
}

export function revoke(host: Host, input: { readonly name: string }): { readonly name: string; readonly revoked: true } {
  atomically(host.db, () => revokeToken(host.db, input.name));
  return { name: input.name, revoked: true };
}

/** The caller a bearer token stands for, or null. */
export function checkToken(host: Host, token: string): { name: string; role: TokenRole } | null {
  return lookupToken(host.db, token);
}
