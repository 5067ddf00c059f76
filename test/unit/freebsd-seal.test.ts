/**
 * encrypt=wireguard on FreeBSD: wg(4) cloned and renamed like a bridge,
 * configured with wg(8); golden files of what a sealed apply and a later
 * change run, and the driver through a recording executor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHostSpec } from '../../src/core/spec.js';
import { plan } from '../../src/core/planner.js';
import type { Op } from '../../src/core/ops.js';
import { planSeal, sealSpec, WG_ALIAS, WG_IFNAME, type SealSpec } from '../../src/core/seal.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { freebsdBatchCommands, freebsdOpCommands, NEW_WG } from '../../src/platform/freebsd/commands.js';
import { freebsdDriver } from '../../src/platform/freebsd/driver.js';
import { parseIfconfig } from '../../src/platform/freebsd/parse.js';
import { RecordingExecutor, argvLine } from '../../src/platform/recording.js';
import { fixture, realFixture } from './freebsd-helpers.js';
import { applyToHost, EMPTY_HOST, identities, KEY_FILE, NODE2_ROTATED, sealedVpc, WG_KEYS, WG_PORT } from './seal-fixtures.js';

const K = WG_KEYS as Record<'node1' | 'node2' | 'node3' | 'node4', string>;
const lines = (cmds: string[][]): string[] => cmds.map(argvLine);
const PEER_NETWORK = '10.100.0.0/24';

/** vpc1 over an IPv6 underlay with an IPv4 peer network (as the lab runs it), encrypted. */
const vpc1 = (members: readonly string[], keys: Readonly<Record<string, string>> = K): VpcWithMap => sealedVpc('vpc1', members, 6, { peerNetwork: PEER_NETWORK, keys });

function sealOf(vpcs: readonly VpcWithMap[], port = WG_PORT): SealSpec {
  const s = sealSpec({ self: 'node1', vpcs, identity: { key: K.node1, port }, peers: identities(vpcs, 'node1'), underlayMtu: new Map() });
  assert.ok(s);
  return s;
}

/** node1's part of vpc1: tunnels between seal addresses and the bridge. */
function vpcOps(v: VpcWithMap): Op[] {
  const spec = buildHostSpec({
    vpc: v.name,
    self: 'node1',
    pairs: v.pairs,
    family: v.family,
    underlay: new Map(v.members.map((m) => [m.node, m.underlay])),
    underlayMtu: new Map(),
    mtu: null,
    layers: { vxlan: true, bridge: true },
    bridgeIps: [],
    owned: [],
    peerNetwork: v.peerNetwork,
    encrypt: 'wireguard',
  });
  return plan(spec, new Map());
}

const FIRST = vpc1(['node1', 'node2', 'node3']);
/** What reconcile runs on node1 the first time: the WireGuard link first, then the VPC (as vpc-local.ts orders them). */
const firstOps = (): Op[] => [...planSeal(sealOf([FIRST]), new Map(), null, KEY_FILE), ...vpcOps(FIRST)];

test('golden: node1\'s first apply of an encrypted VPC (golden-wireguard-node1.txt)', () => {
  const generated = lines(freebsdBatchCommands(firstOps())).join('\n') + '\n';
  assert.equal(generated, fixture('golden-wireguard-node1.txt'));
});

/**
 * Later: node2 rotated its key, node3 left vpc1, node4 came in with a second
 * encrypted VPC, and this host's port moved: a new port, one peer replaced in
 * place, one added, one removed, and the seal addresses that go with them.
 */
function changeOps(): Op[] {
  const after = applyToHost(EMPTY_HOST, planSeal(sealOf([FIRST]), new Map(), null, KEY_FILE), () => K.node1);
  const taken = new Set(FIRST.pairs.map((p) => p.vni));
  const vpc2 = sealedVpc('vpc2', ['node1', 'node4'], 6, { peerNetwork: '10.200.0.0/24', taken });
  const shrunk = { ...vpc1(['node1', 'node2'], { ...K, node2: NODE2_ROTATED }), pairs: FIRST.pairs.filter((p) => p.b === 'node2') };
  return planSeal(sealOf([shrunk, vpc2], 51821), after.observed, after.seal, KEY_FILE);
}

test('golden: a change to the link: new port, a rotated key replaced, a peer removed, a peer added (golden-wireguard-change.txt)', () => {
  const ops = changeOps();
  assert.deepEqual(ops.map((o) => o.op), ['set_wireguard', 'wireguard_peer', 'wireguard_peer', 'wireguard_peer_remove', 'del_addr', 'add_addr']);
  assert.equal(ops.filter((o) => o.op === 'wireguard_peer' && o.replaces === K.node2).length, 1);
  const generated = lines(freebsdBatchCommands(ops)).join('\n') + '\n';
  assert.equal(generated, fixture('golden-wireguard-change.txt'));
});

