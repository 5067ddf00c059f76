import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observedFrom } from '../../src/core/observed.js';
import type { Op } from '../../src/core/ops.js';
import { plan } from '../../src/core/planner.js';
import {
  freebsdBatchCommands,
  freebsdGuestStart,
  freebsdGuestStop,
  freebsdOpCommands,
  guestSetupCommands,
  otherHalf,
  pingCommand,
  routeGetCommand,
} from '../../src/platform/freebsd/commands.js';
import { parseIfconfig } from '../../src/platform/freebsd/parse.js';
import { argvLine } from '../../src/platform/recording.js';
import { fixture, GUEST, GUEST_SETUP_LINES, threeHostSpec } from './freebsd-helpers.js';

const lines = (cmds: string[][]): string[] => cmds.map(argvLine);

test('one op, one ifconfig command', () => {
  const cases: [Op, string[]][] = [
    [
      { op: 'create_vxlan', name: 'vxlan100', vni: 100, local: '2001:db8::1', remote: '2001:db8::2', port: 4789, udp6zerocsumrx: true, mtu: 1430, alias: 'tunnel-to-node2' },
      ['ifconfig vxlan100 create vxlanid 100 vxlanlocal 2001:db8::1 vxlanremote 2001:db8::2 vxlanlocalport 4789 vxlanremoteport 4789 -vxlanlearn mtu 1430 description tunnel-to-node2'],
    ],
    [{ op: 'create_bridge', name: 'vpc1', mtu: 1450, alias: 'vpc-vpc1' }, ['ifconfig bridge create', 'ifconfig bridgeN name vpc1', 'ifconfig vpc1 mtu 1450 description vpc-vpc1']],
    [{ op: 'delete_link', name: 'vxlan100' }, ['ifconfig vxlan100 destroy']],
    [{ op: 'set_mtu', name: 'vpc1', mtu: 1400 }, ['ifconfig vpc1 mtu 1400']],
    [{ op: 'set_alias', name: 'vpc1', alias: 'vpc-vpc1' }, ['ifconfig vpc1 description vpc-vpc1']],
    [{ op: 'set_up', name: 'vxlan100' }, ['ifconfig vxlan100 up']],
    [{ op: 'add_addr', name: 'vpc1', cidr: '10.100.0.1/30' }, ['ifconfig vpc1 inet 10.100.0.1/30 alias']],
    [{ op: 'add_addr', name: 'vpc1', cidr: 'fd00:10::1/64' }, ['ifconfig vpc1 inet6 fd00:10::1/64 alias']],
    [{ op: 'del_addr', name: 'vxlan100', cidr: '10.100.0.1/30' }, ['ifconfig vxlan100 inet 10.100.0.1 -alias']],
    [{ op: 'del_addr', name: 'vpc1', cidr: 'fd00:10::1/64' }, ['ifconfig vpc1 inet6 fd00:10::1 -alias']],
    [{ op: 'set_master', name: 'vxlan100', master: 'vpc1' }, ['ifconfig vpc1 addm vxlan100']],
  ];
  for (const [op, want] of cases) assert.deepEqual(lines(freebsdOpCommands(op)), want, op.op);
});

test('port changes go through the bridge the op names', () => {
  assert.deepEqual(lines(freebsdOpCommands({ op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true })), ['ifconfig vpc1 private vxlan100']);
  assert.deepEqual(lines(freebsdOpCommands({ op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: false })), ['ifconfig vpc1 -private vxlan100']);
  assert.deepEqual(lines(freebsdOpCommands({ op: 'set_nomaster', name: 'vxlan100', bridge: 'vpc1' })), ['ifconfig vpc1 deletem vxlan100']);
});

test('a planned drift repair on FreeBSD: port flags through the bridge, in plan order', () => {
  const observed = observedFrom(parseIfconfig(fixture('host1-ipv6-14-drift.txt')));
  const ops: Op[] = [
    { op: 'set_master', name: 'vxlan101', master: 'vpc1' },
    { op: 'set_isolated', name: 'vxlan101', bridge: 'vpc1', on: true },
    { op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true },
  ];
  assert.ok(observed.has('vpc1'));
  assert.deepEqual(lines(freebsdBatchCommands(ops)), ['ifconfig vpc1 addm vxlan101', 'ifconfig vpc1 private vxlan101', 'ifconfig vpc1 private vxlan100']);
});

test('kernel modules are loaded once, before the first clone, and only if there is one', () => {
  const ops: Op[] = [
    { op: 'set_mtu', name: 'vpc1', mtu: 1430 },
    { op: 'create_vxlan', name: 'vxlan7', vni: 7, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-b' },
    { op: 'create_vxlan', name: 'vxlan8', vni: 8, local: '192.0.2.1', remote: '192.0.2.3', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-c' },
  ];
  const out = lines(freebsdBatchCommands(ops));
  assert.equal(out[1], 'kldload -n if_vxlan if_bridge if_epair');
  assert.equal(out.filter((l) => l.startsWith('kldload')).length, 1);
  assert.deepEqual(lines(freebsdBatchCommands([{ op: 'set_up', name: 'vpc1' }])), ['ifconfig vpc1 up']);
});

for (const family of [6, 4] as const) {
  const file = `golden-ipv${family}-3host.txt`;
  test(`golden: host 1 of a 3-host VPC over IPv${family} (${file})`, () => {
    const ops = plan(threeHostSpec('node1', family), new Map());
    const generated = lines(freebsdBatchCommands(ops)).join('\n') + '\n';
    assert.equal(generated, fixture(file));
  });
}

test('guest start: epair, MTUs before addm, vnet jail, eth0 inside', () => {
  const g = GUEST;
  assert.deepEqual(lines(guestSetupCommands(g, 'epair3a')), GUEST_SETUP_LINES);
  const shown = lines(freebsdGuestStart({ ...g, addresses: ['fd00:10::5/64'] }));
  assert.equal(shown[0], 'ifconfig epair create');
  assert.equal(shown[1], 'ifconfig epairNa name mvweb1a');
  assert.ok(shown.includes('ifconfig epairNb mtu 1430'));
  assert.equal(shown.at(-1), 'jexec web1 ifconfig eth0 inet6 fd00:10::5/64 alias');
  assert.equal(lines(freebsdGuestStart({ ...g, addresses: [] })).at(-1), 'jexec web1 ifconfig eth0 mtu 1430 up');
  assert.deepEqual(lines(freebsdGuestStop(g)), ['jail -r web1', 'ifconfig mvweb1a destroy']);
  assert.equal(otherHalf('epair10a'), 'epair10b');
  assert.throws(() => otherHalf('bridge0'), /expected epairNa/);
});

test('route get and ping name the address family', () => {
  assert.deepEqual(routeGetCommand('192.0.2.2'), ['route', '-n', 'get', '-inet', '192.0.2.2']);
  assert.deepEqual(routeGetCommand('2001:db8::2'), ['route', '-n', 'get', '-inet6', '2001:db8::2']);
  assert.deepEqual(pingCommand('10.100.0.2'), ['ping', '-c', '1', '-t', '1', '10.100.0.2']);
  assert.deepEqual(pingCommand('fd00:10::2'), ['ping', '-6', '-c', '1', '-t', '1', 'fd00:10::2']);
});

test('argvLine quotes what a shell would split', () => {
  assert.equal(argvLine(['ifconfig', 'vpc1', 'description', 'my vpc']), "ifconfig vpc1 description 'my vpc'");
  assert.equal(argvLine(['echo', "it's", '']), "echo 'it'\\''s' ''");
});
