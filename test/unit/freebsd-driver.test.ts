/**
 * The whole FreeBSD flow through a recording executor: plan, apply, observe
 * the result, plan again; drift repair; guests; teardown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Op } from '../../src/core/ops.js';
import { plan, planTeardown } from '../../src/core/planner.js';
import { specNames } from '../../src/core/spec.js';
import { freebsdBatchCommands } from '../../src/platform/freebsd/commands.js';
import { TunnelNotRunningError, freebsdDriver } from '../../src/platform/freebsd/driver.js';
import { parseJlsIds } from '../../src/platform/freebsd/parse.js';
import { RecordingExecutor, argvLine } from '../../src/platform/recording.js';
import { fixture, GUEST, GUEST_SETUP_LINES, ifconfigBlock, realFixture, threeHostSpec } from './freebsd-helpers.js';

const OBSERVE = ['ifconfig', '-a', '-v'];

/** A host whose clones get the next free unit and whose tunnels run, as in `state`. */
function host(state: string): RecordingExecutor {
  return new RecordingExecutor()
    .on(['ifconfig', 'bridge', 'create'], { stdout: 'bridge0\n' })
    .on(['ifconfig', 'bridge0', 'name', 'vpc1'], { stdout: 'vpc1\n' })
    .on(['ifconfig', 'epair', 'create'], { stdout: 'epair3a\n' })
    .on((argv) => argv.length === 2 && argv[0] === 'ifconfig' && /^vxlan\d+$/.test(argv[1] ?? ''), (argv) => ({
      stdout: ifconfigBlock(state, argv[1] as string),
    }))
    .on(OBSERVE, { stdout: state });
}

for (const [family, state, bridgeIps] of [
  [6, 'host1-ipv6-14.txt', ['10.10.11.254/24', 'fd00:10::1/64']],
  [4, 'host1-ipv4-13.txt', []],
] as const) {
  test(`IPv${family}: apply a planned host, observe it, plan again: nothing left to do`, async () => {
    const spec = threeHostSpec('node1', family, { bridgeIps });
    const ops = plan(spec, new Map());
    const exec = host(fixture(state));
    const driver = freebsdDriver(exec);
    await driver.apply(ops);

    // Apply ran what a dry run shows, with the printed clone name for the
    // placeholder and a RUNNING check after each tunnel came up.
    const shown = freebsdBatchCommands(ops).map(argvLine).map((l) => l.replace('bridgeN', 'bridge0'));
    const expected = shown.flatMap((l) => (/^ifconfig vxlan\d+ up$/.test(l) ? [l, l.replace(/ up$/, '')] : [l]));
    assert.deepEqual(exec.lines(), expected);
    const ran = exec.lines();
    assert.ok(ran.indexOf('ifconfig vpc1 addm vxlan100') < ran.indexOf('ifconfig vpc1 private vxlan100'));
    assert.ok(ran.indexOf('ifconfig bridge0 name vpc1') < ran.indexOf('ifconfig vpc1 addm vxlan100'));
    assert.ok(ran.includes('ifconfig vpc1 private vxlan101'));
    assert.equal(ran[0], 'kldload -n if_vxlan if_bridge if_epair');

    exec.clear();
    const observed = await driver.observe();
    assert.deepEqual(exec.argvs, [OBSERVE]);
    assert.deepEqual(plan({ ...spec, owned: specNames(spec) }, observed), []);
  });
}

