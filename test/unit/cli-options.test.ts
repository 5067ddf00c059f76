import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { parseArgs, type Invocation } from '../../src/adapters/cli/args.js';
import { checkPositionals } from '../../src/adapters/cli/positionals.js';
import { checkSharedOptions, LISTINGS } from '../../src/adapters/cli/options.js';
import { UserError } from '../../src/core/errors.js';

const inv = (argv: string[]): Invocation => checkPositionals(parseArgs(argv));

function accepted(argv: string[]): Invocation {
  const i = inv(argv);
  assert.doesNotThrow(() => checkSharedOptions(i), argv.join(' '));
  return i;
}

function refused(argv: string[], message: string | RegExp): void {
  assert.throws(
    () => checkSharedOptions(inv(argv)),
    (e: unknown) => e instanceof UserError && exitStatus(e.kind) === 2 && !e.message.includes('\n') && (typeof message === 'string' ? e.message === message : message.test(e.message)),
    `${argv.join(' ')} should be refused with ${String(message)}`,
  );
}

describe('checkSharedOptions: values', () => {
  test('json, header, dryrun, force take 1 or 0', () => {
    refused(['vpc', 'mode=list', '--json=2'], 'invalid json "2": use 1 or 0');
    refused(['vpc', 'mode=list', 'json=x'], 'invalid json "x": use 1 or 0');
    refused(['vpc', 'mode=list', 'json='], 'invalid json "": use 1 or 0');
    refused(['vpc', 'mode=list', 'header=x'], 'invalid header "x": use 1 or 0');
    refused(['vpc', 'mode=list', 'header=2'], 'invalid header "2": use 1 or 0');
    refused(['vpc', 'mode=apply', 'vpc_name=v', 'dryrun=maybe'], 'invalid dryrun "maybe": use 1 or 0');
    refused(['node', 'mode=remove', 'node=h2', 'force=yes please'], 'invalid force "yes please": use 1 or 0');
  });

  test('values are checked even before the mode is known', () => {
    refused(['vpc', '--json=2'], 'invalid json "2": use 1 or 0');
  });

  test('what worked keeps working', () => {
    accepted(['vpc', 'mode=list', '--json']);
    accepted(['vpc', 'mode=list', 'json=0', 'header=0', 'display=name,members']);
    accepted(['vpc', 'mode=status', 'vpc_name=v', '--json']);
    accepted(['vpc', 'mode=init_peers', 'vpc_name=v', 'dryrun=1', '--json']);
    accepted(['vpc', 'mode=deploy', 'vpc_name=v', 'dryrun=1', 'platform=freebsd']);
    accepted(['vpc', 'mode=collapse', 'vpc_name=v', 'force=1']);
    accepted(['node', 'mode=list', '--json']);
    accepted(['node', 'mode=remove', 'node=h2', 'force=1']);
    accepted(['jls', 'header=0', 'display=jname,status']);
    accepted(['jwhereis', 'db', '--json']);
    accepted(['jcreate', 'jname=j', 'interface=v', 'vnet=1', 'platform=linux']);
    accepted(['lab', 'up', 'hosts=2', '--json']);
    accepted(['lab', 'list', 'display=lab']);
    accepted(['vpc', '--help']);
  });
});

