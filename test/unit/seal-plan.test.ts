/** src/core/seal.ts: the WireGuard link a host needs (sealedEnds, sealSpec) and the ops that bring it there (planSeal). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planSeal, sealedEnds, sealSpec, WG_ALIAS, WG_IFNAME, type SealInput, type SealSpec } from '../../src/core/seal.js';
import { observedFrom } from '../../src/core/observed.js';
import { allocatePeerMap } from '../../src/core/peermap.js';
import { network } from '../../src/core/validate.js';
import type { Op } from '../../src/core/ops.js';
import { UserError } from '../../src/core/errors.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { applyToHost, EMPTY_HOST, identities, KEY_FILE, link, NODE1_ROTATED, NODE2_ROTATED, sealedVpc, WG_KEYS, WG_PORT, type WgHost } from './seal-fixtures.js';

const K = WG_KEYS as Record<'node1' | 'node2' | 'node3' | 'node4', string>;
const vpc1 = (): VpcWithMap => sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4);

function input(vpcs: readonly VpcWithMap[], over: Partial<SealInput> = {}): SealInput {
  return { self: 'node1', vpcs, identity: { key: K.node1, port: WG_PORT }, peers: identities(vpcs, 'node1'), underlayMtu: new Map(), ...over };
}

function spec(vpcs: readonly VpcWithMap[], over: Partial<SealInput> = {}): SealSpec {
  const s = sealSpec(input(vpcs, over));
  assert.ok(s, 'an encrypted VPC needs a WireGuard link');
  return s;
}

describe('sealedEnds', () => {
  test('each sealed tunnel of a host runs between its pair\'s seal addresses', () => {
    assert.deepEqual(sealedEnds('node2', [vpc1()]), [
      { vpc: 'vpc1', peer: 'node1', vni: 100, local: '198.51.100.6', remote: '198.51.100.5', prefix: 30 },
      { vpc: 'vpc1', peer: 'node3', vni: 102, local: '198.51.100.21', remote: '198.51.100.22', prefix: 30 },
    ]);
  });

  test('nothing for a cleartext VPC, a VPC the host is not in, or a pair whose other end has left', () => {
    assert.deepEqual(sealedEnds('node1', [sealedVpc('clear', ['node1', 'node2'], 4, { encrypt: false })]), []);
    assert.deepEqual(sealedEnds('node4', [vpc1()]), []);
    const left = { ...vpc1(), members: vpc1().members.filter((m) => m.node !== 'node3') };
    assert.deepEqual(sealedEnds('node1', [left]).map((e) => e.peer), ['node2']);
  });

  test('an encrypted pair without a seal block gets no sealed end (its tunnel fails alone); the other pairs keep theirs', () => {
    const v = vpc1();
    const broken = { ...v, pairs: v.pairs.map((p, i) => (i === 1 ? { ...p, sealSlot: null } : p)) };
    const ends = sealedEnds('node1', [broken]);
    assert.deepEqual(ends.map((e) => e.peer), sealedEnds('node1', [v]).map((e) => e.peer).filter((p) => p !== 'node3'));
  });
});

describe('sealSpec', () => {
  test('one peer per host with a sealed tunnel here: its key and port, its underlay, its seal address as a /32', () => {
    assert.deepEqual(spec([vpc1()]), {
      name: WG_IFNAME,
      alias: WG_ALIAS,
      port: WG_PORT,
      mtu: 1440,
      addresses: ['198.51.100.13/30', '198.51.100.5/30'],
      peers: [
        { node: 'node2', key: K.node2, endpoint: '192.0.2.2', port: WG_PORT, allowedIps: ['198.51.100.6/32'] },
        { node: 'node3', key: K.node3, endpoint: '192.0.2.3', port: WG_PORT, allowedIps: ['198.51.100.14/32'] },
      ],
      publicKey: K.node1,
    });
  });

  test('the port is this host\'s own; each peer\'s port is the one it said', () => {
    const vpcs = [sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4, { ports: { node3: 51999 } })];
    const s = spec(vpcs, { identity: { key: K.node1, port: 51821 } });
    assert.equal(s.port, 51821);
    assert.deepEqual(s.peers.map((p) => [p.node, p.port]), [['node2', WG_PORT], ['node3', 51999]]);
  });

  test('an IPv6 peer network gives /128 allowed IPs; an IPv6 underlay gives IPv6 endpoints', () => {
    const s = spec([sealedVpc('vpc6', ['node1', 'node2'], 6, { peerNetwork: 'fd00:99::/64' })]);
    assert.deepEqual(s.addresses, ['fd00:99::5/126']);
    assert.deepEqual(s.peers, [{ node: 'node2', key: K.node2, endpoint: '2001:db8::2', port: WG_PORT, allowedIps: ['fd00:99::6/128'] }]);
    assert.equal(s.mtu, 1420);
  });

  test('a peer in two encrypted VPCs: one WireGuard peer with both seal addresses, its endpoint from the first VPC by name', () => {
    const taken = new Set<number>();
    const b4 = sealedVpc('bvpc', ['node1', 'node2'], 4, { taken });
    const a6 = sealedVpc('avpc', ['node1', 'node2', 'node3'], 6, { taken, peerNetwork: 'fd00:99::/64' });
    // Given in either order, avpc comes first.
    for (const vpcs of [[b4, a6], [a6, b4]]) {
      const s = spec(vpcs);
      assert.deepEqual(s.peers, [
        { node: 'node2', key: K.node2, endpoint: '2001:db8::2', port: WG_PORT, allowedIps: ['198.51.100.6/32', 'fd00:99::6/128'] },
        { node: 'node3', key: K.node3, endpoint: '2001:db8::3', port: WG_PORT, allowedIps: ['fd00:99::e/128'] },
      ]);
      assert.deepEqual(s.addresses, ['198.51.100.5/30', 'fd00:99::5/126', 'fd00:99::d/126']);
    }
  });

  test('no peer for a pair this host is not in, nor for the members of a VPC it is not in', () => {
    const vpcs = [vpc1(), sealedVpc('far', ['node2', 'node4'], 4, { taken: new Set([100, 101, 102]), peerNetwork: '203.0.113.0/26' })];
    const s = spec(vpcs);
    assert.deepEqual(s.peers.map((p) => p.node), ['node2', 'node3']);
    // node2-node3's seal addresses (.21, .22) are not this host's business.
    assert.deepEqual(s.peers.flatMap((p) => p.allowedIps), ['198.51.100.6/32', '198.51.100.14/32']);
    assert.ok(!s.addresses.some((a) => a.startsWith('203.0.113.')));
  });

  test('null when no active VPC of this host is encrypted', () => {
    assert.equal(sealSpec(input([])), null);
    assert.equal(sealSpec(input([sealedVpc('clear', ['node1', 'node2'], 4, { encrypt: false })])), null);
    assert.equal(sealSpec(input([sealedVpc('far', ['node2', 'node3'], 4)])), null);
    assert.equal(sealSpec(input([sealedVpc('solo', ['node1'], 4)])), null, 'a VPC of one member has no tunnel');
  });

  test('a peer whose key is not known gets no WireGuard entry (its tunnel carries nothing: closed), the others theirs', () => {
    const vpcs = [vpc1()];
    const peers = identities(vpcs, 'node1');
    peers.delete('node3');
    const s = sealSpec(input(vpcs, { peers }));
    assert.deepEqual(s?.peers.map((p) => p.node), ['node2']);
    // Its seal address stays on the link (the route into WireGuard, where nothing takes it).
    assert.equal(s?.addresses.length, 2);
  });
});

/** The WireGuard link as it is after `ops` ran on `host` (the key file holds `key`'s private half). */
const after = (host: WgHost, ops: readonly Op[], key = K.node1): WgHost => applyToHost(host, ops, () => key);
const planOn = (s: SealSpec | null, host: WgHost): Op[] => planSeal(s, host.observed, host.seal, KEY_FILE);

