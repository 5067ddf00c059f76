/**
 * The catalog is the one description of every operation: the CLI's
 * key=value and the API's JSON are read by the same parser, so a value one
 * refuses the other refuses with the same words.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DECLARED, OPERATIONS, operation, parseInput } from '../../src/app/catalog.js';
import { UserError } from '../../src/core/errors.js';
import { parseListen } from '../../src/core/listen.js';
import { COMMANDS } from '../../src/adapters/cli/help.js';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    return e.message;
  }
  assert.fail('not refused');
};

describe('catalog', () => {
  test('ids are unique, every argument has help, a placeholder and a known kind', () => {
    assert.equal(new Set(OPERATIONS.map((o) => o.id)).size, OPERATIONS.length);
    assert.equal(DECLARED.length, OPERATIONS.length);
    for (const o of OPERATIONS) {
      assert.equal(new Set(o.args.map((a) => a.name)).size, o.args.length, o.id);
      for (const a of o.args) {
        assert.ok(a.help.length > 5 && a.placeholder.length > 0, `${o.id} ${a.name}`);
        assert.ok(['string', 'integer', 'boolean', 'list'].includes(a.kind));
        // A default must itself pass the argument's validator.
        if (a.default !== undefined) assert.doesNotThrow(() => a.parse(a.default as string, a.name), `${o.id} ${a.name} default`);
      }
      if (o.output === 'listing') assert.ok((o.columns ?? []).length > 0, o.id);
      assert.ok(COMMANDS[o.command], `${o.command} has help`);
    }
  });

  test('CLI strings and JSON values give the same input', () => {
    const op = operation('vpc.deploy');
    const cli = parseInput(op, new Map([['vpc_name', 'vpc1'], ['node_member', 'host1,host2'], ['peer_network', '10.0.0.0/24'], ['mtu', '1400'], ['firewall', '0'], ['concurrency', '4']]));
    const json = parseInput(op, new Map<string, unknown>([['vpc_name', 'vpc1'], ['node_member', ['host1', 'host2']], ['peer_network', '10.0.0.0/24'], ['mtu', 1400], ['firewall', false], ['concurrency', 4]]), true);
    assert.deepEqual(json, cli);
    assert.deepEqual(cli.node_member, ['host1', 'host2']);
    assert.equal(cli.mtu, 1400);
    assert.equal(cli.firewall, false);
  });

  test('the same bad value is refused in the same words from either face', () => {
    const op = operation('vpc.init');
    const base: [string, unknown][] = [['vpc_name', 'vpc1'], ['node_member', 'all'], ['peer_network', '10.0.0.0/24']];
    for (const [key, bad] of [['mtu', '70000'], ['vpc_name', 'Vpc'], ['peer_network', '10.0.0.1/24'], ['underlay', 'v5']] as const) {
      const given = (v: unknown): Map<string, unknown> => new Map([...base.filter(([k]) => k !== key), [key, v]]);
      assert.equal(message(() => parseInput(op, given(bad) as Map<string, string>)), message(() => parseInput(op, given(bad), true)), key);
    }
  });

  test('JSON types are checked before values: a number for a string, a string for a boolean, an empty list', () => {
    const op = operation('jcreate');
    assert.match(message(() => parseInput(op, new Map<string, unknown>([['jname', 7], ['interface', 'v']]), true)), /^invalid jname "7": expected a string for jcreate$/);
    assert.match(message(() => parseInput(op, new Map<string, unknown>([['jname', 'j'], ['interface', 'v'], ['runasap', 'yes']]), true)), /^invalid runasap "yes": expected a boolean/);
    assert.match(message(() => parseInput(operation('vpc.join'), new Map<string, unknown>([['vpc_name', 'v'], ['node', []]]), true)), /^invalid node "\[\]": expected a list of strings/);
    assert.match(message(() => parseInput(operation('vpc.join'), new Map<string, unknown>([['vpc_name', 'v'], ['node', [1]]]), true)), /expected a list of strings/);
    assert.match(message(() => parseInput(operation('vpc.deploy'), new Map<string, unknown>([['vpc_name', 'v'], ['mtu', 1400.5]]), true)), /^invalid mtu "1400.5": expected a integer/);
    assert.match(message(() => parseInput(operation('vpc.deploy'), new Map<string, unknown>([['vpc_name', 'v'], ['mtu', null]]), true)), /^invalid mtu "null"/);
  });

  test('unknown names, missing required arguments and defaults', () => {
    assert.equal(message(() => parseInput(operation('vpc.list'), new Map([['colour', 'x']]))), 'unknown argument colour= for vpc mode=list; allowed: dryrun, platform');
    assert.equal(message(() => parseInput(operation('vpc.list'), new Map([['colour', 'x']]), true)), 'unknown field "colour" for vpc mode=list; allowed: dryrun, platform');
    assert.equal(message(() => parseInput(operation('jstart'), new Map())), 'missing jname=: name the container, e.g. jname=jail1');
    assert.equal(message(() => parseInput(operation('jstart'), new Map([['jname', '']]))), 'missing jname=: name the container, e.g. jname=jail1');
    const made = parseInput(operation('jcreate'), new Map([['jname', 'j'], ['interface', 'v']]));
    assert.deepEqual([made.vnet, made.ip4_addr, made.runasap], [true, [null], false], 'ip4_addr is per interface: eth0 none');
    assert.equal(parseInput(operation('token.create'), new Map([['name', 'ci']])).role, 'admin');
  });
});

describe('listen=', () => {
  test('ADDR:PORT and [V6]:PORT, nothing else', () => {
    assert.deepEqual(parseListen('127.0.0.1:8089', 'listen'), { address: '127.0.0.1', port: 8089, text: '127.0.0.1:8089' });
    assert.deepEqual(parseListen('[2001:db8::1]:443', 'listen'), { address: '2001:db8::1', port: 443, text: '[2001:db8::1]:443' });
    for (const bad of ['8089', 'localhost:80', '2001:db8::1:80', '[::1]', '1.2.3.4:', '300.1.1.1:80', '[1.2.3.4]:80', '1.2.3.4:0', '1.2.3.4:65536', ' 1.2.3.4:80', '1.2.3.4:80;x']) {
      assert.throws(() => parseListen(bad, 'listen'), UserError, bad);
    }
  });
});
