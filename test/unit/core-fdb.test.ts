import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredFdb, EMPTY_RECORD, planFdb, recordUnion, type FdbInput, type ObservedFdb } from '../../src/core/fdb.js';
import { bridgeMac, guestMac, stableMac, vpcGuestMac } from '../../src/core/mac.js';
import { fdbCommands, parseBridgePorts, parseFdbShow, parseNeighShow } from '../../src/platform/linux/fdb.js';
import { reportDigest } from '../../src/app/guest-reports.js';
import type { GuestOnHost } from '../../src/core/types.js';

const base: FdbInput = {
  vpc: 'vpc1',
  self: 'h1',
  mode: 'control',
  tunnels: [
    { peer: 'h2', name: 'vxlan100' },
    { peer: 'h3', name: 'vxlan101' },
  ],
  localGuests: [{ name: 'web', hostIf: 'vjweb', ip4Addr: '203.0.113.1/24', ip6Addr: '2001:db8:5::1/64' }],
  remoteGuests: new Map([
    ['h2', [{ name: 'db', ip4Addr: '203.0.113.2/24', ip6Addr: null }]],
    ['h3', []],
  ]),
  farEnds: [
    { peer: 'h2', ip: '198.51.100.2' },
    { peer: 'h3', ip: '198.51.100.6' },
  ],
  ownAddresses: ['198.51.100.1/30', '198.51.100.5/30'],
};

const ports = (names: readonly string[], suppress = false, flood = true): ObservedFdb['ports'] => names.map((name) => ({ name, suppress, flood }));
const bare: ObservedFdb = { entries: [], neighbours: [], ports: ports(['vxlan100', 'vxlan101', 'vjweb']) };

test('MACs: a guest on a control VPC is bound to the VPC and its name, not its host', () => {
  assert.equal(vpcGuestMac('vpc1', 'web'), vpcGuestMac('vpc1', 'web'));
  assert.notEqual(vpcGuestMac('vpc1', 'web'), vpcGuestMac('vpc2', 'web'), 'one name on two VPCs: two MACs');
  assert.notEqual(vpcGuestMac('vpc1', 'web'), guestMac('h1', 'web'));
  assert.equal(guestMac('h1', 'web'), stableMac('guest/h1/web'), 'learning VPCs keep the MACs of earlier releases');
  assert.equal(guestMac('h1', 'web', 1), stableMac('guest/h1/web#eth1'));
  assert.equal(bridgeMac('h1', 'vpc1'), stableMac('bridge/h1/vpc1'));
});

test('control: each guest MAC behind its port, every address at its MAC, tunnels suppress, flood only where guests are unknown', () => {
  const d = desiredFdb(base);
  assert.deepEqual(
    new Set(d.entries.map((e) => `${e.mac} ${e.port}`)),
    new Set([
      `${vpcGuestMac('vpc1', 'web')} vjweb`,
      `${vpcGuestMac('vpc1', 'db')} vxlan100`,
      `${bridgeMac('h2', 'vpc1')} vxlan100`,
      `${bridgeMac('h3', 'vpc1')} vxlan101`,
    ]),
  );
  assert.deepEqual(
    new Set(d.neighbours.map((n) => `${n.ip} ${n.mac}`)),
    new Set([
      `203.0.113.1 ${vpcGuestMac('vpc1', 'web')}`,
      `2001:db8:5::1 ${vpcGuestMac('vpc1', 'web')}`,
      `203.0.113.2 ${vpcGuestMac('vpc1', 'db')}`,
      `198.51.100.2 ${bridgeMac('h2', 'vpc1')}`,
      `198.51.100.6 ${bridgeMac('h3', 'vpc1')}`,
    ]),
  );
  assert.deepEqual(d.ports, [
    { name: 'vxlan100', suppress: true, flood: false },
    { name: 'vxlan101', suppress: true, flood: false },
  ]);
  // A peer that never reported (an older meshvpc, one not reached) keeps flooding.
  const unknown = desiredFdb({ ...base, remoteGuests: new Map([['h2', []]]) });
  assert.deepEqual(unknown.ports.find((p) => p.name === 'vxlan101'), { name: 'vxlan101', suppress: true, flood: true });
  // A report from a host with no tunnel here gives nothing.
  const stray = desiredFdb({ ...base, remoteGuests: new Map([['h9', [{ name: 'x', ip4Addr: '203.0.113.9/24', ip6Addr: null }]]]) });
  assert.ok(!stray.entries.some((e) => e.mac === vpcGuestMac('vpc1', 'x')));
  assert.ok(!stray.neighbours.some((n) => n.ip === '203.0.113.9'));
});

