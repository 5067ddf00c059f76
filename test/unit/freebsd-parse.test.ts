import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  maskToPrefix,
  parseClonedName,
  parseIfconfig,
  parseJlsJson,
  parsePingRtt,
  parseRouteGet,
} from '../../src/platform/freebsd/parse.js';
import type { ObservedLink } from '../../src/core/observed.js';
import { fixture } from './freebsd-helpers.js';

const byName = (links: readonly ObservedLink[], name: string): ObservedLink => {
  const l = links.find((x) => x.name === name);
  assert.ok(l, `no link ${name}`);
  return l;
};

test('FreeBSD 13, IPv4 underlay: every interface, in listing order', () => {
  const links = parseIfconfig(fixture('host1-ipv4-13.txt'));
  assert.deepEqual(
    links.map((l) => [l.name, l.index, l.kind]),
    [['em0', 1, 'other'], ['lo0', 2, 'other'], ['vxlan100', 3, 'vxlan'], ['vxlan101', 4, 'vxlan'], ['vpc1', 5, 'bridge'], ['mvweb1a', 6, 'epair']],
  );
  assert.deepEqual(byName(links, 'em0').addresses, ['192.0.2.1/24']);
  // fe80::1%lo0 is the kernel's own; the hex netmask 0xff000000 is a /8.
  assert.deepEqual(byName(links, 'lo0').addresses, ['::1/128', '127.0.0.1/8']);
});

test('FreeBSD 13: a vxlan tunnel port with its -v config line', () => {
  const v = byName(parseIfconfig(fixture('host1-ipv4-13.txt')), 'vxlan100');
  assert.deepEqual(v, {
    name: 'vxlan100',
    index: 3,
    kind: 'vxlan',
    mtu: 1450,
    up: true,
    running: true,
    alias: 'tunnel-to-node2',
    master: 'vpc1',
    isolated: true,
    vxlan: { vni: 100, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, learning: false, udp6zerocsumrx: false },
    addresses: [],
  });
});

test('FreeBSD 13: the bridge and its private and non-private members', () => {
  const links = parseIfconfig(fixture('host1-ipv4-13.txt'));
  const br = byName(links, 'vpc1');
  assert.equal(br.kind, 'bridge');
  assert.equal(br.alias, 'vpc-vpc1');
  assert.equal(br.master, null);
  assert.equal(br.vxlan, null);
  assert.deepEqual(br.addresses, ['10.100.0.1/30', '10.100.0.5/30']);
  assert.deepEqual(
    links.filter((l) => l.master !== null).map((l) => [l.name, l.master, l.isolated]),
    [['vxlan100', 'vpc1', true], ['vxlan101', 'vpc1', true], ['mvweb1a', 'vpc1', false]],
  );
  const guest = byName(links, 'mvweb1a');
  assert.equal(guest.kind, 'epair');
  assert.equal(guest.alias, 'guest-web1');
  assert.equal(byName(links, 'em0').master, null);
});

test('FreeBSD 14, IPv6 underlay: LOWER_UP in the flags, bracketed endpoints, no link-local', () => {
  const links = parseIfconfig(fixture('host1-ipv6-14.txt'));
  const v = byName(links, 'vxlan101');
  assert.equal(v.up, true);
  assert.equal(v.running, true);
  assert.equal(v.mtu, 1430);
  assert.deepEqual(v.vxlan, { vni: 101, local: '2001:db8::1', remote: '2001:db8::3', port: 4789, learning: false, udp6zerocsumrx: true });
  assert.deepEqual(byName(links, 'vtnet0').addresses, ['2001:db8::1/64']);
  assert.deepEqual(byName(links, 'vpc1').addresses, ['10.10.11.254/24', '10.100.0.1/30', '10.100.0.5/30', 'fd00:10::1/64']);
  assert.deepEqual(byName(links, 'lo0').addresses, ['127.0.0.1/8', '::1/128']);
});

test('FreeBSD 15: bridge flags line, members without ifmaxaddr, renamed bridge', () => {
  const links = parseIfconfig(fixture('ifconfig-15-misc.txt'));
  const br = byName(links, 'lab');
  assert.equal(br.kind, 'bridge');
  assert.deepEqual(br.addresses, ['10.20.0.1/16']);
  assert.deepEqual([byName(links, 'vxlan200').master, byName(links, 'vxlan200').isolated], ['lab', true]);
  assert.deepEqual([byName(links, 'epair0a').master, byName(links, 'epair0a').isolated], ['lab', false]);
  assert.equal(byName(links, 'epair0b').master, null);
  assert.equal(byName(links, 'wg0').kind, 'other');
});

test('FreeBSD 15: a tunnel that is UP but not RUNNING (duplicate VNI) and one that is down', () => {
  const links = parseIfconfig(fixture('ifconfig-15-misc.txt'));
  const dup = byName(links, 'vxlan201');
  assert.equal(dup.up, true);
  assert.equal(dup.running, false);
  assert.equal(dup.vxlan?.vni, 200);
  const down = byName(links, 'vxlan202');
  assert.equal(down.up, false);
  assert.equal(down.running, false);
  // No status line: the VNI was never set. vni 0 matches no spec.
  assert.deepEqual(down.vxlan, { vni: 0, local: null, remote: null, port: 0, learning: true, udp6zerocsumrx: false });
  const epairB = byName(links, 'epair0b');
  assert.equal(epairB.up, false);
  assert.equal(epairB.running, true);
});

