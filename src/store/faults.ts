/**
 * Storage faults as one line naming the database file and the cause:
 * `database /var/db/meshvpc/meshvpc.sqlite: disk full`. SQLite's own messages
 * ("disk I/O error", "unable to open database file") name neither, and its
 * error codes hide the errno, so for those the file system is asked directly.
 * No better-sqlite3 import: main.ts uses this on its error path.
 */
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../core/errors.js';

/**
 * Below this much free space an I/O error is taken to be a full disk: SQLite
 * reports a full disk as SQLITE_FULL only for the database and its WAL, while
 * growing the 32 KiB wal-index (-shm) fails as a plain I/O error.
 */
const NEARLY_FULL_BYTES = 64 * 1024;

export class StorageError extends UserError {
  constructor(
    readonly path: string,
    readonly reason: string,
    /** The error SQLite or the file system raised, for MESHVPC_DEBUG. */
    readonly original?: unknown,
  ) {
    super(`database ${path}: ${reason}`, 'storage');
    this.name = 'StorageError';
  }
}

/** An error thrown by better-sqlite3 (its SqliteError), told apart without loading the addon. */
export function isSqliteError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_');
}

const ERRNO: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EIO: 'I/O error',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent is not a directory',
  EEXIST: 'a file is in the way of its directory',
  EISDIR: 'is a directory, not a database file',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
};

/** The cause of a failed file-system call, in words. */
export function errnoCause(e: NodeJS.ErrnoException): string {
  return (e.code && ERRNO[e.code]) ?? e.message.split('\n')[0] ?? String(e);
}

/**
 * What stops the database at `path` from being opened for writing, asked of
 * the file system: a read-only mount or a missing permission on the directory
 * (where SQLite makes its -wal and -shm files) or on the file. null if neither.
 */
export function accessCause(path: string): string | null {
  const dir = dirname(path);
  for (const [target, mode] of [
    [dir, constants.W_OK],
    [path, constants.R_OK | constants.W_OK],
  ] as const) {
    if (target === path && !existsSync(path)) continue;
    try {
      accessSync(target, mode);
    } catch (e) {
      return errnoCause(e as NodeJS.ErrnoException);
    }
  }
  return null;
}

/**
 * Why SQLite failed to open, read or write the database at `path`, when its
 * error code does not say: accessCause, else a (nearly) full disk. Only used
 * after a failure, so little free space is taken as the cause.
 */
export function probeCause(path: string): string | null {
  const cause = accessCause(path);
  if (cause) return cause;
  try {
    const fs = statfsSync(dirname(path));
    // Root may use the blocks reserved for it, so for root bfree is what is left.
    const blocks = process.getuid?.() === 0 ? fs.bfree : fs.bavail;
    if (blocks * fs.bsize < NEARLY_FULL_BYTES) return 'disk full';
  } catch {
    // No statfs answer: nothing more to tell.
  }
  return null;
}

/** The one-line cause of an error SQLite raised on the database at `path`. */
export function sqliteCause(e: Error & { code: string }, path: string): string {
  const code = e.code;
  const message = e.message.split('\n')[0] ?? code;
  if (code === 'SQLITE_FULL') return 'disk full';
  if (code === 'SQLITE_NOTADB') return `not a meshvpc database (${message})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `corrupt (${message})`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return `in use by another process (${message})`;
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_PERM') {
    return probeCause(path) ?? `${message} (${code})`;
  }
  return `${message} (${code})`;
}

/** Any error met while using the database at `path`, as a StorageError (others are passed through). */
export function storageError(e: unknown, path: string): unknown {
  if (e instanceof StorageError) return e;
  if (isSqliteError(e)) return new StorageError(path, sqliteCause(e, path), e);
  const errno = e as NodeJS.ErrnoException;
  if (e instanceof Error && typeof errno.code === 'string' && typeof errno.syscall === 'string') return new StorageError(path, errnoCause(errno), e);
  return e;
}
