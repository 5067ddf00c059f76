/**
 * The FreeBSD reader on REAL output: ifconfig, jls and route get as FreeBSD
 * 11-15 printed them and others published them (test/fixtures/freebsd-real,
 * sources in its README and in each file's `#@ source:` line). Every expected
 * value below was written by reading the capture, not by running the parser.
 *
 * Whitespace. A live ifconfig indents with tabs; the `-spaces` captures were
 * pasted through a terminal that expanded the tabs to spaces at 8-column stops.
 * The reader accepts them and reads them exactly (asserted below like the tab
 * captures): every 8 leading spaces are one tab, which gives back the first
 * level (`\tmember:`, `\tinet`, `\tvxlan vni`) and the vxlan `\t\tconfig:` line
 * exactly; the only lines it cannot tell apart (`\t        ifmaxaddr ...` vs
 * `\t\t...`) are member detail lines it never reads. Indentation of 1-7 spaces
 * (another tab width, a reST/Markdown indent) cannot be mapped to a level, so
 * it is refused with an Error naming the line, never guessed: a wrong guess
 * hands members or addresses to the wrong interface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObservedLink } from '../../src/core/observed.js';
import type { Op } from '../../src/core/ops.js';
import { plan } from '../../src/core/planner.js';
import { routeGetCommand } from '../../src/platform/freebsd/commands.js';
import { freebsdDriver } from '../../src/platform/freebsd/driver.js';
import { parseBridgePorts, parseIfconfig, parseJlsJson, parseRouteGet, type BridgePort } from '../../src/platform/freebsd/parse.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import { ifconfigBlock, realFixture, realFixtureNames, threeHostSpec } from './freebsd-helpers.js';

const UP_RUNNING = { up: true, running: true } as const;
/** Not named on any bridge's member line in the capture. */
const NO_MASTER = { master: null, isolated: false } as const;

const port = (bridge: string, name: string, isPrivate = false): BridgePort => ({ bridge, name, private: isPrivate });

interface IfconfigExpectation {
  /** Every interface the capture describes, in listing order, every field. */
  readonly links: readonly ObservedLink[];
  /** Every `member:` line, including ports the capture does not describe. */
  readonly ports: readonly BridgePort[];
}

const EPAIR_1500 = { kind: 'epair', mtu: 1500, ...UP_RUNNING, vxlan: null, addresses: [] } as const;

/** FreeNAS 11.1: bridge0's members, in member-line order, as the ifconfig -a lists them after it. */
const FREENAS_MEMBERS = ['epair0a', 'epair7a', 'epair9a', 'epair3a', 'epair8a', 'epair6a', 'epair5a', 'epair4a', 'epair2a', 'epair1a', 're0'];
const FREENAS_EPAIRS = ['epair1a', 'epair2a', 'epair4a', 'epair5a', 'epair6a', 'epair8a', 'epair3a', 'epair9a', 'epair7a', 'epair0a'];

