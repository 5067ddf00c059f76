/**
 * The CLI refuses what it used to ignore: stray words, bare -x, shared options
 * a command does nothing with, bad flag values, unknown help topics. Each is
 * one line `meshvpc: ...` naming the bad value and what is allowed, exit
 * status 2, and no state change: no database created, none modified. What
 * worked before keeps working. Run through the real CLI, no lab, no network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, contents, withTemp } from './cli-helpers.js';

/** [arguments, the exact error line after "meshvpc: ", or a pattern for it] */
const REFUSED: Array<[string[], string | RegExp]> = [
  [['vpc', 'mode=list', 'json'], 'unexpected argument "json" for vpc mode=list (did you mean --json?); usage: meshvpc vpc mode=MODE vpc_name=NAME ...'],
  [['vpc', 'mode=list', 'extra'], 'unexpected argument "extra" for vpc mode=list; usage: meshvpc vpc mode=MODE vpc_name=NAME ...'],
  [['vpc', 'mode=list', 'header=x'], 'invalid header "x": use 1 or 0'],
  [['vpc', 'mode=list', 'display='], /^empty display=: name the columns, e\.g\. display=name,peer_network; available: name, peer_network, underlay, /],
  [['vpc', 'mode=list', 'display=bogus'], /^invalid display column "bogus"; available: name, peer_network, /],
  [['vpc', 'mode=list', 'display=name,,members'], /^invalid display column ""; available: /],
  [['vpc', 'mode=list', 'display=name,name'], 'display column "name" given twice'],
  [['node', 'mode=list', 'display=bogus'], /^invalid display column "bogus"; available: name, ip4, ip6, ssh, platform, hostkey$/],
  [['jls', 'display=bogus', '--json'], /^invalid display column "bogus"; available: jname, /],
  [['vpc', 'mode=init_peers', 'vpc_name=v1', 'display=bogus'], /^invalid display column "bogus"; available: vni, /],
  [['vpc', 'mode=list', '--json=2'], 'invalid json "2": use 1 or 0'],
  [['vpc', 'mode=list', 'json=x'], 'invalid json "x": use 1 or 0'],
  [['vpc', 'mode=list', '-x'], 'unknown option "-x": arguments are key=value or --key=value (meshvpc help)'],
  [['-x'], 'unknown option "-x": arguments are key=value or --key=value (meshvpc help)'],
  [['help', 'nosuch'], /^unknown command "nosuch"; commands: initenv, node, vpc, .* \(meshvpc help\)$/],
  [['help', 'vpc', 'extra'], 'unexpected argument "extra" for help; usage: meshvpc help [COMMAND] | meshvpc COMMAND --help'],
  [['help', 'vpc', '--json'], /^json= does not apply to help; it applies to /],
  [['--help', 'nosuch'], /^unknown command "nosuch"/],
  [['mode=list', 'vpc'], 'arguments before the command: write the command first, as in meshvpc vpc mode=list (meshvpc help)'],
  [['json=1'], 'arguments before the command: write the command first, as in meshvpc vpc mode=list (meshvpc help)'],
  [['version', 'extra'], /^unexpected argument "extra" for version; usage: meshvpc version/],
  [['version', 'json=1'], /^json= does not apply to version; it applies to /],
  [['version', 'x=1'], 'unknown argument x= for version; it takes none'],
  [['remote', 'x=1'], 'unknown argument x= for remote; allowed: caller'],
  [['remote', 'caller=a;b'], 'invalid caller "a;b": use 1-63 letters, digits, "." or "-", starting and ending with a letter or digit'],
  [['frob'], /^unknown command "frob"; commands: /],
  [['vpc', '--help=2'], 'invalid help "2": use 1 or 0'],
  [['jremove', 'jname=j1', 'dryrun=1'], 'dryrun= does not apply to jremove; it applies to vpc, node mode=update, cluster mode=migrate'],
  [['jcreate', 'jname=j1', 'interface=v1', 'vnet=1', 'dryrun=1'], 'dryrun= does not apply to jcreate; it applies to vpc, node mode=update, cluster mode=migrate'],
  [['initenv', 'nodename=h1', 'dryrun=1'], 'dryrun= does not apply to initenv; it applies to vpc, node mode=update, cluster mode=migrate'],
  [['vpc', 'mode=init', 'vpc_name=v2', 'node_member=all', 'peer_network=198.51.100.0/24', 'force=1'], /^force= does not apply to vpc mode=init; it applies to vpc mode=sync, /],
  [['vpc', 'mode=init', 'vpc_name=v2', 'node_member=all', 'peer_network=198.51.100.0/24', '--json'], /^json= does not apply to vpc mode=init; it applies to vpc mode=list, /],
  [['node', 'mode=list', 'platform=linux'], /^platform= does not apply to node mode=list; it applies to vpc, jcreate/],
  [['jwhereis', 'a', 'b'], /^unexpected argument "b" for jwhereis; usage: meshvpc jwhereis NAME/],
  [['jwhereis', 'jname=a', 'b'], /^unexpected argument "b" for jwhereis;/],
  [['jwhereis', 'a', 'jname=b'], 'argument jname given twice'],
  [['jwhereis', 'a', 'header=0'], /^header= does not apply to jwhereis;/],
  [['lab', 'up', 'junk'], /^unexpected argument "junk" for lab mode=up; usage: meshvpc lab /],
  [['lab', 'list', 'dryrun=1'], /^dryrun= does not apply to lab mode=list;/],
  [['initenv', 'h1'], /^unexpected argument "h1" for initenv; usage: meshvpc initenv nodename=NAME/],
];

