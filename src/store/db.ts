/**
 * The host's state: one SQLite file under MESHVPC_HOME, opened with
 * better-sqlite3 (synchronous, transactional, well kept; no server to run).
 * WAL lets read-only commands run while another command writes.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from './schema.js';

export type Db = Database.Database;

export function homeDir(): string {
  return process.env.MESHVPC_HOME || '/var/db/meshvpc';
}

export function dbPath(home = homeDir()): string {
  return join(home, 'meshvpc.sqlite');
}

export function openDb(home = homeDir()): Db {
  if (!existsSync(home)) mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = dbPath(home);
  const fresh = !existsSync(path);
  const db = new Database(path);
  if (fresh) chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // Two commands on one host wait for each other instead of failing at once.
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= MIGRATIONS.length) return;
  db.transaction(() => {
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