describe('planSeal', () => {
  test('from nothing: the link, its key and port, one peer each, its addresses, up', () => {
    assert.deepEqual(planOn(spec([vpc1()]), EMPTY_HOST), [
      { op: 'create_wireguard', name: WG_IFNAME, mtu: 1440, alias: WG_ALIAS },
      { op: 'set_wireguard', name: WG_IFNAME, port: WG_PORT, keyFile: KEY_FILE },
      { op: 'wireguard_peer', name: WG_IFNAME, key: K.node2, endpoint: '192.0.2.2:51820', allowedIps: ['198.51.100.6/32'] },
      { op: 'wireguard_peer', name: WG_IFNAME, key: K.node3, endpoint: '192.0.2.3:51820', allowedIps: ['198.51.100.14/32'] },
      { op: 'add_addr', name: WG_IFNAME, cidr: '198.51.100.13/30' },
      { op: 'add_addr', name: WG_IFNAME, cidr: '198.51.100.5/30' },
      { op: 'set_up', name: WG_IFNAME },
    ]);
  });

  test('idempotent: planned, applied and read back, nothing is left to do (IPv4 and IPv6, one or two VPCs)', () => {
    const taken = new Set<number>();
    const cases = [
      [vpc1()],
      [sealedVpc('vpc6', ['node1', 'node2', 'node3'], 6, { peerNetwork: 'fd00:99::/64' })],
      [sealedVpc('a', ['node1', 'node2', 'node3'], 4, { taken }), sealedVpc('b', ['node1', 'node3', 'node4'], 6, { taken, peerNetwork: 'fd00:99::/64' })],
    ];
    for (const vpcs of cases) {
      const s = spec(vpcs);
      const host = after(EMPTY_HOST, planOn(s, EMPTY_HOST));
      assert.deepEqual(planOn(s, host), [], vpcs.map((v) => v.name).join());
    }
  });

  test('what the kernel adds on its own (an IPv6 link-local address) is left alone', () => {
    const s = spec([vpc1()]);
    const host = after(EMPTY_HOST, planOn(s, EMPTY_HOST));
    const l = host.observed.get(WG_IFNAME);
    assert.ok(l);
    const withLinkLocal = { ...host, observed: observedFrom([{ ...l, addresses: [...l.addresses, 'fe80::1/64'] }]) };
    assert.deepEqual(planOn(s, withLinkLocal), []);
  });

  test('a link of that name without meshvpc\'s mark is refused, never taken over', () => {
    for (const alias of [null, 'someone-elses']) {
      const host = { observed: observedFrom([link({ name: WG_IFNAME, alias })]), seal: null };
      assert.throws(
        () => planOn(spec([vpc1()]), host),
        (e: unknown) =>
          e instanceof UserError &&
          e.kind === 'conflict' &&
          /^interface meshvpc-wg already exists on this host and is not meshvpc's \(other, (no meshvpc alias|alias "someone-elses")\): meshvpc will not take it over; rename or remove it before using encrypt=wireguard$/.test(e.message),
      );
    }
  });

  test('an unmarked link left by a run of this host that died while making it (its creation marker) is marked and configured; a bridge or veth of that name still is not', () => {
    const orphan = { observed: observedFrom([link({ name: WG_IFNAME, alias: null })]), seal: null };
    const ops = planSeal(spec([vpc1()]), orphan.observed, null, KEY_FILE, true);
    assert.deepEqual(ops[0], { op: 'set_alias', name: WG_IFNAME, alias: WG_ALIAS });
    assert.ok(!ops.some((o) => o.op === 'create_wireguard'), 'the link is there: not made again');
    assert.ok(ops.some((o) => o.op === 'set_wireguard') && ops.some((o) => o.op === 'wireguard_peer'));
    assert.deepEqual(planSeal(null, orphan.observed, null, KEY_FILE, true), [{ op: 'set_alias', name: WG_IFNAME, alias: WG_ALIAS }, { op: 'delete_link', name: WG_IFNAME }]);
    for (const kind of ['bridge', 'veth', 'vxlan'] as const) {
      const theirs = observedFrom([link({ name: WG_IFNAME, alias: null, kind })]);
      assert.throws(() => planSeal(spec([vpc1()]), theirs, null, KEY_FILE, true), /not meshvpc's/);
      assert.deepEqual(planSeal(null, theirs, null, KEY_FILE, true), []);
    }
  });

  test('a peer\'s rotated key: one wireguard_peer that replaces the old key in the same wg set, nothing removed apart', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    const rotated = spec([sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4, { keys: { ...K, node2: NODE2_ROTATED } })]);
    const ops = planOn(rotated, host);
    assert.deepEqual(ops, [{ op: 'wireguard_peer', name: WG_IFNAME, key: NODE2_ROTATED, endpoint: '192.0.2.2:51820', allowedIps: ['198.51.100.6/32'], replaces: K.node2 }]);
    const now = after(host, ops);
    assert.deepEqual(now.seal?.peers.map((p) => p.key).sort(), [NODE2_ROTATED, K.node3].sort());
    assert.deepEqual(planOn(rotated, now), []);
  });

  test('two peers rotated at once: each replaces its own old key', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    const rotated = spec([sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4, { keys: { ...K, node2: NODE2_ROTATED, node3: NODE1_ROTATED } })]);
    const ops = planOn(rotated, host);
    assert.deepEqual(ops.map((o) => (o.op === 'wireguard_peer' ? [o.key, o.replaces] : [o.op])), [[NODE2_ROTATED, K.node2], [NODE1_ROTATED, K.node3]]);
    assert.deepEqual(planOn(rotated, after(host, ops)), []);
  });

  test('a peer that left: removed, with this host\'s seal address of that pair', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    const two = spec([sealedVpc('vpc1', ['node1', 'node2'], 4)]);
    const ops = planOn(two, host);
    assert.deepEqual(ops, [
      { op: 'wireguard_peer_remove', name: WG_IFNAME, key: K.node3 },
      { op: 'del_addr', name: WG_IFNAME, cidr: '198.51.100.13/30' },
    ]);
    assert.deepEqual(planOn(two, after(host, ops)), []);
  });

  test('a member that left and one that joined into its freed seal block: one wg set moves the address to the newcomer', () => {
    const first = vpc1();
    const host = after(EMPTY_HOST, planOn(spec([first]), EMPTY_HOST));
    const next = sealedVpc('vpc1', ['node1', 'node2', 'node4'], 4);
    const swapped = { ...next, pairs: allocatePeerMap({ members: ['node1', 'node2', 'node4'], network: network(next.peerNetwork, 'peer_network'), existing: first.pairs, takenVnis: new Set(), sealed: true }) };
    const s = spec([swapped]);
    // node1-node4 takes node1-node3's blocks (2 and 3): the same seal addresses, another key.
    assert.deepEqual(s.peers.map((p) => [p.node, p.allowedIps]), [['node2', ['198.51.100.6/32']], ['node4', ['198.51.100.14/32']]]);
    const ops = planOn(s, host);
    assert.deepEqual(ops, [{ op: 'wireguard_peer', name: WG_IFNAME, key: K.node4, endpoint: '192.0.2.4:51820', allowedIps: ['198.51.100.14/32'], replaces: K.node3 }]);
    const now = after(host, ops);
    assert.deepEqual(now.seal?.peers.map((p) => p.key).sort(), [K.node2, K.node4].sort());
    assert.deepEqual(planOn(s, now), []);
  });

  test('a peer whose underlay moved: its endpoint again, under the same key', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    const v = vpc1();
    const moved = spec([{ ...v, members: v.members.map((m) => (m.node === 'node3' ? { ...m, underlay: '192.0.2.33' } : m)) }]);
    assert.deepEqual(planOn(moved, host), [{ op: 'wireguard_peer', name: WG_IFNAME, key: K.node3, endpoint: '192.0.2.33:51820', allowedIps: ['198.51.100.14/32'] }]);
  });

  test('this host\'s port or private key changed: set_wireguard only', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    const set = { op: 'set_wireguard', name: WG_IFNAME, port: 51900, keyFile: KEY_FILE };
    assert.deepEqual(planOn(spec([vpc1()], { identity: { key: K.node1, port: 51900 } }), host), [set]);
    // A new key file: the link still answers with the old public key, so the key is given again.
    const rekeyed = spec([vpc1()], { identity: { key: NODE1_ROTATED, port: WG_PORT } });
    assert.deepEqual(planOn(rekeyed, host), [{ ...set, port: WG_PORT }]);
    assert.deepEqual(planOn(rekeyed, after(host, planOn(rekeyed, host), NODE1_ROTATED)), []);
  });

  test('a link whose wg state cannot be read is given its key and every peer again', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    assert.deepEqual(planOn(spec([vpc1()]), { ...host, seal: null }).map((o) => o.op), ['set_wireguard', 'wireguard_peer', 'wireguard_peer']);
  });

  test('MTU drift and a link left down are repaired in place', () => {
    const s = spec([vpc1()]);
    const host = after(EMPTY_HOST, planOn(s, EMPTY_HOST));
    const l = host.observed.get(WG_IFNAME);
    assert.ok(l);
    assert.deepEqual(planOn(s, { ...host, observed: observedFrom([{ ...l, mtu: 1420, up: false }]) }), [
      { op: 'set_mtu', name: WG_IFNAME, mtu: 1440 },
      { op: 'set_up', name: WG_IFNAME },
    ]);
  });

  test('no encrypted VPC left: meshvpc\'s link is removed; no link, or a link that is not meshvpc\'s, is left alone', () => {
    const host = after(EMPTY_HOST, planOn(spec([vpc1()]), EMPTY_HOST));
    assert.deepEqual(planOn(null, host), [{ op: 'delete_link', name: WG_IFNAME }]);
    assert.deepEqual(planOn(null, EMPTY_HOST), []);
    // Someone else's interface of that name must not break the applies of cleartext VPCs.
    assert.deepEqual(planOn(null, { observed: observedFrom([link({ name: WG_IFNAME, alias: null })]), seal: null }), []);
    assert.deepEqual(planOn(null, after(host, planOn(null, host))), []);
  });
});