test('one WireGuard op, its commands: the private key by path only, the old key removed in the same wg set', () => {
  const cases: [Op, string[]][] = [
    [
      { op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS },
      ['kldload -n if_wg', 'ifconfig wg create', `ifconfig ${NEW_WG} name meshvpc-wg`, 'ifconfig meshvpc-wg mtu 1420 description meshvpc-wireguard'],
    ],
    [{ op: 'set_wireguard', name: WG_IFNAME, port: 51820, keyFile: KEY_FILE }, [`wg set meshvpc-wg listen-port 51820 private-key ${KEY_FILE}`]],
    [
      { op: 'wireguard_peer', name: WG_IFNAME, key: K.node2, endpoint: '[2001:db8::2]:51820', allowedIps: ['10.100.0.6/32', 'fd00:99::6/128'] },
      [`wg set meshvpc-wg peer ${K.node2} endpoint '[2001:db8::2]:51820' allowed-ips 10.100.0.6/32,fd00:99::6/128`],
    ],
    [
      { op: 'wireguard_peer', name: WG_IFNAME, key: NODE2_ROTATED, endpoint: '192.0.2.2:51820', allowedIps: ['10.100.0.6/32'], replaces: K.node2 },
      [`wg set meshvpc-wg peer ${K.node2} remove peer ${NODE2_ROTATED} endpoint 192.0.2.2:51820 allowed-ips 10.100.0.6/32`],
    ],
    [{ op: 'wireguard_peer_remove', name: WG_IFNAME, key: K.node3 }, [`wg set meshvpc-wg peer ${K.node3} remove`]],
  ];
  for (const [op, want] of cases) assert.deepEqual(lines(freebsdOpCommands(op)), want, op.op);
  // wg(4) alone loads no vxlan or bridge module.
  assert.deepEqual(lines(freebsdBatchCommands([cases[0]?.[0] as Op])), cases[0]?.[1]);
});

/** A FreeBSD host where `ifconfig wg create` prints `clone`. */
const wgHost = (clone = 'wg0'): RecordingExecutor =>
  new RecordingExecutor()
    .on(['ifconfig', 'wg', 'create'], { stdout: `${clone}\n` })
    .on(['ifconfig', 'bridge', 'create'], { stdout: 'bridge0\n' })
    // The tunnels come up RUNNING (the driver checks after `up`).
    .on((argv) => argv.length === 2 && argv[0] === 'ifconfig' && /^vxlan\d+$/.test(argv[1] ?? ''), (argv) => ({
      stdout: `${argv[1]}: flags=8943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> metric 0 mtu 1370\n\tgroups: vxlan\n`,
    }));

test('driver: create_wireguard clones wg, renames the printed clone to meshvpc-wg, then sets MTU and mark', async () => {
  const exec = wgHost();
  await freebsdDriver(exec).seal?.apply([{ op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS }]);
  assert.deepEqual(exec.lines(), ['kldload -n if_wg', 'ifconfig wg create', 'ifconfig wg0 name meshvpc-wg', 'ifconfig meshvpc-wg mtu 1420 description meshvpc-wireguard']);
});

test('driver: a whole sealed apply runs what the golden file shows, with the printed clone names', async () => {
  const exec = wgHost('wg3');
  const driver = freebsdDriver(exec);
  const ops = firstOps();
  const seal = ops.filter((o) => o.name === WG_IFNAME);
  await driver.seal?.apply(seal);
  await driver.apply(ops.filter((o) => o.name !== WG_IFNAME));
  const shown = fixture('golden-wireguard-node1.txt').trimEnd().split('\n').map((l) => l.replace(NEW_WG, 'wg3').replace('bridgeN', 'bridge0'));
  // The driver checks each tunnel is RUNNING right after bringing it up.
  const expected = shown.flatMap((l) => (/^ifconfig vxlan\d+ up$/.test(l) ? [l, l.replace(/ up$/, '')] : [l]));
  assert.deepEqual(exec.lines(), expected);
});