test('FreeBSD 15: learning defaults to on without -v; multicast group; tentative address kept', () => {
  const links = parseIfconfig(fixture('ifconfig-15-misc.txt'));
  assert.equal(byName(links, 'vxlan200').vxlan?.learning, true);
  assert.equal(byName(links, 'vxlan200').vxlan?.udp6zerocsumrx, false);
  assert.deepEqual(byName(links, 'vxlan203').vxlan, {
    vni: 203, local: '2001:db8:0:1::7', remote: 'ff05::100', port: 4789, learning: true, udp6zerocsumrx: true,
  });
  assert.deepEqual(byName(links, 'vtnet0').addresses, ['198.51.100.7/24', '2001:db8:0:1::7/64']);
});

test('tolerant: unknown lines, blank lines, CRLF, no <> after flags=0, other address formats', () => {
  const text = [
    'ifconfig: something odd happened',
    '',
    'bridge7: flags=0 metric 0 mtu 1500\r',
    '\tsomething: new in FreeBSD 16\r',
    '\tid 00:00:00:00:00:00 priority 32768 hellotime 2 fwddelay 15\r',
    '\tinet 10.1.2.3/24 broadcast 10.1.2.255\r',
    '\tinet 10.9.9.9 netmask 255.255.255.128\r',
    '\tinet6 2001:db8::a/64\r',
    'vxlan9: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1450',
    '\tvxlan vni 9 local 192.0.2.1:4789 remote 192.0.2.2:8472',
    '\t\tconfig: learning portrange 10000-65535 ttl 64',
    'epair4a: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500',
  ].join('\n');
  const links = parseIfconfig(text);
  assert.deepEqual(links.map((l) => [l.name, l.kind]), [['bridge7', 'bridge'], ['vxlan9', 'vxlan'], ['epair4a', 'epair']]);
  const br = byName(links, 'bridge7');
  assert.deepEqual([br.up, br.running, br.mtu], [false, false, 1500]);
  assert.deepEqual(br.addresses, ['10.1.2.3/24', '10.9.9.9/25', '2001:db8::a/64']);
  // Listening on 4789 but sending to 8472: no single-port spec can match it.
  assert.equal(byName(links, 'vxlan9').vxlan?.port, 0);
  assert.deepEqual(parseIfconfig(''), []);
});

test('maskToPrefix reads hex and dotted masks', () => {
  assert.equal(maskToPrefix('0xffffffff'), 32);
  assert.equal(maskToPrefix('0xfffffffc'), 30);
  assert.equal(maskToPrefix('0xffffff00'), 24);
  assert.equal(maskToPrefix('0x0'), 0);
  assert.equal(maskToPrefix('255.255.240.0'), 20);
});

test('jls --libxo json: jail names; JID when a jail has no name; empty lists', () => {
  assert.deepEqual(parseJlsJson(fixture('jls-N.json')), ['web1', 'db1']);
  assert.deepEqual(parseJlsJson(fixture('jls-empty.json')), []);
  assert.deepEqual(parseJlsJson(''), []);
  assert.deepEqual(
    parseJlsJson('{"__version": "2", "jail-information": {"jail": [{"jid":3,"ipv4":"","hostname":"web1","path":"/"}]}}'),
    ['3'],
  );
  assert.throws(() => parseJlsJson('jls: not json'));
});

test('route get: interface and MTU column across formats', () => {
  assert.deepEqual(parseRouteGet(fixture('route-get-ipv6-14.txt')), { iface: 'vtnet0', mtu: 1500 });
  // A locked metric is printed with an L.
  assert.deepEqual(parseRouteGet(fixture('route-get-ipv4-locked.txt')), { iface: 'em1', mtu: 1400 });
  // The older column set (rttvar, hopcount), and no MTU on the route.
  assert.deepEqual(parseRouteGet(fixture('route-get-ipv4-nomtu.txt')), { iface: 'em0', mtu: null });
  assert.throws(() => parseRouteGet('route: route has not been found\n'), /no interface/);
});

test('ping RTT for IPv4 and IPv6 replies; null when none', () => {
  assert.equal(parsePingRtt('PING 10.100.0.2 (10.100.0.2): 56 data bytes\n64 bytes from 10.100.0.2: icmp_seq=0 ttl=64 time=0.412 ms\n'), 0.412);
  assert.equal(parsePingRtt('PING(56=40+8+8 bytes) 2001:db8::1 --> 2001:db8::2\n16 bytes from 2001:db8::2, icmp_seq=0 hlim=64 time=1.207 ms\n'), 1.207);
  assert.equal(parsePingRtt('PING 10.100.0.9 (10.100.0.9): 56 data bytes\n\n--- 10.100.0.9 ping statistics ---\n1 packets transmitted, 0 packets received, 100.0% packet loss\n'), null);
});

test('clone names printed by ifconfig create are checked', () => {
  assert.equal(parseClonedName('bridge3\n', 'bridge'), 'bridge3');
  assert.equal(parseClonedName('epair12a\n', 'epair'), 'epair12a');
  assert.throws(() => parseClonedName('', 'bridge'), /not a new bridge name/);
  assert.throws(() => parseClonedName('epair1b\n', 'epair'), /not a new epair name/);
  assert.throws(() => parseClonedName('ifconfig: SIOCIFCREATE2: File exists\n', 'bridge'));
});
