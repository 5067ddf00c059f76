import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, Params, type Invocation } from '../../src/adapters/cli/args.js';
import { UserError } from '../../src/core/errors.js';

/** The parsed params as a plain object (reading them through get, as commands do). */
const paramsOf = (inv: Invocation): Record<string, string | undefined> =>
  Object.fromEntries(inv.params.keys().map((k) => [k, inv.params.get(k)]));

const parsed = (argv: string[]): { command: string | null; params: Record<string, string | undefined>; rest: readonly string[] } => {
  const inv = parseArgs(argv);
  return { command: inv.command, params: paramsOf(inv), rest: inv.rest };
};

function refused(argv: string[], message: RegExp): void {
  assert.throws(
    () => parseArgs(argv),
    (e: unknown) => e instanceof UserError && message.test(e.message) && !/\n/.test(e.message),
    `${JSON.stringify(argv)} should be refused with ${message}`,
  );
}

describe('parseArgs: key=value', () => {
  test('command then key=value pairs', () => {
    assert.deepEqual(parsed(['vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=10.100.0.0/24']), {
      command: 'vpc',
      params: { mode: 'init', vpc_name: 'vpc1', node_member: 'all', peer_network: '10.100.0.0/24' },
      rest: [],
    });
  });

  test('--key=value is the same as key=value', () => {
    assert.deepEqual(parsed(['vpc', '--mode=init', '--vpc_name=vpc1']), parsed(['vpc', 'mode=init', 'vpc_name=vpc1']));
  });

  test('dashes in keys become underscores', () => {
    assert.deepEqual(parsed(['vpc', '--vpc-name=vpc1', 'node-member=a,b']).params, { vpc_name: 'vpc1', node_member: 'a,b' });
  });

  test('values keep everything after the first "="', () => {
    assert.deepEqual(parsed(['x', 'k=a=b', 'e=', 'sp=a b', 'nl=a\nb', 'q="x"']).params, { k: 'a=b', e: '', sp: 'a b', nl: 'a\nb', q: '"x"' });
  });

  test('no arguments at all', () => {
    assert.deepEqual(parsed([]), { command: null, params: {}, rest: [] });
  });

  test('a command alone', () => {
    assert.deepEqual(parsed(['help']), { command: 'help', params: {}, rest: [] });
  });

  test('keys up to 32 characters', () => {
    const key = `k${'a'.repeat(31)}`;
    assert.deepEqual(parsed(['x', `${key}=1`]).params, { [key]: '1' });
    refused(['x', `${key}a=1`], /invalid argument name/);
  });
});

describe('parseArgs: flags', () => {
  test('a bare --flag means flag=1', () => {
    assert.deepEqual(parsed(['vpc', 'mode=list', '--json']).params, { mode: 'list', json: '1' });
    assert.deepEqual(parsed(['vpc', '--dry-run']).params, { dry_run: '1' });
  });

  test('-h and --help both ask for help', () => {
    assert.deepEqual(parsed(['vpc', '-h']), { command: 'vpc', params: { help: '1' }, rest: [] });
    assert.deepEqual(parsed(['vpc', '--help']), { command: 'vpc', params: { help: '1' }, rest: [] });
    assert.deepEqual(parsed(['-h']), { command: null, params: { help: '1' }, rest: [] });
  });

  test('-h among parameters', () => {
    assert.deepEqual(parsed(['vpc', 'mode=init', '-h']).params, { mode: 'init', help: '1' });
  });
});

describe('parseArgs: refusals', () => {
  test('a key given twice, in any spelling', () => {
    refused(['vpc', 'mode=a', 'mode=b'], /^argument mode given twice$/);
    refused(['vpc', 'mode=a', '--mode=b'], /^argument mode given twice$/);
    refused(['vpc', 'vpc_name=a', '--vpc-name=b'], /^argument vpc_name given twice$/);
    refused(['vpc', '--json', 'json=0'], /^argument json given twice$/);
  });

  const badKeys: Array<[string, string]> = [
    ['Mode=a', 'Mode'],
    ['1x=a', '1x'],
    ['a;b=c', 'a;b'],
    ['$(id)=x', '$(id)'],
    ['a b=c', 'a b'],
    ['-x=1', '-x'],
    ['---x', '-x'],
    ['--X', 'X'],
    ['k.y=1', 'k.y'],
    ['kéy=1', 'kéy'],
  ];
  for (const [tok, name] of badKeys) {
    test(`invalid key ${JSON.stringify(tok)} is refused, naming it`, () => {
      refused(['vpc', tok], new RegExp(`^invalid argument name ${JSON.stringify(name).replace(/[$()[\]\\.*+?^|{}]/g, '\\$&')}: use key=value with a lowercase key$`));
    });
  }

  test('a key with a newline is refused on one line', () => {
    refused(['vpc', 'a\nb=c'], /^invalid argument name "a\\nb"/);
  });
});