test('contested: an address two guests claim, or one this bridge holds, gets no neighbour entry; a name two peers report gets no entry; a local guest keeps its own', () => {
  const d = desiredFdb({
    ...base,
    remoteGuests: new Map([
      ['h2', [{ name: 'db', ip4Addr: '203.0.113.1/24', ip6Addr: null }, { name: 'web', ip4Addr: '203.0.113.7/24', ip6Addr: null }, { name: 'twin', ip4Addr: '203.0.113.8/24', ip6Addr: null }, { name: 'gw', ip4Addr: '198.51.100.1/30', ip6Addr: null }]],
      ['h3', [{ name: 'twin', ip4Addr: '203.0.113.9/24', ip6Addr: null }]],
    ]),
  });
  const neigh = new Map(d.neighbours.map((n) => [n.ip, n.mac]));
  assert.equal(neigh.get('203.0.113.1'), undefined, 'web here and db on h2 both claim 203.0.113.1');
  assert.ok(d.contested.includes('203.0.113.1'));
  assert.equal(neigh.get('198.51.100.1'), undefined, "this bridge's own address is never pointed at a peer");
  assert.equal(neigh.get('203.0.113.7'), undefined, "h2 reporting this host's guest name takes nothing");
  const web = d.entries.find((e) => e.mac === vpcGuestMac('vpc1', 'web'));
  assert.deepEqual(web, { mac: vpcGuestMac('vpc1', 'web'), port: 'vjweb' }, 'the local guest stays behind its own port');
  assert.ok(!d.entries.some((e) => e.mac === vpcGuestMac('vpc1', 'twin')), 'a name two peers report is nobody\'s');
  assert.equal(neigh.get('203.0.113.8'), undefined);
  assert.equal(neigh.get('203.0.113.9'), undefined);
  assert.equal(neigh.get('2001:db8:5::1'), vpcGuestMac('vpc1', 'web'), 'uncontested addresses stay');
});

test('one address in two spellings is one claim', () => {
  const d = desiredFdb({ ...base, remoteGuests: new Map([['h2', [{ name: 'db', ip4Addr: null, ip6Addr: '2001:DB8:5::1/64' }]], ['h3', []]]) });
  assert.ok(!d.neighbours.some((n) => n.ip.toLowerCase() === '2001:db8:5::1'));
});

test('learn: nothing on the bridge, tunnels back to flooding without suppression', () => {
  const d = desiredFdb({ ...base, mode: 'learn' });
  assert.deepEqual(d.entries, []);
  assert.deepEqual(d.neighbours, []);
  assert.deepEqual(d.ports, [
    { name: 'vxlan100', suppress: false, flood: true },
    { name: 'vxlan101', suppress: false, flood: true },
  ]);
});

test('plan from a bare bridge: every entry, neighbour and flag is set, and recorded as ours', () => {
  const d = desiredFdb(base);
  const p = planFdb(d, bare, EMPTY_RECORD);
  assert.equal(p.ops.filter((o) => o.op === 'fdb_set').length, d.entries.length);
  assert.equal(p.ops.filter((o) => o.op === 'neigh_set').length, d.neighbours.length);
  assert.deepEqual(p.ops.filter((o) => o.op === 'port_flags').map((o) => o.op === 'port_flags' && o.name), ['vxlan100', 'vxlan101']);
  assert.deepEqual(p.record.entries.length, d.entries.length);
  assert.deepEqual(p.foreign, []);
});

test('plan again once applied: nothing to do', () => {
  const d = desiredFdb(base);
  const first = planFdb(d, bare, EMPTY_RECORD);
  const applied: ObservedFdb = { entries: d.entries, neighbours: d.neighbours, ports: [...d.ports, { name: 'vjweb', suppress: false, flood: true }] };
  const again = planFdb(d, applied, first.record);
  assert.deepEqual(again.ops, []);
  assert.deepEqual(again.record, first.record);
});

