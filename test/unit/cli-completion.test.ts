/**
 * Shell completion: the candidates for partial command lines, made from the
 * catalog; what bash is given in place of the word after "="; the names read
 * from a real database (and nothing, never an error, without one); and the
 * script itself in a bash without bash-completion.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bashScript, candidates, completeLine, forBash, splitLine, type Known } from '../../src/adapters/cli/completion.js';
import { COMMANDS } from '../../src/adapters/cli/help.js';
import { OPERATIONS, operationsOf } from '../../src/app/catalog.js';
import { openDb } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';

const KNOWN: Known = {
  vpcs: ['vpc1', 'vpc2', 'other'],
  nodes: ['host2', 'host3'],
  self: 'host1',
  guests: [
    { name: 'jail1', kind: 'jail' },
    { name: 'jail2', kind: 'jail' },
    { name: 'vm1', kind: 'vm' },
  ],
};

/** The candidates for a command line typed up to the cursor. */
const at = (line: string, known: Known = KNOWN): string[] => {
  const { words, cword } = splitLine(line);
  return candidates(words, cword, known);
};

describe('completion candidates', () => {
  test('command names', () => {
    assert.deepEqual(at('meshvpc v'), ['vpc', 'version']);
    assert.deepEqual(at('meshvpc jc'), ['jcreate']);
    assert.deepEqual(at('meshvpc '), Object.keys(COMMANDS));
    assert.deepEqual(at('meshvpc --v'), ['--version']);
  });

  test('a command with modes first offers mode=, then its modes, in the catalog order', () => {
    assert.deepEqual(at('meshvpc vpc '), ['mode=']);
    assert.deepEqual(at('meshvpc vpc mode='), operationsOf('vpc').map((o) => `mode=${o.mode}`));
    assert.deepEqual(at('meshvpc vpc mode=init_'), ['mode=init_peers', 'mode=init_vxlan', 'mode=init_bridge', 'mode=init_rc']);
    assert.deepEqual(at('meshvpc node mode='), ['mode=add', 'mode=list', 'mode=show', 'mode=remove', 'mode=repin', 'mode=update']);
    assert.deepEqual(at('meshvpc token mode=r'), ['mode=revoke']);
  });

  test("the chosen mode's argument names", () => {
    assert.deepEqual(at('meshvpc vpc mode=deploy vpc_'), ['vpc_name=']);
    assert.deepEqual(at('meshvpc vpc mode=deploy '), operationsOf('vpc').find((o) => o.mode === 'deploy')?.args.map((a) => `${a.name}=`).concat('json='));
    assert.deepEqual(at('meshvpc vpc mode=list '), ['dryrun=', 'platform=', 'json=', 'header=', 'display=']);
    assert.deepEqual(at('meshvpc vpc mode=nosuch '), []);
    // The mode may come after other arguments, as in the article (vpc vpc_name=vpc1 mode=init_peers).
    assert.deepEqual(at('meshvpc vpc vpc_name=vpc1 mode=init_peers d'), ['dryrun=', 'display=']);
  });

  test('an argument already given is not offered again', () => {
    assert.ok(at('meshvpc vpc mode=init ').includes('vpc_name='));
    assert.ok(!at('meshvpc vpc mode=init vpc_name=vpc9 ').includes('vpc_name='));
    assert.deepEqual(at('meshvpc vpc mode=init vpc_name=vpc9 node_member=all peer_network=10.0.0.0/24 mtu=1400 '), [
      'underlay=', 'firewall=', 'encrypt=', 'fdb=', 'jail_max=', 'vm_max=', 'bhyve_max=', 'vcpu_max=', 'ram_max=', 'disk_max=', 'guest_network=', 'guest_gateway=', 'dryrun=', 'platform=',
    ]);
    assert.deepEqual(at('meshvpc bstart jname=vm1 '), ['platform=']);
    assert.deepEqual(at('meshvpc jls --json '), ['cluster=', 'platform=', 'header=', 'display=']);
  });

  test('VPC names for vpc_name= and interface=, a list completed element by element', () => {
    assert.deepEqual(at('meshvpc jcreate interface='), ['interface=vpc1', 'interface=vpc2', 'interface=other']);
    assert.deepEqual(at('meshvpc jcreate jname=j interface=vp'), ['interface=vpc1', 'interface=vpc2']);
    assert.deepEqual(at('meshvpc jcreate interface=vpc1,'), ['interface=vpc1,vpc2', 'interface=vpc1,other']);
    assert.deepEqual(at('meshvpc bcreate interface='), ['interface=vpc1', 'interface=vpc2', 'interface=other']);
    assert.deepEqual(at('meshvpc vpc mode=deploy vpc_name=v'), ['vpc_name=vpc1', 'vpc_name=vpc2']);
    // vpc mode=init names a new VPC.
    assert.deepEqual(at('meshvpc vpc mode=init vpc_name='), []);
  });

  test('node names: all and every node for node_member=, the known nodes for node=', () => {
    assert.deepEqual(at('meshvpc vpc mode=init node_member='), ['node_member=all', 'node_member=host1', 'node_member=host2', 'node_member=host3']);
    assert.deepEqual(at('meshvpc vpc mode=init node_member=host1,'), ['node_member=host1,host2', 'node_member=host1,host3']);
    assert.deepEqual(at('meshvpc vpc mode=join vpc_name=vpc1 node='), ['node=host2', 'node=host3']);
    assert.deepEqual(at('meshvpc node mode=remove node=host'), ['node=host2', 'node=host3']);
    // node mode=add names a new host by its address.
    assert.deepEqual(at('meshvpc node mode=add node='), []);
  });

  test('guest names: containers for j commands, VMs for b commands, none for a new guest', () => {
    assert.deepEqual(at('meshvpc jstart jname='), ['jname=jail1', 'jname=jail2']);
    assert.deepEqual(at('meshvpc bstop jname='), ['jname=vm1']);
    assert.deepEqual(at('meshvpc jexec jname=j'), ['jname=jail1', 'jname=jail2']);
    assert.deepEqual(at('meshvpc jcreate jname='), []);
    // jwhereis NAME: the bare word is jname=.
    assert.deepEqual(at('meshvpc jwhereis '), ['jail1', 'jail2', 'vm1', 'jname=', 'emulator=', 'platform=', 'json=']);
    assert.deepEqual(at('meshvpc jwhereis vm1 '), ['emulator=', 'platform=', 'json=']);
    // After jexec's arguments comes the command to run: not completed.
    assert.deepEqual(at('meshvpc jexec jname=jail1 ip a'), []);
  });

  test("fixed values: the catalog's enums, booleans, literal words of placeholders, a listing's columns", () => {
    assert.deepEqual(at('meshvpc vpc mode=init platform='), ['platform=linux', 'platform=freebsd']);
    assert.deepEqual(at('meshvpc vpc mode=deploy underlay='), ['underlay=v4', 'underlay=v6']);
    assert.deepEqual(at('meshvpc vpc mode=deploy firewall='), ['firewall=1', 'firewall=0']);
    assert.deepEqual(at('meshvpc bcreate vm_accel='), ['vm_accel=auto', 'vm_accel=kvm', 'vm_accel=tcg']);
    assert.deepEqual(at('meshvpc jwhereis emulator='), ['emulator=jail', 'emulator=bhyve', 'emulator=vm']);
    assert.deepEqual(at('meshvpc token mode=create role='), ['role=admin', 'role=read']);
    assert.deepEqual(at('meshvpc jcreate ip4_addr='), ['ip4_addr=0', 'ip4_addr=auto']);
    assert.deepEqual(at('meshvpc jcreate vnet='), ['vnet=1']);
    assert.deepEqual(at('meshvpc vpc mode=set jail_max='), ['jail_max=none']);
    assert.deepEqual(at('meshvpc jls display=jname,'), ['jname', 'node', 'interface', 'ip4_addr', 'vnet', 'status', 'ip6_addr', 'host_if'].slice(1).map((c) => `display=jname,${c}`));
    assert.deepEqual(at('meshvpc vpc mode=init nosuch='), []);
  });

  test("the CLI's own commands", () => {
    assert.deepEqual(at('meshvpc help v'), ['vpc', 'version']);
    assert.deepEqual(at('meshvpc completion '), ['bash', 'mode=']);
    assert.deepEqual(at('meshvpc lab '), ['up', 'down', 'list', 'run', 'demo', 'mode=']);
    assert.deepEqual(at('meshvpc lab up '), ['hosts=', 'underlay=', 'etcd=']);
    assert.deepEqual(at('meshvpc lab up etcd='), ['etcd=0', 'etcd=1', 'etcd=3', 'etcd=5', 'etcd=7']);
    assert.deepEqual(at('meshvpc etcd '), ['mode=']);
    assert.deepEqual(at('meshvpc etcd mode='), ['mode=run', 'mode=install']);
    assert.deepEqual(at('meshvpc etcd mode=install '), ['dryrun=']);
    assert.deepEqual(at('meshvpc cluster mode='), ['mode=init', 'mode=migrate', 'mode=add_member', 'mode=remove_member', 'mode=push_crl', 'mode=show']);
    assert.deepEqual(at('meshvpc cluster mode=init '), ['backend=', 'etcd_members=', 'endpoints=', 'ca=', 'cert=', 'key=', 'concurrency=', 'json=']);
    assert.deepEqual(at('meshvpc cluster mode=init backend='), ['backend=etcd']);
    assert.deepEqual(at('meshvpc lab demo underlay='), ['underlay=v4', 'underlay=v6']);
    assert.deepEqual(at('meshvpc server '), ['mode=', 'listen=', 'cert=', 'key=']);
    assert.deepEqual(at('meshvpc server mode=install '), ['listen=', 'cert=', 'key=', 'dryrun=']);
    assert.deepEqual(at('meshvpc nosuch '), []);
  });

  test('--key forms', () => {
    assert.deepEqual(at('meshvpc vpc mode=list --'), ['--help', '--dryrun=', '--platform=', '--json', '--header=', '--display=']);
    assert.deepEqual(at('meshvpc vpc mode=status --vpc-name=vpc1 --'), ['--help', '--dryrun=', '--platform=', '--json', '--header=', '--display=']);
  });

  test('every operation is reachable: its command, its mode and each of its argument names', () => {
    for (const op of OPERATIONS) {
      assert.ok(at(`meshvpc ${op.command.slice(0, 2)}`).includes(op.command), op.id);
      const base = op.mode === undefined ? `meshvpc ${op.command}` : `meshvpc ${op.command} mode=${op.mode}`;
      if (op.mode !== undefined) assert.ok(at(`meshvpc ${op.command} mode=`).includes(`mode=${op.mode}`), op.id);
      const names = at(`${base} `);
      for (const a of op.args) assert.ok(names.includes(`${a.name}=`), `${op.id}: ${a.name}=`);
    }
  });
});

