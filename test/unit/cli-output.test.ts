import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseDisplay, printRows, renderTable, say, type Record_ } from '../../src/adapters/cli/output.js';
import { parseArgs, type Params } from '../../src/adapters/cli/args.js';
import { UserError } from '../../src/core/errors.js';

/** Run `fn` with process.stdout.write captured; returns what it wrote. */
function capture(fn: () => void): string {
  const original = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = original;
  }
  return out;
}

const params = (...args: string[]): Params => parseArgs(['vpc', ...args]).params;

const ROWS: Record_[] = [
  { name: 'vpc1', vni: 100, members: 'h1,h2,h3', mtu: 1450, up: true },
  { name: 'longer_vpc', vni: 16777215, members: 'h1', mtu: null, up: false },
];
const COLUMNS = ['name', 'vni', 'members'];

describe('renderTable', () => {
  test('aligned columns separated by two spaces, upper-case header', () => {
    assert.equal(
      renderTable(ROWS, COLUMNS, true),
      ['NAME        VNI       MEMBERS', 'vpc1        100       h1,h2,h3', 'longer_vpc  16777215  h1'].join('\n'),
    );
  });

  test('without header the widths come from the rows only', () => {
    assert.equal(renderTable(ROWS, ['vni', 'name'], false), ['100       vpc1', '16777215  longer_vpc'].join('\n'));
    assert.equal(renderTable([{ a: 'x', b: 'y' }], ['a', 'b'], false), 'x  y');
  });

  test('a header wider than every value sets the width', () => {
    assert.equal(renderTable([{ address: '1', b: 'z' }], ['address', 'b'], true), ['ADDRESS  B', '1        z'].join('\n'));
  });

  test('null, missing, numbers and booleans', () => {
    assert.equal(renderTable(ROWS, ['name', 'mtu', 'up', 'nosuch'], true), ['NAME        MTU   UP     NOSUCH', 'vpc1        1450  true   -', 'longer_vpc  -     false  -'].join('\n'));
  });

  test('no trailing spaces on any line', () => {
    const text = renderTable([{ a: 'long value', b: '' }, { a: 'x', b: '' }], ['a', 'b'], true);
    for (const line of text.split('\n')) assert.equal(line, line.trimEnd());
  });

  test('no rows: just the header, or nothing', () => {
    assert.equal(renderTable([], COLUMNS, true), 'NAME  VNI  MEMBERS');
    assert.equal(renderTable([], COLUMNS, false), '');
  });

  test('every line of an aligned table starts each column at the same offset', () => {
    const text = renderTable(ROWS, COLUMNS, true);
    const lines = text.split('\n');
    const starts = (l: string): number[] => [...l.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => (m.index ?? 0) + m[0].length - 1);
    for (const l of lines) assert.deepEqual(starts(l), starts(lines[0] as string), l);
  });
});