test('only what meshvpc set goes: a gone guest is removed, a foreign static entry or neighbour is left alone', () => {
  const d = desiredFdb(base);
  const first = planFdb(d, bare, EMPTY_RECORD);
  const foreignEntry = { mac: '02:aa:bb:cc:dd:ee', port: 'vxlan100' };
  const foreignNeigh = { ip: '203.0.113.250', mac: '02:aa:bb:cc:dd:ee' };
  const clash = { ip: '203.0.113.2', mac: '02:aa:bb:cc:dd:ef' };
  const observed: ObservedFdb = { entries: [...d.entries, foreignEntry], neighbours: [...d.neighbours.filter((n) => n.ip !== '203.0.113.2'), foreignNeigh, clash], ports: [...d.ports, { name: 'vjweb', suppress: false, flood: true }] };
  // db left h2, and someone else now holds db's address on the bridge.
  const gone = desiredFdb({ ...base, remoteGuests: new Map([['h2', []], ['h3', []]]) });
  const p = planFdb(gone, observed, first.record);
  assert.deepEqual(p.ops, [
    { op: 'fdb_del', bridge: 'vpc1', mac: vpcGuestMac('vpc1', 'db'), port: 'vxlan100' },
  ], 'db\'s entry goes; its address now says another MAC, so it is not meshvpc\'s to remove');
  // A foreign entry in the way of a wanted one is left and named.
  const inWay = planFdb(d, { ...bare, neighbours: [clash] }, EMPTY_RECORD);
  assert.ok(!inWay.ops.some((o) => o.op === 'neigh_set' && o.ip === '203.0.113.2'));
  assert.deepEqual(inWay.foreign, [`neighbour 203.0.113.2 at ${clash.mac}`]);
  // An entry of ours that moved to another tunnel (the guest moved host) is replaced.
  const moved = desiredFdb({ ...base, remoteGuests: new Map([['h2', []], ['h3', [{ name: 'db', ip4Addr: '203.0.113.2/24', ip6Addr: null }]]]) });
  const m = planFdb(moved, { entries: d.entries, neighbours: d.neighbours, ports: observed.ports }, first.record);
  assert.deepEqual(m.ops, [{ op: 'fdb_set', bridge: 'vpc1', mac: vpcGuestMac('vpc1', 'db'), port: 'vxlan101' }]);
});

test('entries on a port that is not on the bridge are not planned (a stopped guest, a tunnel not made yet)', () => {
  const p = planFdb(desiredFdb(base), { ...bare, ports: ports(['vxlan100']) }, EMPTY_RECORD);
  assert.ok(!p.ops.some((o) => (o.op === 'fdb_set' || o.op === 'fdb_del') && o.port !== 'vxlan100'));
});

test('switching to learn takes away everything recorded and floods again', () => {
  const d = desiredFdb(base);
  const first = planFdb(d, bare, EMPTY_RECORD);
  const observed: ObservedFdb = { entries: d.entries, neighbours: d.neighbours, ports: d.ports };
  const p = planFdb(desiredFdb({ ...base, mode: 'learn' }), observed, first.record);
  assert.equal(p.ops.filter((o) => o.op === 'fdb_del').length, d.entries.length);
  assert.equal(p.ops.filter((o) => o.op === 'neigh_del').length, d.neighbours.length);
  assert.deepEqual(p.ops.filter((o) => o.op === 'port_flags'), [
    { op: 'port_flags', bridge: 'vpc1', name: 'vxlan100', suppress: false, flood: true },
    { op: 'port_flags', bridge: 'vpc1', name: 'vxlan101', suppress: false, flood: true },
  ]);
  assert.deepEqual(p.record, EMPTY_RECORD);
});

test('the record before an apply holds the old and the new', () => {
  const a = { entries: [{ mac: '02:00:00:00:00:01', port: 'x' }], neighbours: [{ ip: '203.0.113.1', mac: '02:00:00:00:00:01' }] };
  const b = { entries: [{ mac: '02:00:00:00:00:02', port: 'y' }, { mac: '02:00:00:00:00:01', port: 'x' }], neighbours: [] };
  const u = recordUnion(a, b);
  assert.equal(u.entries.length, 2);
  assert.equal(u.neighbours.length, 1);
});

test('Linux: commands are argv arrays, neighbours permanent, entries static on the bridge port', () => {
  assert.deepEqual(fdbCommands({ op: 'fdb_set', bridge: 'vpc1', mac: '02:00:00:00:00:01', port: 'vxlan100' }), [['bridge', 'fdb', 'replace', '02:00:00:00:00:01', 'dev', 'vxlan100', 'master', 'static']]);
  assert.deepEqual(fdbCommands({ op: 'fdb_del', bridge: 'vpc1', mac: '02:00:00:00:00:01', port: 'vxlan100' }), [['bridge', 'fdb', 'del', '02:00:00:00:00:01', 'dev', 'vxlan100', 'master']]);
  assert.deepEqual(fdbCommands({ op: 'neigh_set', bridge: 'vpc1', ip: '203.0.113.1', mac: '02:00:00:00:00:01' }), [['ip', 'neigh', 'replace', '203.0.113.1', 'lladdr', '02:00:00:00:00:01', 'dev', 'vpc1', 'nud', 'permanent']]);
  assert.deepEqual(fdbCommands({ op: 'neigh_del', bridge: 'vpc1', ip: '203.0.113.1' }), [['ip', 'neigh', 'del', '203.0.113.1', 'dev', 'vpc1']]);
  assert.deepEqual(fdbCommands({ op: 'port_flags', bridge: 'vpc1', name: 'vxlan100', suppress: true, flood: false }), [['ip', 'link', 'set', 'dev', 'vxlan100', 'type', 'bridge_slave', 'neigh_suppress', 'on', 'flood', 'off']]);
});