test('driver: a failed rename destroys the anonymous clone and nothing more runs', async () => {
  const exec = wgHost('wg4').on(['ifconfig', 'wg4', 'name', WG_IFNAME], { code: 1, stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n' });
  await assert.rejects(
    freebsdDriver(exec).seal?.apply([{ op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS }, { op: 'set_up', name: WG_IFNAME }]) ?? Promise.reject(new Error('no seal')),
    /File exists/,
  );
  assert.deepEqual(exec.lines(), ['kldload -n if_wg', 'ifconfig wg create', 'ifconfig wg4 name meshvpc-wg', 'ifconfig wg4 destroy']);
});

test('driver: no if_wg (FreeBSD before 13.2) or an unexpected clone name: refused before anything is renamed', async () => {
  const noModule = new RecordingExecutor().on(['kldload', '-n', 'if_wg'], { code: 1, stderr: "kldload: can't load if_wg: No such file or directory\n" });
  await assert.rejects(freebsdDriver(noModule).seal?.apply([{ op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS }]) ?? Promise.reject(new Error('no seal')), /can't load if_wg/);
  assert.deepEqual(noModule.lines(), ['kldload -n if_wg']);
  const odd = wgHost('bridge7');
  await assert.rejects(freebsdDriver(odd).seal?.apply([{ op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS }]) ?? Promise.reject(new Error('no seal')), /ifconfig wg create printed "bridge7", not a new wg name/);
  assert.deepEqual(odd.lines(), ['kldload -n if_wg', 'ifconfig wg create']);
});

test('driver: a dry run shows create_wireguard with the wgN stand-in, and no vxlan module load for it', () => {
  const driver = freebsdDriver(new RecordingExecutor());
  assert.deepEqual(lines(driver.commandsFor({ op: 'create_wireguard', name: WG_IFNAME, mtu: 1420, alias: WG_ALIAS })), ['kldload -n if_wg', 'ifconfig wg create', 'ifconfig wgN name meshvpc-wg', 'ifconfig meshvpc-wg mtu 1420 description meshvpc-wireguard']);
});

test('driver: observe is wg show NAME dump; impl is wg(4) while the link exists', async () => {
  const exec = new RecordingExecutor().on(['wg', 'show', WG_IFNAME, 'dump'], { stdout: `(none)\t${K.node1}\t51820\toff\n${K.node2}\t(none)\t[2001:db8::2]:51820\t10.100.0.6/32\t0\t0\t0\toff\n` });
  const driver = freebsdDriver(exec);
  assert.deepEqual(await driver.seal?.observe(WG_IFNAME), { publicKey: K.node1, port: 51820, peers: [{ key: K.node2, endpoint: '[2001:db8::2]:51820', allowedIps: ['10.100.0.6/32'], handshake: 0, rxBytes: 0, txBytes: 0 }] });
  assert.equal(await driver.seal?.impl(WG_IFNAME), 'wg(4)');
  const gone = new RecordingExecutor().on(() => true, { code: 1, stderr: 'ifconfig: interface meshvpc-wg does not exist\n' });
  assert.equal(await freebsdDriver(gone).seal?.observe(WG_IFNAME), null);
  assert.equal(await freebsdDriver(gone).seal?.impl(WG_IFNAME), null);
});

test('read back with ifconfig after the apply (wg(4) as FreeBSD 14 prints it), the link plans nothing', () => {
  const spec = sealOf([FIRST]);
  // Shaped after the real capture in test/fixtures/freebsd-real (wg-bsdrp-fbsd14-spaces.txt), with meshvpc's mark and addresses.
  assert.match(realFixture('wg-bsdrp-fbsd14-spaces.txt'), /^wg0: flags=80c1<UP,RUNNING,NOARP,MULTICAST> metric 0 mtu 1420\n {8}options=80000<LINKSTATE>\n {8}groups: wg\n/);
  const text = [
    'meshvpc-wg: flags=80c1<UP,RUNNING,NOARP,MULTICAST> metric 0 mtu 1420',
    '\tdescription: meshvpc-wireguard',
    '\toptions=80000<LINKSTATE>',
    '\tinet 10.100.0.5 netmask 0xfffffffc',
    '\tinet 10.100.0.13 netmask 0xfffffffc',
    '\tgroups: wg',
    '\tnd6 options=101<PERFORMNUD,NO_DAD>',
    '',
  ].join('\n');
  const observed = new Map(parseIfconfig(text).map((l) => [l.name, l]));
  assert.equal(observed.get(WG_IFNAME)?.alias, WG_ALIAS);
  const dump = {
    publicKey: K.node1,
    port: WG_PORT,
    peers: spec.peers.map((p) => ({ key: p.key, endpoint: `[${p.endpoint}]:${p.port}`, allowedIps: [...p.allowedIps], handshake: 0, rxBytes: 0, txBytes: 0 })),
  };
  assert.deepEqual(planSeal(spec, observed, dump, KEY_FILE), []);
});