describe('checkSharedOptions: where each option applies', () => {
  test('dryrun only where it is honoured (vpc): jremove dryrun=1 used to remove', () => {
    refused(['jremove', 'jname=x', 'dryrun=1'], 'dryrun= does not apply to jremove; it applies to vpc, node mode=update, cluster mode=migrate');
    accepted(['node', 'mode=update', 'node=h2', 'ip=192.0.2.12', 'dryrun=1']);
    refused(['initenv', 'nodename=h', 'dryrun=1'], /^dryrun= does not apply to initenv;/);
    refused(['node', 'mode=add', 'node=192.0.2.2', 'dryrun=1'], /^dryrun= does not apply to node mode=add;/);
    refused(['jcreate', 'jname=j', 'interface=v', 'vnet=1', 'dryrun=0'], /^dryrun= does not apply to jcreate;/);
    refused(['lab', 'down', 'dryrun=1'], /^dryrun= does not apply to lab mode=down;/);
    accepted(['etcd', 'mode=install', 'dryrun=1']);
    refused(['etcd', 'mode=run', 'dryrun=1'], /^dryrun= does not apply to etcd mode=run; it applies to vpc, node mode=update, cluster mode=migrate, etcd mode=install$/);
  });

  test('force only where it is honoured', () => {
    refused(['vpc', 'mode=init', 'vpc_name=v', 'force=1'], 'force= does not apply to vpc mode=init; it applies to vpc mode=sync, vpc mode=set, vpc mode=collapse, vpc mode=destroy, node mode=remove, jcreate, bcreate');
    refused(['jremove', 'jname=x', 'force=1'], /^force= does not apply to jremove;/);
  });

  test('platform only on vpc and containers', () => {
    refused(['node', 'mode=list', 'platform=linux'], /^platform= does not apply to node mode=list;/);
    refused(['initenv', 'platform=freebsd'], /^platform= does not apply to initenv;/);
  });

  test('json, header and display only on listings (json also on jwhereis, deploy, join and leave)', () => {
    refused(['vpc', 'mode=init', 'vpc_name=v', '--json'], /^json= does not apply to vpc mode=init; it applies to vpc mode=list, .*jwhereis, vpc mode=deploy, vpc mode=join, vpc mode=leave, vpc mode=sync, node mode=remove, vpc mode=set, vpc mode=rotate_keys, node mode=update, guests mode=start_all, cluster mode=init, cluster mode=migrate, cluster mode=add_member, cluster mode=remove_member, cluster mode=push_crl, cluster mode=show$/);
    accepted(['vpc', 'mode=deploy', 'vpc_name=v', '--json']);
    accepted(['vpc', 'mode=join', 'vpc_name=v', 'node=h4', '--json']);
    refused(['vpc', 'mode=collapse', 'vpc_name=v', '--json'], /^json= does not apply to vpc mode=collapse;/);
    refused(['vpc', 'mode=deploy', 'vpc_name=v', 'header=0'], /^header= does not apply to vpc mode=deploy;/);
    refused(['jwhereis', 'db', 'display=x'], /^display= does not apply to jwhereis;/);
    refused(['help', 'vpc', '--json'], /^json= does not apply to help;/);
  });

  test('without a mode, the command itself asks for one first', () => {
    accepted(['vpc', '--json']);
    accepted(['node', 'force=1']);
  });
});

describe('checkSharedOptions: display=', () => {
  test('unknown, empty and doubled columns are refused before anything runs, rows or not', () => {
    const all = (LISTINGS['vpc mode=list'] ?? []).join(', ');
    refused(['vpc', 'mode=list', 'display=bogus'], `invalid display column "bogus"; available: ${all}`);
    refused(['vpc', 'mode=list', 'display='], `empty display=: name the columns, e.g. display=name,peer_network; available: ${all}`);
    refused(['vpc', 'mode=list', 'display= '], /^empty display=/);
    refused(['vpc', 'mode=list', 'display=name,'], 'invalid display column ""; available: ' + all);
    refused(['vpc', 'mode=list', 'display=name,name'], 'display column "name" given twice');
    refused(['vpc', 'mode=init_peers', 'vpc_name=v', 'display=vni,bogus'], /^invalid display column "bogus"; available: vni, node_a/);
    refused(['lab', 'up', 'display=bogus'], /^invalid display column "bogus"; available: host, name/);
  });

  test('columns outside the default set are allowed and noted for printRows', () => {
    const i = accepted(['node', 'mode=list', 'display=name,hostkey']);
    assert.deepEqual(i.params.listingColumns, LISTINGS['node mode=list']);
    accepted(['jls', 'display=host_if']);
    accepted(['vpc', 'mode=status', 'vpc_name=v', 'display=node,error']);
  });
});