test('Linux: what bridge and ip print (iproute2 6.1, captured here) is read back', () => {
  const fdb = '[{"mac":"33:33:00:00:00:01","ifname":"br0","flags":["self"],"state":"permanent"},{"mac":"02:11:22:33:44:55","ifname":"vx1","flags":[],"master":"br0","state":"static"},{"mac":"26:7e:93:91:43:2a","ifname":"vx1","flags":[],"master":"br0","state":"permanent"},{"mac":"00:00:00:00:00:00","ifname":"vx1","dst":"192.0.2.2","flags":["self"],"state":"permanent"},{"mac":"02:11:22:33:44:66","ifname":"vx1","flags":[],"master":"br0","state":""},{"mac":"02:11:22:33:44:77","ifname":"vx9","flags":[],"master":"other","state":"static"}]';
  assert.deepEqual(
    parseFdbShow(fdb, 'br0'),
    [
      { mac: '02:11:22:33:44:55', port: 'vx1' },
      { mac: '26:7e:93:91:43:2a', port: 'vx1', fixed: true },
    ],
    "entries of this bridge's ports that do not age: static, and permanent ones as fixed (never meshvpc's); not learned, not self, not another bridge's",
  );
  assert.deepEqual(parseNeighShow('[{"dst":"203.0.113.9","lladdr":"02:aa:00:00:00:01","state":["NOARP"]}]', true), [{ ip: '203.0.113.9', mac: '02:aa:00:00:00:01', fixed: true }]);
  const neigh = '[{"dst":"198.51.100.7","lladdr":"02:11:22:33:44:55","state":["PERMANENT"]},{"dst":"2001:db8::7","lladdr":"02:11:22:33:44:55","state":["PERMANENT"]},{"dst":"198.51.100.8","state":["PERMANENT"]}]';
  assert.deepEqual(parseNeighShow(neigh), [
    { ip: '198.51.100.7', mac: '02:11:22:33:44:55' },
    { ip: '2001:db8::7', mac: '02:11:22:33:44:55' },
  ]);
  const link = '[{"ifindex":3,"ifname":"vx1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"master":"br0","state":"forwarding","learning":true,"flood":false,"mcast_flood":true,"bcast_flood":true,"neigh_suppress":true,"isolated":true},{"ifname":"vj1","master":"br0","flood":true},{"ifname":"vx2","master":"br9","flood":true}]';
  assert.deepEqual(parseBridgePorts(link, 'br0'), [
    { name: 'vx1', suppress: true, flood: false },
    { name: 'vj1', suppress: false, flood: true },
  ]);
  assert.deepEqual(parseFdbShow('', 'br0'), []);
});

test('a report digest changes with what a member must know, not with the order it is listed in', () => {
  const g = (name: string, ip: string, running = true): GuestOnHost => ({ name, node: 'h1', kind: 'jail', interface: 'vpc1', ip4Addr: ip, ip6Addr: null, running, vcpus: 0, ramBytes: 0, diskBytes: 0 });
  const a = [g('a', '203.0.113.1/24'), g('b', '203.0.113.2/24')];
  assert.equal(reportDigest(a), reportDigest([...a].reverse()));
  assert.notEqual(reportDigest(a), reportDigest([g('a', '203.0.113.1/24'), g('b', '203.0.113.3/24')]));
  assert.notEqual(reportDigest(a), reportDigest([g('a', '203.0.113.1/24'), g('b', '203.0.113.2/24', false)]));
  assert.notEqual(reportDigest(a), reportDigest([]));
});

test("an operator's permanent FDB entry or NOARP neighbour for a guest is never replaced or removed", () => {
  const d = desiredFdb(base);
  const db = vpcGuestMac('vpc1', 'db');
  const observed: ObservedFdb = {
    entries: [{ mac: db, port: 'vxlan101', fixed: true }],
    neighbours: [{ ip: '203.0.113.2', mac: '02:aa:00:00:00:01', fixed: true }],
    ports: ports(['vxlan100', 'vxlan101', 'vjweb']),
  };
  const p = planFdb(d, observed, { entries: [{ mac: db, port: 'vxlan101' }], neighbours: [{ ip: '203.0.113.2', mac: '02:aa:00:00:00:01' }] });
  assert.ok(!p.ops.some((o) => (o.op === 'fdb_set' || o.op === 'fdb_del') && o.mac === db), JSON.stringify(p.ops));
  assert.ok(!p.ops.some((o) => (o.op === 'neigh_set' || o.op === 'neigh_del') && o.ip === '203.0.113.2'));
  assert.deepEqual([...p.foreign].sort(), [`FDB entry ${db} on vxlan101`, 'neighbour 203.0.113.2 at 02:aa:00:00:00:01']);
});
