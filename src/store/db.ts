/**
 * The host's state: one SQLite file under MESHVPC_HOME, opened with
 * better-sqlite3 (synchronous, transactional, well kept; no server to run).
 * WAL lets read-only commands run while another command writes.
 *
 * An existing file is checked before it is used and never replaced: only a
 * missing one is created, and only when asked to ('create', for initenv).
 * Every failure is a StorageError naming the file and the cause.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MIGRATIONS } from './schema.js';
import { HEADER_BYTES, headerProblem, newerCause } from './header.js';
import { StorageError, accessCause, isSqliteError, probeCause, storageError } from './faults.js';

export type Db = BetterSqlite3.Database;

/*
 * Loaded with require, not import: importing a CommonJS package from ESM
 * makes Node scan its source for export names first, and better-sqlite3's
 * default loader searches a dozen paths for its addon. Both cost every
 * command ~20 ms on a slow machine; the addon's own path is known.
 */
const require = createRequire(import.meta.url);
const Sqlite = require('better-sqlite3') as typeof BetterSqlite3;
const ADDON_PATH = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
let addon: object | undefined;
const nativeBinding = (): BetterSqlite3.Options => {
  if (addon === undefined && existsSync(ADDON_PATH)) addon = require(ADDON_PATH) as object;
  // The addon object is documented (nativeBinding: string | addon); the types know only the string.
  return addon ? ({ nativeBinding: addon } as unknown as BetterSqlite3.Options) : {};
};
// One name for the constructor below, whichever way the addon was found.
const Database = function (path: string | Buffer, options: BetterSqlite3.Options = {}): Db {
  return new Sqlite(path as string, { ...nativeBinding(), ...options });
} as unknown as new (path: string | Buffer, options?: BetterSqlite3.Options) => Db;

/**
 * read: a listing; works on a read-only state directory and writes nothing.
 * write: a command that changes state; the database must exist.
 * create: as write, but a missing database is made (initenv).
 */
export type Access = 'read' | 'write' | 'create';

/** The newest schema version (user_version) this build knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Tables every meshvpc database has had since the first schema. */
const TABLES = ['self', 'node', 'vpc', 'vpc_member', 'vpc_pair', 'vpc_local', 'jail'];

export function homeDir(): string {
  return process.env.MESHVPC_HOME || '/var/db/meshvpc';
}

export function dbPath(home = homeDir()): string {
  return join(home, 'meshvpc.sqlite');
}

/**
 * The host's database, checked and migrated to this build's schema (except
 * for 'read'). null when there is none and `access` is not 'create'.
 */
export function openDb(home: string, access: 'create'): Db;
export function openDb(home: string, access: Access): Db | null;
export function openDb(home: string, access: Access): Db | null {
  const path = dbPath(home);
  try {
    if (!existsSync(path)) {
      if (access !== 'create') return null;
      create(home, path);
    }
    checkFile(path);
    return access === 'read' ? openForReading(path) : openForWriting(path);
  } catch (e) {
    throw storageError(e, path);
  }
}

/**
 * The file as it is on disk, judged before SQLite may touch it. Read in this
 * order (WAL, header, size) so that another command checkpointing meanwhile
 * can only make the file look larger than its header says, never truncated.
 */
function checkFile(path: string): void {
  const wal = `${path}-wal`;
  const walSize = existsSync(wal) ? statSync(wal).size : 0;
  const head = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(path, 'r');
  let read: number;
  let size: number;
  try {
    read = readSync(fd, head, 0, HEADER_BYTES, 0);
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  const problem = headerProblem({ head: head.subarray(0, read), size, walSize }, SCHEMA_VERSION);
  if (problem) throw new StorageError(path, problem);
}

/**
 * What only SQLite can tell (changes still in the WAL included): schema
 * version, tables, well-formed pages. Returns the schema version.
 */
function checkContent(db: Db, path: string): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new StorageError(path, newerCause(version, SCHEMA_VERSION));
  if (version <= 0) throw new StorageError(path, 'not a meshvpc database (no meshvpc schema in it)');
  const have = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const missing = TABLES.filter((t) => !have.has(t));
  if (missing.length > 0) throw new StorageError(path, `not a meshvpc database (no table ${missing.join(', ')})`);
  // quick_check: every page and record well formed (not the slower index cross-check of integrity_check).
  const verdict = (db.pragma('quick_check(1)') as { quick_check: string }[]).map((r) => r.quick_check);
  if (verdict.join() !== 'ok') {
    // Its first line only says "*** in database main ***"; the next one says what is wrong.
    const what = verdict.join('\n').split('\n').find((l) => !l.startsWith('***')) ?? 'quick_check failed';
    throw new StorageError(path, `corrupt (${what})`);
  }
  return version;
}

function configure(db: Db): void {
  db.pragma('foreign_keys = ON');
  // Two commands on one host wait for each other instead of failing at once.
  db.pragma('busy_timeout = 10000');
}

function openForWriting(path: string): Db {
  // A read-only mount or a permission problem is named now, not as SQLite's "disk I/O error" later.
  const cause = accessCause(path);
  if (cause) throw new StorageError(path, cause);
  const db = new Database(path, { fileMustExist: true });
  try {
    configure(db);
    checkContent(db, path);
    db.pragma('journal_mode = WAL');
    migrate(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * A read-only connection. Reading a WAL database needs its wal-index
 * (PATH-shm), which SQLite creates on first use: on a read-only directory it
 * cannot, and the first query fails with SQLITE_CANTOPEN (on a full disk,
 * SQLITE_IOERR_SHMSIZE). Then, if the WAL holds no changes, the main file
 * alone is the whole database, and a copy of it in memory is read instead.
 * A database of an older schema is upgraded as any command did before, or,
 * where it cannot be written, its copy in memory is.
 */
function openForReading(path: string): Db {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let version: number;
  try {
    configure(db);
    version = checkContent(db, path);
  } catch (e) {
    db.close();
    if (!isSqliteError(e) || !/^SQLITE_(CANTOPEN|IOERR_SHM)/.test(e.code)) throw e;
    const cause = probeCause(path);
    if (!cause) throw e;
    const wal = `${path}-wal`;
    if (existsSync(wal) && statSync(wal).size > 0) {
      throw new StorageError(path, `${cause}, and its write-ahead log ${wal} cannot be read without ${path}-shm`);
    }
    return snapshot(path);
  }
  if (version === SCHEMA_VERSION) return db;
  db.close();
  return accessCause(path) ? snapshot(path) : openForWriting(path);
}

function snapshot(path: string): Db {
  const image = readFileSync(path);
  // Bytes 18 and 19 say "WAL"; in memory there is none, so the copy says rollback journal.
  image[18] = 1;
  image[19] = 1;
  const db = new Database(image);
  try {
    configure(db);
    checkContent(db, path);
    migrate(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * A new database, made under a temporary name and linked into place only
 * when complete: a crash or a full disk never leaves a half-made file at
 * `path` (which the next command would refuse), and link() never replaces a
 * file another process made meanwhile.
 */
function create(home: string, path: string): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const cause = accessCause(path);
  if (cause) throw new StorageError(path, cause);
  const tmp = `${path}.new-${process.pid}`;
  try {
    const db = new Database(tmp);
    try {
      chmodSync(tmp, 0o600);
      db.pragma('journal_mode = WAL');
      migrate(db);
    } finally {
      db.close();
    }
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  }
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= MIGRATIONS.length) return;
  db.transaction(() => {
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