test('drift: missing tunnel, wrong MTU, port not private -> exactly the repair', async () => {
  const spec = threeHostSpec('node1', 6, { bridgeIps: ['10.10.11.254/24', 'fd00:10::1/64'], owned: ['vxlan100', 'vxlan101', 'vpc1'] });
  const exec = host(fixture('host1-ipv6-14-drift.txt')).on(['ifconfig', 'vxlan101'], {
    stdout: ifconfigBlock(fixture('host1-ipv6-14.txt'), 'vxlan101'),
  });
  const driver = freebsdDriver(exec);
  const ops = plan(spec, await driver.observe());
  assert.deepEqual(ops, [
    { op: 'create_vxlan', name: 'vxlan101', vni: 101, local: '2001:db8::1', remote: '2001:db8::3', port: 4789, udp6zerocsumrx: true, mtu: 1430, alias: 'tunnel-to-node3' },
    { op: 'set_mtu', name: 'vxlan100', mtu: 1430 },
    { op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true },
    { op: 'set_master', name: 'vxlan101', master: 'vpc1' },
    { op: 'set_isolated', name: 'vxlan101', bridge: 'vpc1', on: true },
    { op: 'set_up', name: 'vxlan101' },
  ]);
  // A dry run of the same ops shows what apply will run.
  const shown = ops.flatMap((op) => driver.commandsFor(op)).map(argvLine);
  exec.clear();
  await driver.apply(ops);
  assert.deepEqual(exec.lines(), [
    'kldload -n if_vxlan if_bridge if_epair',
    'ifconfig vxlan101 create vxlanid 101 vxlanlocal 2001:db8::1 vxlanremote 2001:db8::3 vxlanlocalport 4789 vxlanremoteport 4789 -vxlanlearn mtu 1430 description tunnel-to-node3',
    'ifconfig vxlan100 mtu 1430',
    // vxlan100's bridge comes from observation, vxlan101's from the set_master before it.
    'ifconfig vpc1 private vxlan100',
    'ifconfig vpc1 addm vxlan101',
    'ifconfig vpc1 private vxlan101',
    'ifconfig vxlan101 up',
    'ifconfig vxlan101',
  ]);
  assert.deepEqual(shown, exec.lines().slice(0, -1));
});

test('a port change needs no reading of the host: the op names the bridge', async () => {
  const exec = new RecordingExecutor({ strict: true }).on(['ifconfig', 'vpc1', 'private', 'vxlan100'], {});
  await freebsdDriver(exec).apply([{ op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true }]);
  assert.deepEqual(exec.lines(), ['ifconfig vpc1 private vxlan100']);
});

test('a member that moved: the tunnel goes down, takes its new endpoints and comes up RUNNING; it is never destroyed', async () => {
  const state = fixture('host1-ipv6-14.txt');
  const exec = host(state).on((argv) => argv[0] === 'ifconfig' && argv[1] === 'vxlan100' && argv.length > 2, {});
  await freebsdDriver(exec).apply([{ op: 'set_vxlan_endpoints', name: 'vxlan100', local: '2001:db8::1', remote: '2001:db8::42' }]);
  assert.deepEqual(exec.lines(), ['ifconfig vxlan100 down', 'ifconfig vxlan100 vxlanlocal 2001:db8::1 vxlanremote 2001:db8::42', 'ifconfig vxlan100 up', 'ifconfig vxlan100']);
});

