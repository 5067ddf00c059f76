import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as rules from '../../src/core/addrules.js';
import * as v from '../../src/core/validate.js';
import { UserError } from '../../src/core/errors.js';

const net = (s: string): v.Cidr => v.network(s, 'peer_network');
const ifa = (s: string): v.Cidr => v.interfaceAddress(s, 'bridge_ips');

function refused(run: () => unknown, ...want: RegExp[]): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.doesNotMatch(e.message, /\n/);
    for (const w of want) assert.match(e.message, w);
    return true;
  });
}

describe('checkPeerNetwork', () => {
  for (const [value, rule] of [
    ['0.0.0.0/0', /unspecified/],
    ['::/0', /unspecified/],
    ['224.0.0.0/24', /multicast/],
    ['239.1.0.0/16', /multicast/],
    ['ff02::/16', /multicast/],
    ['127.0.0.0/8', /loopback/],
    ['127.5.0.0/30', /loopback/],
    ['169.254.0.0/24', /link-local/],
    ['fe80::/64', /link-local/],
    ['::ffff:a00:0/120', /IPv4-mapped/],
    ['240.0.0.0/24', /reserved/],
    ['255.255.255.252/30', /reserved or broadcast/],
    ['0.0.0.0/30', /unspecified/],
    ['::/127', /unspecified|IPv4-compatible/],
  ] as const) {
    test(`refuses ${value}`, () => refused(() => rules.checkPeerNetwork(net(value)), new RegExp(value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), rule));
  }
  for (const ok of ['10.100.0.0/24', '198.51.100.0/24', '192.0.2.128/25', '100.64.0.0/24', 'fd00:100::/64', '2001:db8:1::/64', '172.16.0.0/12']) {
    test(`accepts ${ok}`, () => assert.deepEqual(rules.checkPeerNetwork(net(ok)), net(ok)));
  }
  test('a network that merely contains a special range is refused too', () => {
    refused(() => rules.checkPeerNetwork(net('192.0.0.0/2')), /reserved|multicast/);
    refused(() => rules.checkPeerNetwork(net('0.0.0.0/1')), /unspecified/);
    refused(() => rules.checkPeerNetwork(net('fe00::/7')), /link-local/);
  });
});

describe('checkHostAddress', () => {
  test('refuses the wrong family, naming the other field', () => {
    refused(() => rules.checkHostAddress(ifa('2001:db8::5/64'), 'ip4_addr', 4), /ip4_addr takes an IPv4 address/, /ip6_addr/);
    refused(() => rules.checkHostAddress(ifa('10.0.0.5/24'), 'ip6_addr', 6), /ip6_addr takes an IPv6 address/);
  });
  for (const [value, rule] of [
    ['127.0.0.1/8', /loopback/],
    ['224.0.0.5/24', /multicast/],
    ['169.254.3.4/16', /link-local/],
    ['::1/128', /loopback/],
    ['ff02::1/64', /multicast/],
    ['fe80::1/64', /link-local/],
    ['::ffff:10.0.0.1/96', /IPv4-mapped/],
    ['255.255.255.255/32', /broadcast/],
    ['10.0.0.0/24', /network address/],
    ['10.0.0.255/24', /broadcast address/],
  ] as const) {
    test(`refuses ${value}`, () => refused(() => rules.checkHostAddress(ifa(value), 'bridge_ips'), rule, /bridge_ips/));
  }
  test('accepts ordinary host addresses, /31 and /32 ends included', () => {
    for (const ok of ['10.10.11.1/24', '203.0.113.7/24', '10.0.0.0/31', '10.0.0.1/31', '10.9.9.9/32', 'fd00::1/64', '2001:db8::1/128']) {
      assert.deepEqual(rules.checkHostAddress(ifa(ok), 'bridge_ips'), ifa(ok));
    }
  });
});

describe('checkUnderlayAddress', () => {
  test('refuses special addresses and accepts unicast ones', () => {
    for (const bad of ['0.0.0.0', '127.0.0.1', '224.0.0.1', '::', '::1', 'ff02::1', 'fe80::1', '::ffff:192.0.2.1', '255.255.255.255']) {
      refused(() => rules.checkUnderlayAddress(bad, 'underlay'), /underlay/, /tunnels need a unicast address/);
    }
    for (const ok of ['192.0.2.1', '2001:db8:0:1::1', '10.1.2.3']) assert.equal(rules.checkUnderlayAddress(ok, 'underlay'), ok);
  });
});

describe('overlaps and the cross checks', () => {
  test('overlap is symmetric, family-aware and exact at the edges', () => {
    assert.equal(rules.overlaps(net('10.0.0.0/24'), net('10.0.0.128/25')), true);
    assert.equal(rules.overlaps(net('10.0.0.128/25'), net('10.0.0.0/24')), true);
    assert.equal(rules.overlaps(net('10.0.0.0/25'), net('10.0.0.128/25')), false);
    assert.equal(rules.overlaps(net('10.0.0.0/24'), net('fd00::/64')), false);
    assert.equal(rules.overlaps(ifa('192.0.2.1/24'), net('192.0.2.0/28')), true);
  });
  test('a peer network holding a member underlay address is refused, naming the host', () => {
    refused(
      () => rules.checkPeerNetworkAgainstUnderlay(net('192.0.2.0/28'), [{ node: 'host1', underlay: '192.0.2.1' }]),
      /192\.0\.2\.0\/28/,
      /host1's underlay address 192\.0\.2\.1/,
    );
    rules.checkPeerNetworkAgainstUnderlay(net('192.0.2.128/25'), [{ node: 'host1', underlay: '192.0.2.1' }]);
  });
  test('a peer network overlapping another VPC is refused (host subnets: the planner, core-planner.test)', () => {
    refused(() => rules.checkPeerNetworkAgainstOthers(net('198.51.100.0/25'), [{ name: 'vpc1', net: net('198.51.100.0/24') }]), /VPC vpc1/);
    rules.checkPeerNetworkAgainstOthers(net('198.51.100.128/25'), [{ name: 'vpc1', net: net('198.51.100.0/25') }]);
  });
});

describe('checkSegmentAddress', () => {
  const vpc = { name: 'vpc1', peerNetwork: '198.51.100.0/26', members: [{ node: 'h1', underlay: '192.0.2.1' }] };
  test('an address among the tunnel ends or at a member\'s underlay address is refused', () => {
    refused(() => rules.checkSegmentAddress(ifa('198.51.100.1/24'), 'ip4_addr', vpc), /invalid ip4_addr "198\.51\.100\.1\/24": it lies in 198\.51\.100\.0\/26, the peer network of vpc1/);
    refused(() => rules.checkSegmentAddress(ifa('192.0.2.1/24'), 'bridge_ips', vpc), /it is h1's underlay address/);
  });
  test('the rest of the segment is fine', () => {
    assert.deepEqual(rules.checkSegmentAddress(ifa('198.51.100.65/26'), 'ip4_addr', vpc), ifa('198.51.100.65/26'));
    assert.deepEqual(rules.checkSegmentAddress(ifa('fd00::5/64'), 'ip6_addr', vpc), ifa('fd00::5/64'));
  });
});
