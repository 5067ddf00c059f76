/**
 * A look at a database file's 100-byte header before SQLite opens it. SQLite
 * takes an empty file for a new database and writes to it, and refuses other
 * bad files only at the first query; checking here first means a file that is
 * not a meshvpc database (empty, random bytes, truncated, from a newer
 * meshvpc) is refused without SQLite ever touching it.
 * Layout: https://www.sqlite.org/fileformat2.html#the_database_header
 */

export const HEADER_BYTES = 100;
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export interface FileFacts {
  /** The file's first bytes (up to HEADER_BYTES). */
  readonly head: Buffer;
  /** The file's size in bytes. */
  readonly size: number;
  /** The size of its write-ahead log (PATH-wal), 0 when there is none. */
  readonly walSize: number;
}

/** The message for a database made by a newer meshvpc, shared with the check SQLite makes after opening. */
export function newerCause(found: number, known: number): string {
  return `made by a newer meshvpc (schema version ${found}; this meshvpc knows up to ${known}): use that meshvpc or a newer one`;
}

/**
 * Why the file cannot be a meshvpc database this build can use, or null.
 * `known` is the newest schema version (user_version) this build knows.
 */
export function headerProblem(f: FileFacts, known: number): string | null {
  if (f.size === 0) return 'empty file (0 bytes), not a meshvpc database: move it away to start afresh with meshvpc initenv';
  if (f.size < HEADER_BYTES || f.head.length < HEADER_BYTES || !f.head.subarray(0, MAGIC.length).equals(MAGIC)) {
    return 'not a meshvpc database (file is not a database)';
  }
  const raw = f.head.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `not a meshvpc database (page size ${raw} in its header)`;
  // With changes still in the WAL the main file may lag behind: SQLite, which reads both, judges those.
  if (f.walSize === 0) {
    if (f.size % pageSize !== 0) return `corrupt (truncated: ${f.size} bytes is not a whole number of ${pageSize}-byte pages)`;
    const pages = f.head.readUInt32BE(28);
    const pagesValid = pages > 0 && f.head.readUInt32BE(24) === f.head.readUInt32BE(92);
    if (pagesValid && pages * pageSize > f.size) return `corrupt (truncated: ${f.size} bytes, its header says ${pages * pageSize})`;
  }
  // A WAL only ever holds newer changes: a main file already too new stays too new.
  const version = f.head.readInt32BE(60);
  if (version > known) return newerCause(version, known);
  return null;
}
