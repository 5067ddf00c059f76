import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkGivenAddress, checkGuestNetwork, nextFree, reserved, type IpamState } from '../../src/core/ipam.js';
import { interfaceAddress, network } from '../../src/core/validate.js';
import { UserError } from '../../src/core/errors.js';

const peer = network('198.51.100.0/26', 'peer_network');
const g4 = checkGuestNetwork(network('203.0.113.0/29', 'guest_network'), '203.0.113.1', peer);
const state = (used: string[], bridgeIps: string[] = []): IpamState => ({ guests: g4, bridgeIps, used });
const refused = (fn: () => unknown, message: RegExp, kind = 'invalid'): void => {
  assert.throws(fn, (e: unknown) => e instanceof UserError && e.kind === kind && message.test(e.message) && !e.message.includes('\n'));
};

describe('guest network', () => {
  test('a network of sensible size, clear of the peer network, with its gateway inside', () => {
    refused(() => checkGuestNetwork(network('198.51.100.0/24', 'guest_network'), null, peer), /overlaps the peer network 198\.51\.100\.0\/26/);
    refused(() => checkGuestNetwork(network('203.0.113.0/31', 'guest_network'), null, peer), /too small for guests; use a \/30 or larger/);
    refused(() => checkGuestNetwork(network('10.0.0.0/7', 'guest_network'), null, peer), /larger than meshvpc hands out; use a \/8 or smaller/);
    refused(() => checkGuestNetwork(network('2001:db8::/48', 'guest_network'), null, peer), /use a \/64 or smaller/);
    refused(() => checkGuestNetwork(network('203.0.113.0/29', 'guest_network'), '203.0.113.9', peer), /guest_gateway "203\.0\.113\.9": it is not inside 203\.0\.113\.0\/29/);
    refused(() => checkGuestNetwork(network('203.0.113.0/29', 'guest_network'), '203.0.113.7', peer), /network or broadcast address/);
    refused(() => checkGuestNetwork(network('203.0.113.0/29', 'guest_network'), '2001:db8::1', peer), /not inside/);
    assert.equal(checkGuestNetwork(network('2001:db8:c::/120', 'guest_network'), '2001:db8:c::1', peer).gateway, '2001:db8:c::1');
  });

  test('reserved: network, broadcast (IPv4 only), gateway, the bridges\' own addresses inside it', () => {
    assert.deepEqual([...reserved(g4, ['203.0.113.2/29', '192.0.2.9/24'])].sort(), [0xcb007100n, 0xcb007101n, 0xcb007102n, 0xcb007107n].sort());
    const g6 = checkGuestNetwork(network('2001:db8:c::/126', 'guest_network'), null, peer);
    assert.equal(reserved(g6, []).size, 1, 'IPv6 has no broadcast address');
  });
});

describe('nextFree', () => {
  test('the lowest address neither reserved nor used, with the network\'s prefix', () => {
    assert.equal(nextFree(state([])), '203.0.113.2/29');
    assert.equal(nextFree(state(['203.0.113.2'])), '203.0.113.3/29');
    assert.equal(nextFree(state(['203.0.113.3'], ['203.0.113.2/29'])), '203.0.113.4/29');
    // Addresses outside the guest network do not count.
    assert.equal(nextFree(state(['10.0.0.2', '203.0.113.2'])), '203.0.113.3/29');
  });

  test('a released address is handed out again; a full network is refused naming it', () => {
    const all = ['203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5', '203.0.113.6'];
    refused(() => nextFree(state(all)), /^guest_network 203\.0\.113\.0\/29 is full: 5 guest addresses in use and 3 reserved$/, 'quota');
    assert.equal(nextFree(state(all.filter((a) => a !== '203.0.113.4'))), '203.0.113.4/29');
  });

  test('IPv6: the first host after the network address', () => {
    const g6 = checkGuestNetwork(network('2001:db8:c::/120', 'guest_network'), '2001:db8:c::1', peer);
    assert.equal(nextFree({ guests: g6, bridgeIps: [], used: ['2001:db8:c::2'] }), '2001:db8:c::3/120');
  });

  test('concurrent allocations from one state never hand out one address twice once each is counted', () => {
    const used: string[] = [];
    for (let i = 0; i < 5; i++) used.push((nextFree(state(used)).split('/')[0]) as string);
    assert.equal(new Set(used).size, 5);
  });
});

describe('a given address', () => {
  test('inside the guest network: the network\'s prefix, not reserved, not taken', () => {
    const s = state(['203.0.113.3'], ['203.0.113.2/29']);
    assert.doesNotThrow(() => checkGivenAddress(s, interfaceAddress('203.0.113.4/29', 'ip4_addr'), 'ip4_addr'));
    refused(() => checkGivenAddress(s, interfaceAddress('203.0.113.4/24', 'ip4_addr'), 'ip4_addr'), /inside 203\.0\.113\.0\/29 a guest's prefix is \/29/);
    refused(() => checkGivenAddress(s, interfaceAddress('203.0.113.1/29', 'ip4_addr'), 'ip4_addr'), /reserved/);
    refused(() => checkGivenAddress(s, interfaceAddress('203.0.113.2/29', 'ip4_addr'), 'ip4_addr'), /reserved/);
    refused(() => checkGivenAddress(s, interfaceAddress('203.0.113.3/29', 'ip4_addr'), 'ip4_addr'), /already used by another guest/, 'conflict');
  });

  test('outside the guest network: left to the user, as without IPAM', () => {
    assert.doesNotThrow(() => checkGivenAddress(state(['10.9.0.5']), interfaceAddress('10.9.0.5/24', 'ip4_addr'), 'ip4_addr'));
  });
});
