import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdmission, uniqueGuests } from '../../src/core/admission.js';
import { NO_QUOTA } from '../../src/core/quota.js';
import { checkGuestNetwork } from '../../src/core/ipam.js';
import { interfaceAddress, network } from '../../src/core/validate.js';
import type { GuestOnHost } from '../../src/core/types.js';
import { parseKey } from '../../src/store/etcd/layout.js';

const g = (name: string, node: string, ip4Addr: string | null): GuestOnHost => ({ name, node, kind: 'jail', interface: 'vpc1', ip4Addr, ip6Addr: null, running: true, vcpus: 0, ramBytes: 0, diskBytes: 0 });
const ipam = { guests: checkGuestNetwork(network('203.0.113.0/29', 'guest_network'), '203.0.113.1', network('198.51.100.0/24', 'peer_network')), bridgeIps: ['203.0.113.2/29'] };
const adding = { name: 'new', node: 'h1', kind: 'jail' as const, vcpus: 0, ramBytes: 0, diskBytes: 0 };

test('decideAdmission: the quota first, then the lowest free address past the gateway, bridges and every guest counted', () => {
  const base = { vpc: 'vpc1', quota: NO_QUOTA, ipam, adding, ip6: null } as const;
  assert.deepEqual(decideAdmission({ ...base, guests: [g('a', 'h2', '203.0.113.3/29')], ip4: 'auto' }), { ip4Addr: '203.0.113.4/29', ip6Addr: null });
  // The guest being added does not count against itself (a claim of its own, read back).
  assert.deepEqual(decideAdmission({ ...base, guests: [g('new', 'h1', '203.0.113.3/29')], ip4: 'auto' }), { ip4Addr: '203.0.113.3/29', ip6Addr: null });
  assert.throws(() => decideAdmission({ ...base, quota: { ...NO_QUOTA, jail_max: 1 }, guests: [g('a', 'h2', null)], ip4: 'auto' }), /^UserError: vpc1: jail_max=1 reached \(1 container: a@h2\)$/);
  assert.throws(() => decideAdmission({ ...base, guests: [g('a', 'h2', '203.0.113.3/29')], ip4: interfaceAddress('203.0.113.3/29', 'ip4_addr') }), /^UserError: invalid ip4_addr "203\.0\.113\.3\/29": already used by another guest of this VPC$/);
  const full = ['3', '4', '5', '6'].map((x, i) => g(`f${i}`, 'h2', `203.0.113.${x}/29`));
  assert.throws(() => decideAdmission({ ...base, guests: full, ip4: 'auto' }), /203\.0\.113\.0\/29/);
  // Without a guest network, a given address is taken as given and auto gives none.
  assert.deepEqual(decideAdmission({ ...base, ipam: null, guests: [], ip4: interfaceAddress('192.0.2.9/24', 'ip4_addr') }), { ip4Addr: '192.0.2.9/24', ip6Addr: null });
});

test('uniqueGuests: one entry per node and name, the first list winning', () => {
  const out = uniqueGuests([[g('a', 'h1', '203.0.113.3/29')], [g('a', 'h1', null), g('a', 'h2', null)]]);
  assert.deepEqual(out.map((x) => [x.node, x.name, x.ip4Addr]), [['h1', 'a', '203.0.113.3/29'], ['h2', 'a', null]]);
});

test('the store layout: claims, bridges and locks parse only in their own shape', () => {
  assert.deepEqual(parseKey('/meshvpc/v1/claim/vpc1/h1/web1'), { kind: 'claim', vpc: 'vpc1', node: 'h1', name: 'web1' });
  assert.deepEqual(parseKey('/meshvpc/v1/bridge/vpc1/h1'), { kind: 'bridge', vpc: 'vpc1', node: 'h1' });
  assert.deepEqual(parseKey('/meshvpc/v1/lock/vpc1'), { kind: 'lock', vpc: 'vpc1' });
  for (const bad of ['/meshvpc/v1/claim/vpc1/h1', '/meshvpc/v1/claim/vpc1/h1/a/b', '/meshvpc/v1/claim/vpc1/h 1/a', '/meshvpc/v1/bridge/vpc1', '/meshvpc/v1/lock/vpc1/x', '/meshvpc/v1/lock/..']) assert.equal(parseKey(bad), null, bad);
});