describe('parseArgs: rest arguments', () => {
  test('jexec: everything from the first non-parameter is passed through untouched', () => {
    assert.deepEqual(parsed(['jexec', 'jname=j1', 'ip', 'addr', 'add', 'x=y']), {
      command: 'jexec',
      params: { jname: 'j1' },
      rest: ['ip', 'addr', 'add', 'x=y'],
    });
  });

  test('rest keeps flags, -h, duplicates and odd keys that would otherwise be refused', () => {
    assert.deepEqual(parsed(['jexec', 'jname=j1', 'ls', '-h', '--all', 'jname=j2', 'A;B=1', '--']), {
      command: 'jexec',
      params: { jname: 'j1' },
      rest: ['ls', '-h', '--all', 'jname=j2', 'A;B=1', '--'],
    });
  });

  test('"--" ends the parameters and is dropped', () => {
    assert.deepEqual(parsed(['jexec', 'jname=j1', '--', 'x=y', 'z']), { command: 'jexec', params: { jname: 'j1' }, rest: ['x=y', 'z'] });
    assert.deepEqual(parsed(['jexec', '--', 'jname=j1']), { command: 'jexec', params: {}, rest: ['jname=j1'] });
    assert.deepEqual(parsed(['vpc', '--']), { command: 'vpc', params: {}, rest: [] });
  });

  test('a second bare word after the command starts the rest', () => {
    assert.deepEqual(parsed(['vpc', 'list', 'mode=x']), { command: 'vpc', params: {}, rest: ['list', 'mode=x'] });
  });

  test('parameters before any command: the first bare word is rest, not the command', () => {
    assert.deepEqual(parsed(['mode=list', 'vpc']), { command: null, params: { mode: 'list' }, rest: ['vpc'] });
  });

  test('jwhereis NAME: a positional after the command', () => {
    assert.deepEqual(parsed(['jwhereis', 'web1']), { command: 'jwhereis', params: {}, rest: ['web1'] });
  });
});

describe('Params', () => {
  const p = (entries: Record<string, string>): Params => new Params(new Map(Object.entries(entries)));

  test('get / has / keys', () => {
    const params = p({ a: '1', b: '' });
    assert.equal(params.get('a'), '1');
    assert.equal(params.get('b'), '');
    assert.equal(params.get('c'), undefined);
    assert.equal(params.has('b'), true);
    assert.equal(params.has('c'), false);
    assert.deepEqual(params.keys(), ['a', 'b']);
  });

  test('require: present and non-empty, or an error naming the key and a hint', () => {
    const params = p({ a: 'x', b: '' });
    assert.equal(params.require('a', 'hint'), 'x');
    assert.throws(() => params.require('b', 'give it'), (e: unknown) => e instanceof UserError && e.message === 'missing b=: give it');
    assert.throws(() => params.require('c', 'e.g. c=1'), (e: unknown) => e instanceof UserError && e.message === 'missing c=: e.g. c=1');
  });

  test('flag values', () => {
    const params = p({ t1: '1', t2: 'yes', t3: 'true', f1: '0', f2: 'no', f3: 'false' });
    for (const k of ['t1', 't2', 't3']) assert.equal(params.flag(k), true, k);
    for (const k of ['f1', 'f2', 'f3']) assert.equal(params.flag(k), false, k);
    assert.equal(params.flag('absent'), false);
  });

  test('flag refuses anything else, showing the value', () => {
    for (const bad of ['2', 'on', '', 'TRUE', '1;id']) {
      assert.throws(
        () => p({ force: bad }).flag('force'),
        (e: unknown) => e instanceof UserError && e.message === `invalid force ${JSON.stringify(bad)}: use 1 or 0`,
        bad,
      );
    }
  });

  test('a bare --flag reads as true', () => {
    const { params } = parseArgs(['vpc', '--force', '--dryrun=0']);
    assert.equal(params.flag('force'), true);
    assert.equal(params.flag('dryrun'), false);
  });

  test('only: allowed and common keys pass', () => {
    const params = p({ mode: 'list', json: '1', header: '0', display: 'a', help: '1', dryrun: '1', force: '1', platform: 'linux' });
    assert.doesNotThrow(() => params.only(['mode'], 'vpc'));
  });

  test('only: an unknown key is refused with the allowed list', () => {
    const params = p({ mode: 'init', vpc_nmae: 'vpc1' });
    assert.throws(
      () => params.only(['mode', 'vpc_name', 'peer_network'], 'vpc mode=init'),
      (e: unknown) =>
        e instanceof UserError && e.message === 'unknown argument vpc_nmae= for vpc mode=init; allowed: mode, vpc_name, peer_network',
    );
  });

  test('only: end-to-end from parseArgs', () => {
    const { params } = parseArgs(['node', 'mode=add', 'node=192.0.2.2', '--prot=22']);
    assert.throws(() => params.only(['mode', 'node', 'port', 'user'], 'node mode=add'), /unknown argument prot= for node mode=add; allowed: mode, node, port, user/);
  });
});

describe('parseArgs: single-dash options', () => {
  for (const tok of ['-x', '-v', '-', '-json', '-1']) {
    test(`${JSON.stringify(tok)} among parameters is refused, naming it`, () => {
      refused(['vpc', 'mode=list', tok], new RegExp(`^unknown option ${JSON.stringify(tok)}: arguments are key=value or --key=value`));
      refused([tok], /^unknown option/);
    });
  }

  test('-x inside a command line to run is passed through', () => {
    assert.deepEqual(parsed(['jexec', 'jname=j1', 'ls', '-x']).rest, ['ls', '-x']);
  });
});

describe('Params.merge', () => {
  const p = (entries: Record<string, string>): Params => new Params(new Map(Object.entries(entries)));

  test('both sets of keys', () => {
    const merged = p({ a: '1' }).merge(p({ b: '2' })).merge(new Map([['c', '3']]));
    assert.deepEqual(merged.keys(), ['a', 'b', 'c']);
    assert.equal(merged.get('c'), '3');
  });

  test('a key in both is refused', () => {
    assert.throws(() => p({ a: '1' }).merge(p({ a: '2' })), (e: unknown) => e instanceof UserError && e.message === 'argument a given twice');
  });

  test('only: a command that takes no arguments says so', () => {
    assert.throws(() => p({ x: '1' }).only([], 'remote'), (e: unknown) => e instanceof UserError && e.message === 'unknown argument x= for remote; it takes none');
  });
});