test('a tunnel that does not become RUNNING fails the apply with the reason', async () => {
  const notRunning = ifconfigBlock(fixture('ifconfig-15-misc.txt'), 'vxlan201');
  const exec = new RecordingExecutor().on(['ifconfig', 'vxlan201'], { stdout: notRunning });
  const err = await freebsdDriver(exec).apply([{ op: 'set_up', name: 'vxlan201' }]).then(
    () => assert.fail('apply succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TunnelNotRunningError);
  assert.match(err.message, /vxlan201 is up but not RUNNING/);
  assert.match(err.message, /VNI 200/);
  assert.deepEqual(exec.lines(), ['ifconfig vxlan201 up', 'ifconfig vxlan201']);

  // A bridge coming up is not re-read.
  const exec2 = new RecordingExecutor({ strict: true }).on(['ifconfig', 'vpc1', 'up'], {});
  await freebsdDriver(exec2).apply([{ op: 'set_up', name: 'vpc1' }]);
  assert.deepEqual(exec2.lines(), ['ifconfig vpc1 up']);
});

test('a failed command stops the apply and names itself', async () => {
  const exec = new RecordingExecutor().on(['ifconfig', 'vpc1', 'addm', 'vxlan100'], { code: 1, stderr: 'ifconfig: BRDGADD vxlan100: Device busy\n' });
  const ops: Op[] = [
    { op: 'set_master', name: 'vxlan100', master: 'vpc1' },
    { op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true },
  ];
  await assert.rejects(freebsdDriver(exec).apply(ops), /ifconfig vpc1 addm vxlan100: ifconfig: BRDGADD vxlan100: Device busy/);
  assert.equal(exec.calls.length, 1);
});

test('bridge creation: a failed rename destroys the anonymous clone', async () => {
  const exec = new RecordingExecutor()
    .on(['ifconfig', 'bridge', 'create'], { stdout: 'bridge4\n' })
    .on(['ifconfig', 'bridge4', 'name', 'vpc1'], { code: 1, stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n' });
  await assert.rejects(freebsdDriver(exec).apply([{ op: 'create_bridge', name: 'vpc1', mtu: 1450, alias: 'vpc-vpc1' }]), /File exists/);
  assert.deepEqual(exec.lines(), ['kldload -n if_vxlan if_bridge if_epair', 'ifconfig bridge create', 'ifconfig bridge4 name vpc1', 'ifconfig bridge4 destroy']);
});

test('destroy: the teardown plan destroys the tunnels and the bridge', async () => {
  const spec = threeHostSpec('node1', 6);
  const exec = host(fixture('host1-ipv6-14.txt'));
  const driver = freebsdDriver(exec);
  const ops = planTeardown('vpc1', specNames(spec), await driver.observe());
  assert.deepEqual(ops, [
    { op: 'delete_link', name: 'vxlan100' },
    { op: 'delete_link', name: 'vxlan101' },
    { op: 'delete_link', name: 'vpc1' },
  ]);
  exec.clear();
  await driver.apply(ops);
  assert.deepEqual(exec.lines(), ['ifconfig vxlan100 destroy', 'ifconfig vxlan101 destroy', 'ifconfig vpc1 destroy']);
  // Nothing of the VPC left: nothing to tear down.
  const after = ifconfigBlock(fixture('host1-ipv6-14.txt'), 'vtnet0') + ifconfigBlock(fixture('host1-ipv6-14.txt'), 'lo0');
  const rest = await freebsdDriver(host(after)).observe();
  assert.deepEqual([...rest.keys()], ['vtnet0', 'lo0']);
  assert.deepEqual(planTeardown('vpc1', specNames(spec), rest), []);
});

const JLS_IDS = ['jls', '--libxo', 'json', 'jid', 'name'];
const jlsIds = (jails: { jid: string; name: string }[]): { stdout: string } => ({ stdout: JSON.stringify({ __version: '2', 'jail-information': { jail: jails } }) });
const OUR_PORT = 'mvweb1a: flags=8863<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1430\n\tdescription: guest-web1\n\tgroups: epair\n';

test('guest start: a vnet jail on an epair whose host end takes the recorded name; returns the JID', async () => {
  const exec = host(fixture('host1-ipv6-14.txt')).on(JLS_IDS, jlsIds([{ jid: '7', name: 'web1' }]));
  const driver = freebsdDriver(exec);
  assert.equal(await driver.guestStart(GUEST), '7');
  assert.deepEqual(exec.lines(), ['ifconfig epair create', ...GUEST_SETUP_LINES, 'jls --libxo json jid name']);
  assert.deepEqual(driver.guestStartCommands(GUEST).map(argvLine).slice(0, 2), ['ifconfig epair create', 'ifconfig epairNa name mvweb1a']);
  assert.deepEqual(driver.guestExecArgv('web1', ['ping', '-c', '1', '10.10.11.254']), ['jexec', 'web1', 'ping', '-c', '1', '10.10.11.254']);
});

test('guest start failure cleans up the jail and the pair it made', async () => {
  const exec = host(fixture('host1-ipv6-14.txt'))
    .on((argv) => argv[0] === 'jail' && argv[1] === '-c', { code: 1, stderr: 'jail: web1: vnet.interface: ifconfig epair3b vnet web1: No such file or directory\n' })
    .on(JLS_IDS, jlsIds([]))
    .on(['ifconfig', 'mvweb1a'], { stdout: OUR_PORT });
  await assert.rejects(freebsdDriver(exec).guestStart(GUEST), /jail -c name=web1/);
  assert.deepEqual(exec.lines().slice(-1), ['ifconfig mvweb1a destroy']);

  const exec2 = new RecordingExecutor()
    .on(['ifconfig', 'epair', 'create'], { stdout: 'epair5a\n' })
    .on(['ifconfig', 'epair5a', 'name', 'mvweb1a'], { code: 1, stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n' });
  await assert.rejects(freebsdDriver(exec2).guestStart(GUEST), /File exists/);
  assert.deepEqual(exec2.lines(), ['ifconfig epair create', 'ifconfig epair5a name mvweb1a', 'ifconfig epair5a destroy']);
});

test('guest stop: removes only the jail meshvpc started (same JID) and a port with its mark', async () => {
  const exec = new RecordingExecutor().on(JLS_IDS, jlsIds([{ jid: '7', name: 'web1' }])).on(['ifconfig', 'mvweb1a'], { stdout: OUR_PORT });
  assert.deepEqual(await freebsdDriver(exec).guestStop(GUEST, '7'), []);
  assert.deepEqual(exec.lines(), ['jls --libxo json jid name', 'jail -r 7', 'ifconfig mvweb1a', 'ifconfig mvweb1a destroy']);

  // A jail of that name someone else made (another JID), and a port without the mark: both left alone, and named.
  const foreign = new RecordingExecutor()
    .on(JLS_IDS, jlsIds([{ jid: '12', name: 'web1' }]))
    .on(['ifconfig', 'mvweb1a'], { stdout: OUR_PORT.replace('guest-web1', 'my own pair') });
  assert.deepEqual(await freebsdDriver(foreign).guestStop(GUEST, '7'), ['jail web1', 'interface mvweb1a']);
  assert.ok(!foreign.lines().some((l) => l.startsWith('jail -r') || l.endsWith('destroy')), foreign.lines().join('; '));

  // Already gone is fine; another failure is reported, and the pair is still destroyed.
  const gone = new RecordingExecutor().on(JLS_IDS, jlsIds([])).on(['ifconfig', 'mvweb1a'], { code: 1, stderr: 'ifconfig: interface mvweb1a does not exist\n' });
  assert.deepEqual(await freebsdDriver(gone).guestStop(GUEST, '7'), []);
  const busy = new RecordingExecutor()
    .on(JLS_IDS, jlsIds([{ jid: '7', name: 'web1' }]))
    .on(['jail', '-r', '7'], { code: 1, stderr: 'jail: 7: Operation not permitted\n' })
    .on(['ifconfig', 'mvweb1a'], { stdout: OUR_PORT });
  await assert.rejects(freebsdDriver(busy).guestStop(GUEST, '7'), /jail -r 7: jail: 7: Operation not permitted/);
  assert.ok(busy.lines().includes('ifconfig mvweb1a destroy'));
});

test('guest identity: the JID from jls, or null; the real FreeBSD 15 jid/name capture parses', async () => {
  const exec = new RecordingExecutor().on(JLS_IDS, jlsIds([{ jid: '3', name: 'db1' }]));
  assert.equal(await freebsdDriver(exec).guestIdentity('db1'), '3');
  assert.equal(await freebsdDriver(exec).guestIdentity('web1'), null);
  assert.deepEqual(parseJlsIds(realFixture('jls-skhal-fbsd15-jidname.json')), [{ jid: '8', name: 'demo' }]);
});

test('running guests come from jls --libxo json', async () => {
  const exec = new RecordingExecutor({ strict: true }).on(['jls', '--libxo', 'json', '-N'], { stdout: fixture('jls-N.json') });
  assert.deepEqual(await freebsdDriver(exec).runningGuests(), ['web1', 'db1']);
});

test('underlay MTU: the route MTU, else the route interface MTU', async () => {
  const exec = new RecordingExecutor({ strict: true }).on(['route', '-n', 'get', '-inet6', '2001:db8::2'], { stdout: fixture('route-get-ipv6-14.txt') });
  assert.equal(await freebsdDriver(exec).underlayMtu('2001:db8::2'), 1500);

  const jumbo = fixture('ifconfig-15-misc.txt');
  const exec2 = new RecordingExecutor({ strict: true })
    .on(['route', '-n', 'get', '-inet', '192.0.2.2'], { stdout: fixture('route-get-ipv4-nomtu.txt').replace('em0', 'vtnet0') })
    .on(['ifconfig', 'vtnet0'], { stdout: ifconfigBlock(jumbo, 'vtnet0') });
  assert.equal(await freebsdDriver(exec2).underlayMtu('192.0.2.2'), 9000);

  const noRoute = new RecordingExecutor().on(['route', '-n', 'get', '-inet', '203.0.113.9'], { code: 1, stdout: '', stderr: 'route: route has not been found\n' });
  await assert.rejects(freebsdDriver(noRoute).underlayMtu('203.0.113.9'), /route has not been found/);
});

test('ping: RTT of one echo, null without an answer', async () => {
  const exec = new RecordingExecutor({ strict: true })
    .on(['ping', '-c', '1', '-t', '1', '10.100.0.2'], { stdout: '64 bytes from 10.100.0.2: icmp_seq=0 ttl=64 time=0.412 ms\n' })
    .on(['ping', '-6', '-c', '1', '-t', '1', 'fd00:10::2'], { code: 2, stdout: '1 packets transmitted, 0 packets received, 100.0% packet loss\n' });
  const driver = freebsdDriver(exec);
  assert.equal(await driver.ping('10.100.0.2'), 0.412);
  assert.equal(await driver.ping('fd00:10::2'), null);
});