function refusedCleanly(home: string, args: string[], expected: string | RegExp): void {
  const what = `meshvpc ${args.join(' ')}`;
  const r = cli(home, args);
  assert.equal(r.code, 2, `${what}: exit status 2 (${r.stderr.trim()})`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.match(r.stderr, /^meshvpc: [^\n]+\n$/, `${what}: one line`);
  const line = r.stderr.slice('meshvpc: '.length, -1);
  if (typeof expected === 'string') assert.equal(line, expected, what);
  else assert.match(line, expected, what);
}

test('bad arguments are refused in one line, exit 2, and change nothing', { timeout: 120_000 }, () => {
  withTemp((dir) => {
    const home = join(dir, 'home');
    assert.equal(cli(home, ['initenv', 'nodename=h1', 'nodeip=192.0.2.1']).code, 0);
    assert.equal(cli(home, ['vpc', 'mode=init', 'vpc_name=v1', 'node_member=all', 'peer_network=198.51.100.0/24']).code, 0);
    const before = contents(home);
    for (const [args, expected] of REFUSED) {
      refusedCleanly(home, args, expected);
      assert.deepEqual(contents(home), before, `meshvpc ${args.join(' ')} changed the state directory`);
    }
  });
});

test('on a host without state, bad arguments create nothing either', { timeout: 120_000 }, () => {
  withTemp((dir) => {
    const home = join(dir, 'fresh');
    for (const [args, expected] of REFUSED) {
      refusedCleanly(home, args, expected);
      assert.equal(existsSync(home), false, `meshvpc ${args.join(' ')} created ${home}`);
    }
    // A well-formed command on a host without state: refused, and still nothing made.
    const r = cli(home, ['vpc', 'mode=list']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `meshvpc: this host is not initialised (no state in ${home}): run meshvpc initenv nodename=NAME nodeip=ADDR first\n`);
    assert.equal(existsSync(home), false);
  });
});

test('what worked keeps working', { timeout: 120_000 }, () => {
  withTemp((dir) => {
    const home = join(dir, 'home');
    const run = (...args: string[]): string => {
      const r = cli(home, args);
      assert.equal(r.code, 0, `meshvpc ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    run('initenv', 'nodename=h1', 'nodeip=192.0.2.1');
    run('vpc', 'mode=init', 'vpc_name=v1', 'node_member=all', 'peer_network=198.51.100.0/24');
    assert.deepEqual(JSON.parse(run('vpc', 'mode=list', '--json')).map((v: { name: string }) => v.name), ['v1']);
    assert.equal(run('vpc', '--mode=list', '--header=0', '--display=name,members'), 'v1  h1\n');
    assert.equal(run('vpc', 'mode=list', 'header=0', 'display=name,members'), 'v1  h1\n');
    assert.equal(run('vpc', 'mode=list', 'json=0', 'header=1', 'display=name'), 'NAME\nv1\n');
    assert.equal(run('node', 'mode=list', 'display=name,hostkey'), 'NAME  HOSTKEY\n', 'a column no row has yet');
    assert.deepEqual(JSON.parse(run('jls', '--json')), []);
    assert.match(run('vpc', 'mode=init_peers', 'vpc_name=v1', 'dryrun=1', '--json'), /^\[\]\n$/);
    for (const help of [['help'], ['--help'], ['-h'], []]) assert.match(run(...help), /^meshvpc: private Ethernet segments/);
    for (const help of [['help', 'vpc'], ['vpc', '--help'], ['vpc', '-h'], ['vpc', 'mode=list', '--help'], ['--help', 'vpc']]) {
      assert.match(run(...help), /^meshvpc vpc mode=MODE vpc_name=NAME/, help.join(' '));
    }
    assert.match(run('version'), /^\d+\.\d+\.\d+\n$/);
    assert.match(run('--version'), /^\d+\.\d+\.\d+\n$/);
  });
});
