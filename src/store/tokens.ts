/**
 * API tokens in the host's database. A token is 32 random bytes; only its
 * SHA-256 is stored, so the database never holds a usable secret. (A slow
 * password hash buys nothing for a 256-bit random value.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.js';
import type { TokenRole } from '../core/token.js';
import type { Db } from './db.js';

export interface TokenRow {
  readonly name: string;
  readonly role: TokenRole;
  readonly created: string;
  readonly last_used: string | null;
}

/** Tokens carry a recognisable prefix so a leaked one is easy to grep for. */
const PREFIX = 'mvpc_';

export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

export function createToken(db: Db, name: string, role: TokenRole): string {
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  db.transaction(() => {
    if (db.prepare('SELECT 1 FROM api_token WHERE name = ?').get(name)) throw new UserError(`a token named ${name} already exists (meshvpc token mode=list); revoke it first or choose another name`, 'conflict');
    db.prepare('INSERT INTO api_token (name, role, hash) VALUES (?, ?, ?)').run(name, role, tokenHash(token));
  }).immediate();
  return token;
}

export function listTokens(db: Db): TokenRow[] {
  return db.prepare('SELECT name, role, created_at AS created, last_used FROM api_token ORDER BY name').all() as TokenRow[];
}

export function revokeToken(db: Db, name: string): void {
  const r = db.prepare('DELETE FROM api_token WHERE name = ?').run(name);
  if (r.changes === 0) throw new UserError(`no token named ${name} (meshvpc token mode=list)`, 'not_found');
}

/** The token's name and role, or null; a hit records when it was last used. */
export function checkToken(db: Db, token: string): { name: string; role: TokenRole } | null {
  if (!token.startsWith(PREFIX) || token.length > 100) return null;
  const row = db.prepare('SELECT name, role FROM api_token WHERE hash = ?').get(tokenHash(token)) as { name: string; role: TokenRole } | undefined;
  if (!row) return null;
  // At most one write a minute per token: checking is on every request's path.
  db.prepare("UPDATE api_token SET last_used = datetime('now') WHERE name = ? AND (last_used IS NULL OR last_used < datetime('now', '-60 seconds'))").run(row.name);
  return row;
}
