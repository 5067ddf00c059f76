import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { parseArgs } from '../../src/adapters/cli/args.js';
import { checkPositionals } from '../../src/adapters/cli/positionals.js';
import { UserError } from '../../src/core/errors.js';

/** checkPositionals after parseArgs, as main runs them: the parameters as an object and the rest. */
function checked(argv: string[]): { params: Record<string, string | undefined>; rest: readonly string[] } {
  const inv = checkPositionals(parseArgs(argv));
  return { params: Object.fromEntries(inv.params.keys().map((k) => [k, inv.params.get(k)])), rest: inv.rest };
}

function refused(argv: string[], message: string | RegExp): void {
  assert.throws(
    () => checked(argv),
    (e: unknown) => e instanceof UserError && exitStatus(e.kind) === 2 && !e.message.includes('\n') && (typeof message === 'string' ? e.message === message : message.test(e.message)),
    `${argv.join(' ')} should be refused with ${String(message)}`,
  );
}

describe('checkPositionals: commands that take no bare words', () => {
  test('a stray word is refused, naming it, the mode and the usage', () => {
    refused(['vpc', 'mode=list', 'extra'], 'unexpected argument "extra" for vpc mode=list; usage: meshvpc vpc mode=MODE vpc_name=NAME ...');
    refused(['node', 'mode=list', 'x', 'y'], /^unexpected argument "x" for node mode=list; usage: /);
    refused(['initenv', 'host1'], /^unexpected argument "host1" for initenv; usage: meshvpc initenv nodename=NAME/);
    refused(['jls', 'all'], /^unexpected argument "all" for jls;/);
    refused(['remote', 'x'], /^unexpected argument "x" for remote;/);
    refused(['version', 'x'], /^unexpected argument "x" for version;/);
  });

  test('a shared flag typed without dashes gets a hint', () => {
    refused(['vpc', 'mode=list', 'json'], 'unexpected argument "json" for vpc mode=list (did you mean --json?); usage: meshvpc vpc mode=MODE vpc_name=NAME ...');
    refused(['vpc', 'mode=apply', 'vpc_name=v', 'dryrun'], /\(did you mean --dryrun\?\)/);
  });

  test('a word after "--" is still a word', () => {
    refused(['vpc', 'mode=list', '--', 'x'], /^unexpected argument "x"/);
  });

  test('parameters alone pass unchanged', () => {
    assert.deepEqual(checked(['vpc', 'mode=list', '--json', 'header=0']), { params: { mode: 'list', json: '1', header: '0' }, rest: [] });
  });
});

describe('checkPositionals: a word standing for a parameter', () => {
  test('help TOPIC', () => {
    assert.deepEqual(checked(['help', 'vpc']), { params: { topic: 'vpc' }, rest: [] });
    refused(['help', 'vpc', 'extra'], 'unexpected argument "extra" for help; usage: meshvpc help [COMMAND] | meshvpc COMMAND --help');
  });

  test('jwhereis NAME is jname=NAME, with options before or after it', () => {
    assert.deepEqual(checked(['jwhereis', 'web1']), { params: { jname: 'web1' }, rest: [] });
    assert.deepEqual(checked(['jwhereis', 'web1', '--json']), { params: { jname: 'web1', json: '1' }, rest: [] });
    assert.deepEqual(checked(['jwhereis', '--json', 'web1']), { params: { json: '1', jname: 'web1' }, rest: [] });
    assert.deepEqual(checked(['jwhereis', 'jname=web1']), { params: { jname: 'web1' }, rest: [] });
  });

  test('jwhereis: the name once only', () => {
    refused(['jwhereis', 'web1', 'web2'], /^unexpected argument "web2" for jwhereis;/);
    refused(['jwhereis', 'jname=web1', 'web2'], /^unexpected argument "web2" for jwhereis;/);
    refused(['jwhereis', 'web1', 'jname=web2'], 'argument jname given twice');
  });

  test('lab MODE is mode=MODE; only lab run takes a command line', () => {
    assert.deepEqual(checked(['lab', 'up', 'hosts=2']), { params: { mode: 'up', hosts: '2' }, rest: [] });
    assert.deepEqual(checked(['lab', 'hosts=2', 'up']), { params: { hosts: '2', mode: 'up' }, rest: [] });
    assert.deepEqual(checked(['lab', 'run', 'host=1', 'meshvpc', 'vpc', 'mode=list']), { params: { mode: 'run', host: '1' }, rest: ['meshvpc', 'vpc', 'mode=list'] });
    assert.deepEqual(checked(['lab', 'mode=run', 'host=1', 'ip', 'a']), { params: { mode: 'run', host: '1' }, rest: ['ip', 'a'] });
    refused(['lab', 'up', 'hosts=2', 'junk'], /^unexpected argument "junk" for lab mode=up;/);
    refused(['lab', 'mode=list', 'junk'], /^unexpected argument "junk" for lab mode=list;/);
    refused(['lab', 'mode=up', 'up'], /^unexpected argument "up" for lab mode=up;/);
  });
});

describe('checkPositionals: command lines', () => {
  test('jexec: everything after the parameters, untouched', () => {
    assert.deepEqual(checked(['jexec', 'jname=j1', 'ip', '-4', 'addr', 'x=y', 'jname=z']), { params: { jname: 'j1' }, rest: ['ip', '-4', 'addr', 'x=y', 'jname=z'] });
  });
});

describe('checkPositionals: no command', () => {
  test('left for main to judge', () => {
    assert.deepEqual(checked(['mode=list', 'vpc']), { params: { mode: 'list' }, rest: ['vpc'] });
  });
});