const IFCONFIG: Record<string, IfconfigExpectation> = {
  'bridge-bastille-docs-13.txt': {
    links: [
      { name: 'vtnet0bridge', index: 1, kind: 'bridge', mtu: 1460, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: ['192.168.1.1/24'] },
    ],
    ports: [port('vtnet0bridge', 'vtnet0')],
  },
  'bridge-bastille-issue821-fbsd14.2.txt': {
    links: [{ name: 'em0bridge', index: 1, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [port('em0bridge', 'e0a_bastille1'), port('em0bridge', 'em0')],
  },
  // FreeBSD 15: `bridge flags=0<>`, no ifmaxaddr, `vlan protocol 802.1q` on the member detail line.
  'bridge-fbsd15-freebsdask.txt': {
    links: [{ name: 'bridge0', index: 1, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [port('bridge0', 'em1'), port('bridge0', 'em0')],
  },
  // STP members: flags STP/PTP, a third line per member (role, state, vlan protocol).
  'bridge-fbsd15-stp-freebsdask.txt': {
    links: [{ name: 'bridge0', index: 1, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [port('bridge0', 'em1'), port('bridge0', 'em0')],
  },
  // Cut excerpt: the members are not described in it, so only the member lines can show them.
  'bridge-iocage-issue873-colon-members.txt': {
    links: [
      { name: 'bridge3', index: 1, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] },
      { name: 'bridge4', index: 2, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] },
    ],
    ports: [port('bridge3', 'vnet0:11'), port('bridge3', 'vlan500'), port('bridge4', 'tap0')],
  },
  // Spaces; after `ifconfig bridge0 private`: three PRIVATE colon-named members, vlan100 not.
  'bridge-private-lexxai-2019-spaces.txt': {
    links: [{ name: 'bridge0', index: 1, kind: 'bridge', mtu: 9000, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [port('bridge0', 'vnet0:4', true), port('bridge0', 'vnet0:3', true), port('bridge0', 'vnet0:2', true), port('bridge0', 'vlan100')],
  },
  // A renamed bridge: the kind comes from `groups: bridge vm-switch ...`, not the name.
  'bridge-vmbhyve-fbsd14-freebsdask.txt': {
    links: [{ name: 'vm-public', index: 1, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [port('vm-public', 'ue0')],
  },
  // The known bug: `vnet0:6: flags=` was no header, so all four vanished.
  'epair-iocage-issue873-colon-names.txt': {
    links: [
      { name: 'vnet0:6', index: 1, ...EPAIR_1500, alias: 'associated with jail: jackett as nic: epair0b', ...NO_MASTER },
      { name: 'vnet0:7', index: 2, ...EPAIR_1500, alias: 'associated with jail: lidarr as nic: epair0b', ...NO_MASTER },
      { name: 'vnet0:8', index: 3, ...EPAIR_1500, alias: 'associated with jail: manager as nic: epair0b', ...NO_MASTER },
      { name: 'vnet0:9', index: 4, ...EPAIR_1500, alias: 'associated with jail: nextcloud as nic: epair0b', ...NO_MASTER },
    ],
    ports: [],
  },
  'epair-skhal-fbsd15.txt': {
    links: [{ name: 'epair8b', index: 1, ...EPAIR_1500, alias: 'jail:alpine:bridge1', ...NO_MASTER, addresses: ['10.0.0.13/24'] }],
    ports: [],
  },
  // Cut before re0bridge's first member line; its id line still makes it a bridge.
  'ifconfig-bastille-pr725-fbsd14.txt': {
    links: [
      {
        name: 're0', index: 1, kind: 'other', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null,
        // fe80::428d:5cff:fe58:c5f6%re0 is link-local: excluded.
        addresses: ['192.168.1.239/24', '2605:59c8:892:2010:428d:5cff:fe58:c5f6/64', 'fd1f:71ae:fb88:10:428d:5cff:fe58:c5f6/64'],
      },
      { name: 'lo0', index: 2, kind: 'other', mtu: 16384, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: ['127.0.0.1/8', '::1/128'] },
      { name: 're0bridge', index: 3, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] },
    ],
    ports: [],
  },
  'ifconfig-freenas-blog-fbsd11.txt': {
    links: [
      {
        name: 're0', index: 1, kind: 'other', mtu: 1500, ...UP_RUNNING, alias: null, master: 'bridge0', isolated: false, vxlan: null,
        addresses: ['192.168.0.9/24', '2a02:8085:e0c0:2a80:feaa:14ff:fe20:6ba2/64'],
      },
      // RUNNING is in its flags although `status: no carrier`: the flag is what is read.
      { name: 'em0', index: 2, kind: 'other', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] },
      // inet6 printed before inet here: listing order kept.
      { name: 'lo0', index: 3, kind: 'other', mtu: 16384, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: ['::1/128', '127.0.0.1/8'] },
      { name: 'bridge0', index: 4, kind: 'bridge', mtu: 1500, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] },
      ...FREENAS_EPAIRS.map((name, i): ObservedLink => ({ name, index: 5 + i, ...EPAIR_1500, alias: null, master: 'bridge0', isolated: false })),
    ],
    ports: FREENAS_MEMBERS.map((name) => port('bridge0', name)),
  },
  // bhyve's taps as CBSD made them: a description, group `tap`, the `Opened by PID` line tuntap adds (not read).
  'tap-bhyve-cbsd-blog.txt': {
    links: [
      { name: 'tap1', index: 1, kind: 'other', mtu: 1500, ...UP_RUNNING, alias: 'dmz-nic0', ...NO_MASTER, vxlan: null, addresses: [] },
      // fe80::5a9c:fcff:fe10:2c2c%tap2 is link-local: excluded.
      { name: 'tap2', index: 2, kind: 'other', mtu: 1500, ...UP_RUNNING, alias: 'dmz-nic1', ...NO_MASTER, vxlan: null, addresses: [] },
    ],
    ports: [],
  },
  // Spaces; both tunnels down (no UP, no RUNNING). No -v: no config line, so learning is the driver default (on).
  'vxlan-opnsense-pr7048-fbsd13-spaces.txt': {
    links: [
      {
        name: 'vxlan1', index: 1, kind: 'vxlan', mtu: 1450, up: false, running: false, alias: null, ...NO_MASTER, addresses: [],
        vxlan: { vni: 12, local: '192.168.3.1', remote: '192.168.3.2', port: 4789, learning: true, udp6zerocsumrx: false },
      },
      {
        name: 'vxlan2', index: 2, kind: 'vxlan', mtu: 1450, up: false, running: false, alias: null, ...NO_MASTER, addresses: [],
        vxlan: { vni: 13, local: '192.168.3.1', remote: '192.168.3.4', port: 4785, learning: true, udp6zerocsumrx: false },
      },
    ],
    ports: [],
  },
  'vxlan-opnsense-pr7872-fbsd14.txt': {
    links: [
      {
        name: 'vxlan1', index: 1, kind: 'vxlan', mtu: 1500, ...UP_RUNNING, alias: 'lan_vxlan1 (opt3)', ...NO_MASTER, addresses: [],
        vxlan: { vni: 1, local: '172.16.99.2', remote: '172.16.99.3', port: 4789, learning: true, udp6zerocsumrx: false },
      },
    ],
    ports: [],
  },
  'vxlan-pfsense-pr4445-fbsd12.txt': {
    links: [
      {
        name: 'vxlan1', index: 1, kind: 'vxlan', mtu: 1450, ...UP_RUNNING, alias: 'VXLAN3', ...NO_MASTER, addresses: [],
        vxlan: { vni: 54321, local: '172.21.16.167', remote: '172.21.16.222', port: 4789, learning: true, udp6zerocsumrx: false },
      },
    ],
    ports: [],
  },
  'wg-bsdrp-fbsd14-spaces.txt': {
    links: [{ name: 'wg0', index: 1, kind: 'other', mtu: 1420, ...UP_RUNNING, alias: null, ...NO_MASTER, vxlan: null, addresses: [] }],
    ports: [],
  },
};

const JLS: Record<string, readonly string[]> = {
  'jls-freebsd-src-jailmeta.json': ['jail1'],
  'jls-nodemanager-v.json': ['git7', 'sto2', 'git6'],
  // JID "8" as a string (libxo), name demo: the name wins.
  'jls-skhal-fbsd15-all.json': ['demo'],
  'jls-skhal-fbsd15-jidname.json': ['demo'],
};

const ROUTE: Record<string, { iface: string; mtu: number | null }> = {
  'route-bsdrp-mlvpn.txt': { iface: 'tun0', mtu: 1452 },
  'route-skhal-fbsd15.txt': { iface: 'epair8b', mtu: 1500 },
};

test('every real capture has expectations, and nothing else does', () => {
  const asserted = [...Object.keys(IFCONFIG), ...Object.keys(JLS), ...Object.keys(ROUTE)].sort();
  assert.deepEqual(realFixtureNames(), asserted);
});

for (const [file, want] of Object.entries(IFCONFIG)) {
  test(`real ifconfig ${file}: every interface, field by field, and every member line`, () => {
    const text = realFixture(file);
    const links = parseIfconfig(text);
    assert.deepEqual(links.map((l) => l.name), want.links.map((l) => l.name), 'interface names: none missing, merged or extra');
    want.links.forEach((expected, i) => assert.deepEqual(links[i], expected, `${file}: ${expected.name}`));
    assert.deepEqual(parseBridgePorts(text), want.ports, `${file}: member lines`);
  });
}

for (const [file, names] of Object.entries(JLS)) {
  test(`real jls ${file}: jail names`, () => {
    assert.deepEqual(parseJlsJson(realFixture(file)), names);
  });
}

for (const [file, route] of Object.entries(ROUTE)) {
  test(`real route get ${file}: interface and MTU`, () => {
    assert.deepEqual(parseRouteGet(realFixture(file)), route);
  });
}

test('a colon-named port on a bridge gets its master and PRIVATE flag; a colon name in the listing is kept whole', () => {
  // The two iocage excerpts of the same host: the epairs, then a bridge whose member lines name one of them.
  const epairs = realFixture('epair-iocage-issue873-colon-names.txt');
  const bridge = realFixture('bridge-private-lexxai-2019-spaces.txt');
  const links = parseIfconfig(`${bridge.replace('member: vnet0:2 ', 'member: vnet0:7 ')}${epairs}`);
  assert.deepEqual(links.map((l) => [l.name, l.kind, l.master, l.isolated]), [
    ['bridge0', 'bridge', null, false],
    ['vnet0:6', 'epair', null, false],
    ['vnet0:7', 'epair', 'bridge0', true],
    ['vnet0:8', 'epair', null, false],
    ['vnet0:9', 'epair', null, false],
  ]);
  // The bridge keeps its own description (none) and takes no epair lines.
  assert.equal(links[0]?.alias, null);
});

test('spaces that are not 8-column tab stops are refused, naming the line', () => {
  // Published with 8-space stops; the same text with 4-space stops (another tab width) has no level to read.
  const lexxai = realFixture('bridge-private-lexxai-2019-spaces.txt');
  const fourSpace = lexxai.replace(/^(?: {8})+/gm, (m) => ' '.repeat(m.length / 2));
  assert.match(fourSpace, /^ {4}member: vnet0:4 /m);
  assert.throws(() => parseIfconfig(fourSpace), /^Error: ifconfig output line 2 is indented with 4 space\(s\), not a tab/);
  // The Bastille docs capture as published in reST, inside a 2-space code-block indent.
  const docs = realFixture('bridge-bastille-docs-13.txt');
  const rst = docs.replace(/^(?=.)/gm, '  ');
  assert.throws(() => parseIfconfig(rst), /line 1 is indented with 2 space\(s\).*vtnet0bridge: flags=/);
});

test('lines under a header the reader does not understand are refused, not given to the interface before', () => {
  // What the old reader did with `vnet0:7: flags=`, reproduced with a header no regex can read.
  const text = realFixture('epair-iocage-issue873-colon-names.txt').replace('vnet0:7: flags=8943<', 'vnet0:7: flags 8943<');
  assert.throws(() => parseIfconfig(text), /line 11 is indented but follows no interface header.*lidarr/);
  // Stray messages at column 0 with nothing under them stay harmless.
  assert.deepEqual(parseIfconfig(`ifconfig: a warning\n${realFixture('wg-bsdrp-fbsd14-spaces.txt')}`).map((l) => l.name), ['wg0']);
});

test('driver: the underlay MTU of a route through a colon-named interface is read from that interface', async () => {
  // The real FreeBSD 15 route capture, pointed at vnet0:6 and with no MTU recorded on the route.
  const route = realFixture('route-skhal-fbsd15.txt').replace('interface: epair8b', 'interface: vnet0:6').replace(/ 1500 /, '    0 ');
  assert.deepEqual(parseRouteGet(route), { iface: 'vnet0:6', mtu: null });
  const exec = new RecordingExecutor({ strict: true })
    .on(routeGetCommand('10.0.0.1'), { stdout: route })
    .on(['ifconfig', 'vnet0:6'], { stdout: ifconfigBlock(realFixture('epair-iocage-issue873-colon-names.txt'), 'vnet0:6') });
  assert.equal(await freebsdDriver(exec).underlayMtu('10.0.0.1'), 1500);
  assert.deepEqual(exec.lines(), ['route -n get -inet 10.0.0.1', 'ifconfig vnet0:6']);
});

test('driver: a colon-named port is read by name; a foreign one on the VPC bridge is left alone, meshvpc\'s own guest port is retuned', async () => {
  const base = threeHostSpec('node1', 4);
  assert.equal(base.bridge?.mtu, 1450);
  // The VPC bridge as FreeBSD 14 prints it, with iocage's vnet0:7 as a PRIVATE member, then the real epairs.
  const vpc1 = [
    'vpc1: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1450',
    '\tdescription: vpc-vpc1',
    '\tid 00:00:00:00:00:00 priority 32768 hellotime 2 fwddelay 15',
    '\tmember: vnet0:7 flags=943<LEARNING,DISCOVER,PRIVATE,AUTOEDGE,AUTOPTP>',
    '\t        ifmaxaddr 0 port 9 priority 128 path cost 2000',
    '\tgroups: bridge',
    '',
  ].join('\n');
  const state = vpc1 + realFixture('epair-iocage-issue873-colon-names.txt');
  const exec = new RecordingExecutor().on(['ifconfig', '-a', '-v'], { stdout: state });
  const driver = freebsdDriver(exec);
  const observed = await driver.observe();
  assert.deepEqual([...observed.keys()], ['vpc1', 'vnet0:6', 'vnet0:7', 'vnet0:8', 'vnet0:9']);
  const colonOps = (spec: typeof base): Op[] => plan(spec, observed).filter((o: Op) => ('name' in o ? o.name : '').startsWith('vnet0:'));
  // iocage's port (description "associated with jail: lidarr ...") is not meshvpc's: untouched.
  assert.deepEqual(colonOps(base), []);
  // Had meshvpc started it (its mark in the description), it would be brought to the segment MTU and made non-private.
  const ours = { ...base, guests: [{ name: 'vnet0:7', alias: 'associated with jail: lidarr as nic: epair0b' }] };
  const ops = colonOps(ours);
  assert.deepEqual(ops, [
    { op: 'set_mtu', name: 'vnet0:7', mtu: 1450 },
    { op: 'set_isolated', name: 'vnet0:7', bridge: 'vpc1', on: false },
  ]);
  exec.clear();
  await driver.apply(ops);
  assert.deepEqual(exec.argvs, [
    ['ifconfig', 'vnet0:7', 'mtu', '1450'],
    ['ifconfig', 'vpc1', '-private', 'vnet0:7'],
  ]);
});
