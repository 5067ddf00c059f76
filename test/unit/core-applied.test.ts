/**
 * The digest a deploy compares with what a member last applied, and the
 * fingerprint of the member's links that stands for "nothing drifted"
 * (core/applied.ts): equal inputs, equal digest; anything an apply depends
 * on changes it; what an apply does not set (counters, carrier) does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyDigest, appliedState, isCurrent, linkFingerprint, stableJson } from '../../src/core/applied.js';
import { observedFrom, type ObservedLink } from '../../src/core/observed.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { applyDigests, wireForm } from '../../src/app/vpc-cluster.js';
import { appliedFromWire, requestFromWire } from '../../src/cluster/wire.js';
import { openDb } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';
import { pairsFor, V4 } from './spec-fixtures.js';

const members = ['h1', 'h2', 'h3'];
const DEF: VpcWithMap = {
  name: 'vpc1',
  peerNetwork: '10.100.0.0/24',
  family: 4,
  mtu: null,
  firewall: true,
  members: members.map((node) => ({ node, underlay: V4.get(node) as string, mtu: 1500 })),
  pairs: pairsFor(members),
  quota: { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null },
  guestNetwork: null,
  encrypt: 'none',
};
const LAYERS = ['vxlan', 'bridge'] as const;
const d = (def: VpcWithMap, member = 'h2', layers: readonly string[] = LAYERS): string => applyDigest(def, member, layers);

test('equal definitions have equal digests, whatever the order of members, pairs and keys', () => {
  assert.equal(d(DEF), d({ ...DEF }));
  assert.match(d(DEF), /^[0-9a-f]{64}$/);
  assert.equal(d(DEF), d({ ...DEF, members: [...DEF.members].reverse(), pairs: [...DEF.pairs].reverse() }));
  const reordered = Object.fromEntries(Object.entries(DEF).reverse()) as unknown as VpcWithMap;
  assert.equal(d(DEF), d(reordered));
  // Absent and null mean the same for an apply.
  assert.equal(d({ ...DEF, members: DEF.members.map((m) => ({ ...m, wgKey: null, wgPort: null })) }), d(DEF));
  assert.equal(d(DEF, 'h2', ['bridge', 'vxlan']), d(DEF, 'h2', ['vxlan', 'bridge']));
  assert.equal(stableJson({ b: 1, a: [2, { d: 3, c: undefined }] }), '{"a":[2,{"d":3}],"b":1}');
});

test('the digest changes when anything an apply depends on changes', () => {
  const base = d(DEF);
  const [p0, ...rest] = DEF.pairs;
  const changed: Record<string, string> = {
    'another member': d(DEF, 'h3'),
    'another layer set': d(DEF, 'h2', ['vxlan']),
    'a pair renumbered': d({ ...DEF, pairs: [{ ...(p0 as (typeof DEF.pairs)[0]), vni: 999 }, ...rest] }),
    'a pair readdressed': d({ ...DEF, pairs: [{ ...(p0 as (typeof DEF.pairs)[0]), addrA: '10.100.0.9' }, ...rest] }),
    'a member joins': d({ ...DEF, members: [...DEF.members, { node: 'h4', underlay: '192.0.2.4' }], pairs: pairsFor(['h1', 'h2', 'h3', 'h4']) }),
    'a member moves': d({ ...DEF, members: DEF.members.map((m) => (m.node === 'h3' ? { ...m, underlay: '192.0.2.33' } : m)) }),
    "a member's link MTU": d({ ...DEF, members: DEF.members.map((m) => (m.node === 'h3' ? { ...m, mtu: 1400 } : m)) }),
    "a member's WireGuard key": d({ ...DEF, members: DEF.members.map((m) => (m.node === 'h3' ? { ...m, wgKey: 'k', wgPort: 51820 } : m)) }),
    'the tunnel MTU': d({ ...DEF, mtu: 1400 }),
    'the firewall': d({ ...DEF, firewall: false }),
    'encryption': d({ ...DEF, encrypt: 'wireguard' }),
    'the peer network': d({ ...DEF, peerNetwork: '10.101.0.0/24' }),
    'a quota': d({ ...DEF, quota: { jail_max: 3, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null } }),
    'the guest network': d({ ...DEF, guestNetwork: { network: '10.9.0.0/24', gateway: null } }),
    'the name': d({ ...DEF, name: 'vpc2' }),
  };
  for (const [what, digest] of Object.entries(changed)) assert.notEqual(digest, base, what);
  assert.equal(new Set(Object.values(changed)).size, Object.keys(changed).length, 'every change gives its own digest');
});

test('the deployer computes the digest of what the member reads off the wire', () => {
  const expect = applyDigests(DEF, [...LAYERS]);
  const req = requestFromWire(JSON.stringify({ op: 'vpc_apply', vpc: 'vpc1', layers: LAYERS, dryrun: false, definition: DEF }));
  assert.equal(req.op, 'vpc_apply');
  if (req.op !== 'vpc_apply' || !req.definition) return;
  for (const m of members) assert.equal(expect(m), applyDigest(req.definition, m, req.layers), m);
  // An IPv6 address in another spelling reads back canonical: the digest follows the wire form.
  const v6: VpcWithMap = { ...DEF, family: 6, members: DEF.members.map((m, i) => ({ ...m, underlay: `2001:0db8:0000::${i + 1}` })) };
  assert.equal(applyDigests(v6, [...LAYERS])('h2'), applyDigest(wireForm(wireForm(v6)), 'h2', LAYERS));
  // A definition no member would take makes no member current.
  assert.equal(applyDigests({ ...DEF, peerNetwork: 'nonsense' }, [...LAYERS])('h2'), '');
});

const link = (name: string, over: Partial<ObservedLink> = {}): ObservedLink => ({
  name,
  index: 10,
  kind: 'vxlan',
  mtu: 1450,
  up: true,
  running: true,
  alias: `tunnel-to-${name}`,
  master: 'vpc1',
  isolated: true,
  vxlan: { vni: 100, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, learning: false, udp6zerocsumrx: false },
  addresses: [],
  counters: { rxBytes: 1, txBytes: 2, rxPackets: 3, txPackets: 4 },
  ...over,
});

test('the links fingerprint sees what an apply sets, and nothing else', () => {
  const owned = ['vxlan100', 'vpc1'];
  const bridge = link('vpc1', { kind: 'bridge', vxlan: null, master: null, isolated: false, addresses: ['10.0.0.1/24'] });
  const fp = (...links: ObservedLink[]): string => linkFingerprint(observedFrom(links), owned);
  const base = fp(link('vxlan100'), bridge);
  assert.equal(fp(bridge, link('vxlan100')), base, 'order');
  assert.equal(fp(link('vxlan100', { counters: null, running: false, index: 99 }), bridge), base, 'counters, carrier and index are not set by an apply');
  assert.equal(fp(link('vxlan100'), bridge, link('eth0', { kind: 'other' })), base, 'links the VPC does not own');
  assert.equal(linkFingerprint(observedFrom([link('vxlan100'), bridge]), [...owned].reverse()), base);
  const drifted: Record<string, string> = {
    'a tunnel deleted by hand': fp(bridge),
    'set down': fp(link('vxlan100', { up: false }), bridge),
    'another MTU': fp(link('vxlan100', { mtu: 1400 }), bridge),
    'off the bridge': fp(link('vxlan100', { master: null }), bridge),
    'split horizon off': fp(link('vxlan100', { isolated: false }), bridge),
    'another remote': fp(link('vxlan100', { vxlan: { vni: 100, local: '192.0.2.1', remote: '192.0.2.9', port: 4789, learning: false, udp6zerocsumrx: false } }), bridge),
    'an address gone': fp(link('vxlan100'), { ...bridge, addresses: [] }),
  };
  for (const [what, f] of Object.entries(drifted)) assert.notEqual(f, base, what);
});

test('a member is current only for the same digest with intact links', () => {
  const owned = ['vxlan100'];
  const now = observedFrom([link('vxlan100')]);
  const record = { digest: d(DEF), links: linkFingerprint(now, owned) };
  const said = appliedState(record, now, owned);
  assert.deepEqual(said, { digest: d(DEF), intact: true });
  assert.equal(isCurrent(said, d(DEF)), true);
  assert.equal(isCurrent(said, d(DEF, 'h3')), false, 'another digest');
  assert.equal(isCurrent(appliedState(record, observedFrom([]), owned), d(DEF)), false, 'its tunnel was deleted');
  assert.equal(appliedState(null, now, owned), null);
  assert.equal(isCurrent(null, d(DEF)), false);
  assert.equal(isCurrent(undefined, d(DEF)), false);
});

test("a member's claim is read strictly, and a garbled one is only 'unknown'", () => {
  const digest = d(DEF);
  assert.deepEqual(appliedFromWire({ digest, intact: true, extra: 1 }), { digest, intact: true });
  for (const bad of [null, 'x', [], { digest: 'abc', intact: true }, { digest, intact: 'yes' }, { digest: digest.toUpperCase(), intact: true }]) {
    assert.equal(appliedFromWire(bad), undefined, JSON.stringify(bad));
  }
});

test('every write of the local record forgets what was applied', () => {
  const home = mkdtempSync(join(tmpdir(), 'meshvpc-applied-'));
  try {
    const db = openDb(home, 'create');
    try {
      repo.putSelf(db, { nodename: 'h1', ip4: '192.0.2.1', ip6: null });
      repo.putVpc(db, DEF);
      repo.putPairs(db, DEF.name, DEF.pairs);
      const record = { digest: d(DEF, 'h1'), links: 'f'.repeat(64) };
      assert.equal(repo.getApplied(db, 'vpc1'), null, 'nothing applied yet');
      repo.putLocal(db, 'vpc1', { vxlan: true, bridge: true, bridgeIps: [], owned: ['vxlan100'] });
      repo.putApplied(db, 'vpc1', record);
      assert.deepEqual(repo.getApplied(db, 'vpc1'), record);
      repo.putLocal(db, 'vpc1', { vxlan: false, bridge: true, bridgeIps: [], owned: ['vxlan100'] });
      assert.equal(repo.getApplied(db, 'vpc1'), null);
      repo.putLocal(db, 'vpc1', { vxlan: true, bridge: true, bridgeIps: [], owned: ['vxlan100'] });
      repo.putApplied(db, 'vpc1', record);
      assert.deepEqual(repo.getApplied(db, 'vpc1'), record);
      repo.deleteVpc(db, 'vpc1');
      assert.equal(repo.getApplied(db, 'vpc1'), null, 'forgotten with the VPC');
    } finally {
      db.close();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
