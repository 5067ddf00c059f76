import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/core/errors.js';
import { StorageError, errnoCause, isSqliteError, sqliteCause, storageError} from '../../src/store/faults.js';

/** An error shaped like better-sqlite3's SqliteError. */
function sqliteError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { name: 'SqliteError', code });
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, syscall: 'open' });
}

/** A writable database path with plenty of space: the file system explains nothing. */
function withDb(fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'meshvpc-faults-'));
  try {
    const path = join(dir, 'meshvpc.sqlite');
    writeFileSync(path, 'x');
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('StorageError', () => {
  test('one line naming the file and the cause, a UserError with its own exit status', () => {
    const e = new StorageError('/var/db/meshvpc/meshvpc.sqlite', 'disk full');
    assert.equal(e.message, 'database /var/db/meshvpc/meshvpc.sqlite: disk full');
    assert.ok(e instanceof UserError);
    assert.equal(exitStatus(e.kind), 5);
    assert.notEqual(exitStatus('storage'), 2, 'not the bad-input status');
  });
});

describe('sqliteCause', () => {
  test('codes that say the cause themselves', () => {
    withDb((path) => {
      assert.equal(sqliteCause(sqliteError('SQLITE_FULL', 'database or disk is full'), path), 'disk full');
      assert.equal(sqliteCause(sqliteError('SQLITE_NOTADB', 'file is not a database'), path), 'not a meshvpc database (file is not a database)');
      assert.equal(sqliteCause(sqliteError('SQLITE_CORRUPT', 'database disk image is malformed'), path), 'corrupt (database disk image is malformed)');
      assert.equal(sqliteCause(sqliteError('SQLITE_CORRUPT_INDEX', 'database disk image is malformed'), path), 'corrupt (database disk image is malformed)');
      assert.equal(sqliteCause(sqliteError('SQLITE_BUSY', 'database is locked'), path), 'in use by another process (database is locked)');
    });
  });

  test('an I/O error on a healthy, writable file system keeps SQLite words and code', () => {
    withDb((path) => {
      assert.equal(sqliteCause(sqliteError('SQLITE_IOERR_WRITE', 'disk I/O error'), path), 'disk I/O error (SQLITE_IOERR_WRITE)');
      assert.equal(sqliteCause(sqliteError('SQLITE_CANTOPEN', 'unable to open database file'), path), 'unable to open database file (SQLITE_CANTOPEN)');
    });
  });

  test('an I/O error where the directory is gone is explained by the file system', () => {
    assert.equal(sqliteCause(sqliteError('SQLITE_CANTOPEN', 'unable to open database file'), '/nonexistent/meshvpc/meshvpc.sqlite'), 'no such file or directory');
  });

  test('other codes: message and code on one line', () => {
    withDb((path) => {
      assert.equal(sqliteCause(sqliteError('SQLITE_ERROR', 'no such table: self\nmore'), path), 'no such table: self (SQLITE_ERROR)');
    });
  });
});

describe('errnoCause', () => {
  const cases: Array<[string, string]> = [
    ['EROFS', 'read-only file system'],
    ['EACCES', 'permission denied'],
    ['EPERM', 'permission denied'],
    ['ENOSPC', 'disk full'],
    ['EDQUOT', 'disk quota exceeded'],
    ['EISDIR', 'is a directory, not a database file'],
  ];
  for (const [code, words] of cases) {
    test(`${code}: ${words}`, () => assert.equal(errnoCause(errno(code, `${code}: x`)), words));
  }
  test('an unknown errno keeps the first line of its message', () => {
    assert.equal(errnoCause(errno('EWHATEVER', 'EWHATEVER: odd, open\nsecond')), 'EWHATEVER: odd, open');
  });
});

describe('storageError', () => {
  test('SQLite and file-system errors become StorageErrors naming the path', () => {
    const a = storageError(sqliteError('SQLITE_FULL', 'database or disk is full'), '/x/meshvpc.sqlite');
    assert.ok(a instanceof StorageError);
    assert.equal(a.message, 'database /x/meshvpc.sqlite: disk full');
    const b = storageError(errno('EROFS', 'EROFS: read-only file system, open'), '/x/meshvpc.sqlite');
    assert.ok(b instanceof StorageError);
    assert.equal(b.message, 'database /x/meshvpc.sqlite: read-only file system');
  });

  test('other errors pass through unchanged', () => {
    const user = new UserError('invalid vpc_name "x;y"');
    assert.equal(storageError(user, '/x'), user);
    const plain = new Error('boom');
    assert.equal(storageError(plain, '/x'), plain);
    const already = new StorageError('/a', 'disk full');
    assert.equal(storageError(already, '/b'), already);
  });

  test('isSqliteError tells SqliteErrors by their code', () => {
    assert.equal(isSqliteError(sqliteError('SQLITE_FULL', 'x')), true);
    assert.equal(isSqliteError(errno('ENOSPC', 'x')), false);
    assert.equal(isSqliteError(null), false);
    assert.equal(isSqliteError({ code: 'SQLITE_FULL' }), false);
  });
});