describe('printRows', () => {
  test('default: the given columns as a table with a header', () => {
    const out = capture(() => printRows(params(), ROWS, COLUMNS));
    assert.equal(out, `${renderTable(ROWS, COLUMNS, true)}\n`);
  });

  test('header=0 drops the heading', () => {
    const out = capture(() => printRows(params('header=0'), ROWS, COLUMNS));
    assert.equal(out, 'vpc1        100       h1,h2,h3\nlonger_vpc  16777215  h1\n');
  });

  test('header=1 keeps it', () => {
    const out = capture(() => printRows(params('header=1'), ROWS, COLUMNS));
    assert.match(out, /^NAME {8}VNI/);
  });

  test('display= chooses and orders columns, including ones outside the default set', () => {
    const out = capture(() => printRows(params('display=mtu,name'), ROWS, COLUMNS));
    assert.equal(out, 'MTU   NAME\n1450  vpc1\n-     longer_vpc\n');
  });

  test('display= tolerates spaces around names', () => {
    const out = capture(() => printRows(params('display= vni , name'), ROWS, COLUMNS));
    assert.equal(out, 'VNI       NAME\n100       vpc1\n16777215  longer_vpc\n');
  });

  test('an unknown display column is refused, listing the available ones, and prints nothing', () => {
    let out = '';
    assert.throws(
      () => {
        out = capture(() => printRows(params('display=name,bogus'), ROWS, COLUMNS));
      },
      (e: unknown) => e instanceof UserError && e.message === 'invalid display column "bogus"; available: name, vni, members, mtu, up',
    );
    assert.equal(out, '');
  });

  test('--json: an array of objects with the default columns, missing values as null', () => {
    const out = capture(() => printRows(params('--json'), ROWS, ['name', 'mtu', 'members']));
    assert.ok(out.endsWith('\n'));
    assert.deepEqual(JSON.parse(out), [
      { name: 'vpc1', mtu: 1450, members: 'h1,h2,h3' },
      { name: 'longer_vpc', mtu: null, members: 'h1' },
    ]);
  });

  test('json=1 with display= picks those columns, in that order, keeping types', () => {
    const out = capture(() => printRows(params('json=1', 'display=up,vni'), ROWS, COLUMNS));
    const parsed = JSON.parse(out) as unknown[];
    assert.deepEqual(parsed, [
      { up: true, vni: 100 },
      { up: false, vni: 16777215 },
    ]);
    assert.deepEqual(Object.keys(parsed[0] as object), ['up', 'vni']);
  });

  test('json=0 prints a table', () => {
    const out = capture(() => printRows(params('json=0'), ROWS, COLUMNS));
    assert.match(out, /^NAME/);
  });

  test('--json with no rows is an empty array, not nothing', () => {
    assert.deepEqual(JSON.parse(capture(() => printRows(params('--json'), [], COLUMNS))), []);
  });

  test('a table with no rows and no header prints nothing at all', () => {
    assert.equal(capture(() => printRows(params('header=0'), [], COLUMNS)), '');
    assert.equal(capture(() => printRows(params(), [], COLUMNS)), 'NAME  VNI  MEMBERS\n');
  });

  test('header= takes 1 or 0 only', () => {
    assert.throws(() => capture(() => printRows(params('header=x'), ROWS, COLUMNS)), (e: unknown) => e instanceof UserError && e.message === 'invalid header "x": use 1 or 0');
    assert.throws(() => capture(() => printRows(params('header='), ROWS, COLUMNS)), /invalid header "": use 1 or 0/);
  });

  test('display= empty, or naming a column twice, is refused', () => {
    assert.throws(() => capture(() => printRows(params('display='), ROWS, COLUMNS)), /^UserError: empty display=: name the columns, e\.g\. display=name,vni; available: name, vni, members, mtu, up$/);
    assert.throws(() => capture(() => printRows(params('display=vni,vni'), ROWS, COLUMNS)), /display column "vni" given twice/);
  });

  test('with no rows, display= is still checked against the columns', () => {
    assert.throws(() => capture(() => printRows(params('display=bogus'), [], COLUMNS)), /invalid display column "bogus"; available: name, vni, members$/);
  });

  test("the listing's other columns (set by options.ts) may be chosen though no row has them", () => {
    const p = params('display=name,hostkey');
    p.listingColumns = [...COLUMNS, 'hostkey'];
    assert.equal(capture(() => printRows(p, [], COLUMNS)), 'NAME  HOSTKEY\n');
    assert.equal(capture(() => printRows(p, [{ name: 'a' }], COLUMNS)), 'NAME  HOSTKEY\na     -\n');
  });

  test('a bad json= value is refused', () => {
    assert.throws(() => capture(() => printRows(params('json=maybe'), ROWS, COLUMNS)), /invalid json "maybe": use 1 or 0/);
  });

  test('values are printed as given, never interpreted', () => {
    const out = capture(() => printRows(params('header=0'), [{ v: '$(id) `x` %s\\n' }], ['v']));
    assert.equal(out, '$(id) `x` %s\\n\n');
  });
});

describe('say', () => {
  test('one line to stdout', () => {
    assert.equal(capture(() => say('vpc1: done')), 'vpc1: done\n');
  });
});

describe('parseDisplay', () => {
  test('names in the order given, spaces trimmed', () => {
    assert.deepEqual(parseDisplay(' b , a', ['a', 'b', 'c']), ['b', 'a']);
  });

  test('refusals name the value and the columns available', () => {
    assert.throws(() => parseDisplay('', ['a', 'b']), (e: unknown) => e instanceof UserError && e.message === 'empty display=: name the columns, e.g. display=a,b; available: a, b');
    assert.throws(() => parseDisplay('a,,b', ['a', 'b']), (e: unknown) => e instanceof UserError && e.message === 'invalid display column ""; available: a, b');
    assert.throws(() => parseDisplay('a;id', ['a', 'b']), (e: unknown) => e instanceof UserError && e.message === 'invalid display column "a;id"; available: a, b');
    assert.throws(() => parseDisplay('b,a,b', ['a', 'b']), (e: unknown) => e instanceof UserError && e.message === 'display column "b" given twice');
  });
});