describe('completion for bash', () => {
  const BREAKS = ' \t\n"\'><=;|&(:';

  test('the line is split into words; the last is the one completed (empty after a space)', () => {
    assert.deepEqual(splitLine('meshvpc vpc mode='), { words: ['meshvpc', 'vpc', 'mode='], cword: 2 });
    assert.deepEqual(splitLine('meshvpc  vpc '), { words: ['meshvpc', 'vpc', ''], cword: 2 });
    assert.deepEqual(splitLine('MESHVPC_HOME=/tmp/x meshvpc "vp'), { words: ['meshvpc', 'vp'], cword: 1 });
  });

  test('bash replaces only what follows the last word break: the part after "=" is given', () => {
    assert.deepEqual(forBash(['vpc_name=vpc1', 'vpc_name=vpc2'], 'meshvpc vpc mode=deploy vpc_name=v', BREAKS), ['vpc1', 'vpc2']);
    assert.deepEqual(forBash(['node_member=host1,host2'], 'meshvpc vpc mode=init node_member=host1,', BREAKS), ['host1,host2']);
    assert.deepEqual(forBash(['vpc_name='], 'meshvpc vpc mode=deploy vpc_', BREAKS), ['vpc_name=']);
    // Without "=" among the word breaks the whole word is replaced.
    assert.deepEqual(forBash(['vpc_name=vpc1'], 'meshvpc vpc mode=deploy vpc_name=v', ' '), ['vpc_name=vpc1']);
  });

  test('names come from the database, read-only; no database or a bad one gives none, never an error', async () => {
    const home = mkdtempSync(join(tmpdir(), 'meshvpc-compl-'));
    const saved = process.env.MESHVPC_HOME;
    try {
      process.env.MESHVPC_HOME = home;
      assert.equal(await completeLine(BREAKS, 'meshvpc jcreate interface='), 'words\n');
      assert.equal(await completeLine(BREAKS, 'meshvpc vpc mode=init node_member='), 'words\nall\n');
      const db = openDb(home, 'create');
      repo.putSelf(db, { nodename: 'host1', ip4: '192.0.2.1', ip6: null });
      repo.putVpc(db, { name: 'vpc1', peerNetwork: '198.51.100.0/24', family: 4, mtu: null, firewall: true, members: [{ node: 'host1', underlay: '192.0.2.1' }] });
      db.close();
      assert.equal(await completeLine(BREAKS, 'meshvpc jcreate interface='), 'words\nvpc1\n');
      assert.equal(await completeLine(BREAKS, 'meshvpc vpc mode=status vpc_name=vp'), 'words\nvpc1\n');
      assert.equal(await completeLine(BREAKS, 'meshvpc vpc mode=init node_member='), 'words\nall\nhost1\n');
      assert.equal(await completeLine(BREAKS, 'meshvpc bcreate vm_kernel=/bo'), 'files\n/bo\n');
      writeFileSync(join(home, 'meshvpc.sqlite'), 'not a database');
      assert.equal(await completeLine(BREAKS, 'meshvpc jcreate interface='), 'words\n');
    } finally {
      if (saved === undefined) delete process.env.MESHVPC_HOME;
      else process.env.MESHVPC_HOME = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });

  const bash = spawnSync('bash', ['--version']).status === 0;
  test('the script in bash: complete -p names it, and it fills COMPREPLY from meshvpc __complete', { skip: bash ? false : 'no bash here' }, () => {
    const bin = fileURLToPath(new URL('../../../bin/meshvpc.js', import.meta.url));
    const home = mkdtempSync(join(tmpdir(), 'meshvpc-compl-'));
    try {
      // As bash calls it on TAB: COMP_LINE and COMP_POINT set, $1 the command typed.
      const script = `${bashScript()}
complete -p meshvpc
run() { COMP_LINE="$1"; COMP_POINT=\${#1}; COMP_WORDS=($1); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _meshvpc ${JSON.stringify(bin)}; echo "$1 -> \${COMPREPLY[*]}"; }
run 'meshvpc v'
run 'meshvpc vpc mode=init_'
run 'meshvpc vpc mode=deploy vpc_'
run 'meshvpc vpc mode=init node_member='
run 'meshvpc bcreate vm_kernel=/dev/nul'
`;
      const r = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8', env: { ...process.env, MESHVPC_HOME: home } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        r.stdout,
        `complete -F _meshvpc meshvpc
meshvpc v -> vpc version
meshvpc vpc mode=init_ -> init_peers init_vxlan init_bridge init_rc
meshvpc vpc mode=deploy vpc_ -> vpc_name=
meshvpc vpc mode=init node_member= -> all
meshvpc bcreate vm_kernel=/dev/nul -> /dev/null
`,
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
