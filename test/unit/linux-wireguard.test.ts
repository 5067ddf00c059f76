/** The WireGuard link on Linux (platform/linux/wireguard.ts) through the driver and a recording executor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Op } from '../../src/core/ops.js';
import { WG_ALIAS, WG_IFNAME } from '../../src/core/seal.js';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { wireguardCommands } from '../../src/platform/linux/wireguard.js';
import { RecordingExecutor, argvLine } from '../../src/platform/recording.js';
import { KEY_FILE, NODE2_ROTATED, WG_KEYS } from './seal-fixtures.js';

const K = WG_KEYS as Record<'node1' | 'node2' | 'node3', string>;
const CREATE: Op = { op: 'create_wireguard', name: WG_IFNAME, mtu: 1440, alias: WG_ALIAS };
const KERNEL = ['ip', 'link', 'add', WG_IFNAME, 'type', 'wireguard'];
const GO = ['env', 'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1', 'wireguard-go', WG_IFNAME];

const SEALED_APPLY: Op[] = [
  CREATE,
  { op: 'set_wireguard', name: WG_IFNAME, port: 51820, keyFile: KEY_FILE },
  { op: 'wireguard_peer', name: WG_IFNAME, key: K.node2, endpoint: '192.0.2.2:51820', allowedIps: ['198.51.100.6/32'] },
  { op: 'wireguard_peer', name: WG_IFNAME, key: NODE2_ROTATED, endpoint: '[2001:db8::2]:51820', allowedIps: ['198.51.100.6/32', 'fd00:99::6/128'], replaces: K.node2 },
  { op: 'wireguard_peer_remove', name: WG_IFNAME, key: K.node3 },
  { op: 'add_addr', name: WG_IFNAME, cidr: '198.51.100.5/30' },
  { op: 'set_up', name: WG_IFNAME },
];

test('the ops as commands: the private key by path only, a replaced peer removed in the same wg set', () => {
  assert.deepEqual(SEALED_APPLY.flatMap((op) => linuxDriver(new RecordingExecutor()).commandsFor(op)).map(argvLine), [
    `ip link add ${WG_IFNAME} type wireguard`,
    `ip link set dev ${WG_IFNAME} alias ${WG_ALIAS}`,
    `ip link set dev ${WG_IFNAME} mtu 1440`,
    `wg set ${WG_IFNAME} listen-port 51820 private-key ${KEY_FILE}`,
    `wg set ${WG_IFNAME} peer ${K.node2} endpoint 192.0.2.2:51820 allowed-ips 198.51.100.6/32`,
    `wg set ${WG_IFNAME} peer ${K.node2} remove peer ${NODE2_ROTATED} endpoint '[2001:db8::2]:51820' allowed-ips 198.51.100.6/32,fd00:99::6/128`,
    `wg set ${WG_IFNAME} peer ${K.node3} remove`,
    `ip addr add 198.51.100.5/30 dev ${WG_IFNAME}`,
    `ip link set dev ${WG_IFNAME} up`,
  ]);
  assert.deepEqual(wireguardCommands(CREATE, 'wireguard-go')?.[0], GO);
  assert.equal(wireguardCommands({ op: 'set_up', name: WG_IFNAME }), null);
});

test('apply: kernel WireGuard where the kernel has it, each command on its own (never in an ip batch)', async () => {
  const exec = new RecordingExecutor();
  await linuxDriver(exec).seal?.apply(SEALED_APPLY);
  assert.deepEqual(exec.argvs[0], KERNEL);
  assert.ok(!exec.argvs.some((a) => a.includes('-batch')));
  assert.ok(!exec.argvs.some((a) => a[0] === 'env'), 'no wireguard-go');
  assert.equal(exec.argvs.length, 9);
});

test('apply: wireguard-go where the kernel has no wireguard; neither: an error that says both', async () => {
  const noModule = { code: 2, stderr: 'Error: Unknown device type.\n' };
  const exec = new RecordingExecutor().on(KERNEL, noModule);
  await linuxDriver(exec).seal?.apply([CREATE]);
  // The MTU only once the daemon answers: it sets its own when it starts.
  assert.deepEqual(exec.lines(), [argvLine(KERNEL), argvLine(GO), `wg show ${WG_IFNAME} listen-port`, `ip link set dev ${WG_IFNAME} alias ${WG_ALIAS}`, `ip link set dev ${WG_IFNAME} mtu 1440`]);

  const neither = new RecordingExecutor().on(KERNEL, noModule).on(GO, { code: 127, stderr: 'env: ‘wireguard-go’: No such file or directory\n' });
  await assert.rejects(linuxDriver(neither).seal?.apply([CREATE]) ?? Promise.reject(new Error('no seal')), /the kernel has no wireguard \(Error: Unknown device type\.\) and wireguard-go is not installed/);
  assert.equal(neither.calls.length, 2, 'nothing after the failed creation');
});

test('observe reads wg show NAME dump; no such link: null; impl tells the kernel from wireguard-go', async () => {
  const exec = new RecordingExecutor()
    .on(['wg', 'show', WG_IFNAME, 'dump'], { stdout: `(none)\t${K.node1}\t51820\toff\n` })
    .on(['ip', '-json', '-details', 'link', 'show', 'dev', WG_IFNAME], { stdout: JSON.stringify([{ ifname: WG_IFNAME, linkinfo: { info_kind: 'wireguard' } }]) });
  const driver = linuxDriver(exec);
  assert.deepEqual(await driver.seal?.observe(WG_IFNAME), { publicKey: K.node1, port: 51820, peers: [] });
  assert.equal(await driver.seal?.impl(WG_IFNAME), 'wireguard (kernel)');
  exec.on(['ip', '-json', '-details', 'link', 'show', 'dev', WG_IFNAME], { stdout: JSON.stringify([{ ifname: WG_IFNAME, linkinfo: { info_kind: 'tun' } }]) });
  assert.equal(await driver.seal?.impl(WG_IFNAME), 'wireguard-go');
  const none = new RecordingExecutor().on(() => true, { code: 1, stderr: 'Unable to access interface: No such device\n' });
  assert.equal(await linuxDriver(none).seal?.observe(WG_IFNAME), null);
  assert.equal(await linuxDriver(none).seal?.impl(WG_IFNAME), null);
});
