import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER_BYTES, headerProblem, newerCause } from '../../src/store/header.js';

const PAGE = 4096;

/** A database header as SQLite writes it: `pages` pages of PAGE bytes, schema version `version`. */
function header(opts: { pages?: number; version?: number; pageSizeField?: number; counterMatches?: boolean } = {}): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('SQLite format 3\0', 0, 'latin1');
  h.writeUInt16BE(opts.pageSizeField ?? PAGE, 16);
  h.writeUInt32BE(7, 24); // file change counter
  h.writeUInt32BE(opts.pages ?? 19, 28);
  h.writeInt32BE(opts.version ?? 2, 60);
  h.writeUInt32BE(opts.counterMatches === false ? 6 : 7, 92); // version-valid-for
  return h;
}

const problem = (head: Buffer, size: number, walSize = 0, known = 2): string | null => headerProblem({ head, size, walSize }, known);

describe('headerProblem', () => {
  test('a whole database of a known schema passes', () => {
    assert.equal(problem(header(), 19 * PAGE), null);
    assert.equal(problem(header({ version: 1 }), 19 * PAGE), null, 'older schemas are migrated, not refused');
  });

  test('an empty file is refused, never taken for a new database', () => {
    assert.equal(problem(Buffer.alloc(0), 0), 'empty file (0 bytes), not a meshvpc database: move it away to start afresh with meshvpc initenv');
  });

  test('random bytes, a short file and a wrong magic are not databases', () => {
    const random = Buffer.from(Array.from({ length: HEADER_BYTES }, (_, i) => (i * 37 + 11) % 256));
    assert.equal(problem(random, 8192), 'not a meshvpc database (file is not a database)');
    assert.equal(problem(header().subarray(0, 50), 50), 'not a meshvpc database (file is not a database)');
    const wrong = header();
    wrong.write('SQLite format 2', 0, 'latin1');
    assert.equal(problem(wrong, 19 * PAGE), 'not a meshvpc database (file is not a database)');
  });

  test('an impossible page size', () => {
    assert.equal(problem(header({ pageSizeField: 1000 }), 19 * PAGE), 'not a meshvpc database (page size 1000 in its header)');
    assert.equal(problem(header({ pageSizeField: 256 }), 19 * PAGE), 'not a meshvpc database (page size 256 in its header)');
    // 1 stands for 65536.
    assert.equal(problem(header({ pageSizeField: 1, pages: 2 }), 2 * 65536), null);
  });

  test('truncated: not a whole number of pages', () => {
    assert.equal(problem(header(), 40000), `corrupt (truncated: 40000 bytes is not a whole number of ${PAGE}-byte pages)`);
  });

  test('truncated: fewer pages than the header says', () => {
    assert.equal(problem(header({ pages: 19 }), 10 * PAGE), `corrupt (truncated: ${10 * PAGE} bytes, its header says ${19 * PAGE})`);
  });

  test('a stale page count (change counter differs) is not trusted', () => {
    assert.equal(problem(header({ pages: 19, counterMatches: false }), 10 * PAGE), null);
  });

  test('with changes in the WAL the main file may lag: sizes are left to SQLite', () => {
    assert.equal(problem(header({ pages: 19 }), 10 * PAGE, 4096 + 32), null);
    assert.equal(problem(header(), 40000, 4128), null);
  });

  test('a newer schema is refused naming both versions, WAL or not', () => {
    assert.equal(problem(header({ version: 3 }), 19 * PAGE), newerCause(3, 2));
    assert.equal(problem(header({ version: 3 }), 19 * PAGE, 4128), newerCause(3, 2));
    assert.match(newerCause(3, 2), /schema version 3; this meshvpc knows up to 2/);
  });
});
