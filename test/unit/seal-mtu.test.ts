/**
 * The MTU chain of encrypt=wireguard: the underlay carries WireGuard, whose
 * link carries VXLAN between seal addresses, which carries the guests' frames.
 * WireGuard's header is in the underlay's family (60 / 80), VXLAN's in the
 * seal addresses' family, the peer network's (50 / 70); in cleartext VXLAN
 * runs over the underlay itself.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildHostSpec, type HostSpecInput } from '../../src/core/spec.js';
import { allocatePeerMap } from '../../src/core/peermap.js';
import { observedFrom } from '../../src/core/observed.js';
import { plan } from '../../src/core/planner.js';
import { VXLAN_OVERHEAD } from '../../src/core/mtu.js';
import { sealSpec, WG_OVERHEAD } from '../../src/core/seal.js';
import { network } from '../../src/core/validate.js';
import { specInput, V4, V6 } from './spec-fixtures.js';
import { identities, link, sealedVpc, WG_KEYS, WG_PORT } from './seal-fixtures.js';

const NET = { 4: '10.100.0.0/24', 6: 'fd00:100::/64' } as const;

/** h1's view of a 3-host VPC over an IPv`under` underlay with an IPv`peer` peer network. */
function input(under: 4 | 6, peer: 4 | 6, encrypted: boolean, over: Partial<HostSpecInput> = {}): HostSpecInput {
  return specInput({
    pairs: allocatePeerMap({ members: ['h1', 'h2', 'h3'], network: network(NET[peer], 'peer_network'), existing: [], takenVnis: new Set(), sealed: encrypted }),
    family: under,
    underlay: under === 4 ? V4 : V6,
    peerNetwork: NET[peer],
    encrypt: encrypted ? 'wireguard' : 'none',
    layers: { vxlan: true, bridge: true },
    ...over,
  });
}

const mtus = (i: HostSpecInput): number[] => {
  const spec = buildHostSpec(i);
  return [...spec.tunnels.map((t) => t.mtu), spec.bridge?.mtu ?? -1];
};

test('the overheads: WireGuard is outer IP + UDP 8 + data header 16 + tag 16, VXLAN is outer IP + 8 + 8 + inner Ethernet 14', () => {
  assert.deepEqual(WG_OVERHEAD, { 4: 20 + 8 + 16 + 16, 6: 40 + 8 + 16 + 16 });
  assert.deepEqual(VXLAN_OVERHEAD, { 4: 50, 6: 70 });
});

describe('buildHostSpec: tunnel MTU for every underlay family, peer network family and encryption', () => {
  // [underlay family, peer network family, underlay MTU, cleartext, encrypted]
  const cases: [4 | 6, 4 | 6, number, number, number][] = [
    [4, 4, 1500, 1450, 1390], // 1500 - 50 | 1500 - 60 - 50
    [4, 6, 1500, 1450, 1370], // 1500 - 50 | 1500 - 60 - 70
    [6, 4, 1500, 1430, 1370], // 1500 - 70 | 1500 - 80 - 50
    [6, 6, 1500, 1430, 1350], // 1500 - 70 | 1500 - 80 - 70
    [4, 4, 9000, 8950, 8890],
    [4, 6, 9000, 8950, 8870],
    [6, 4, 9000, 8930, 8870],
    [6, 6, 9000, 8930, 8850],
    [6, 6, 1420, 1350, 1270],
  ];
  for (const [under, peer, underlayMtu, clear, sealed] of cases) {
    test(`IPv${under} underlay of MTU ${underlayMtu}, IPv${peer} peer network: ${clear} in cleartext, ${sealed} encrypted`, () => {
      const underlay = new Map([['h2', underlayMtu], ['h3', underlayMtu]]);
      assert.deepEqual(mtus(input(under, peer, false, { underlayMtu: underlay })), [clear, clear, clear]);
      assert.deepEqual(mtus(input(under, peer, true, { underlayMtu: underlay })), [sealed, sealed, sealed]);
    });
  }

  test('one MTU for the segment: the smallest peer path decides, encrypted or not', () => {
    const underlayMtu = new Map([['h2', 9000], ['h3', 1500]]);
    assert.deepEqual(mtus(input(4, 4, true, { underlayMtu })), [1390, 1390, 1390]);
    assert.deepEqual(mtus(input(6, 4, true, { underlayMtu })), [1370, 1370, 1370]);
    assert.deepEqual(mtus(input(6, 6, false, { underlayMtu })), [1430, 1430, 1430]);
  });

  test('an unmeasured path counts as 1500; with no tunnel the bridge takes what a 1500 path would give', () => {
    assert.deepEqual(mtus(input(4, 4, true, { underlayMtu: new Map() })), [1390, 1390, 1390]);
    for (const [under, peer, want] of [[4, 4, 1390], [4, 6, 1370], [6, 4, 1370], [6, 6, 1350]] as const) {
      assert.equal(buildHostSpec(input(under, peer, true, { pairs: [] })).bridge?.mtu, want, `IPv${under}/IPv${peer}`);
      assert.equal(buildHostSpec(input(under, peer, false, { pairs: [] })).bridge?.mtu, under === 4 ? 1450 : 1430);
    }
  });

  test('an explicit mtu= wins over the derivation, encrypted or not', () => {
    for (const encrypted of [false, true]) {
      assert.deepEqual(mtus(input(6, 6, encrypted, { mtu: 1300, underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) })), [1300, 1300, 1300]);
      assert.equal(buildHostSpec(input(4, 4, encrypted, { mtu: 1300, pairs: [] })).bridge?.mtu, 1300);
    }
  });

  test('a measured cap (check_mtu fix=1) lowers an encrypted tunnel and never raises one; mtu= is capped too', () => {
    assert.deepEqual(mtus(input(4, 4, true, { mtuCaps: new Map([['h3', 1354]]) })), [1354, 1354, 1354]);
    assert.deepEqual(mtus(input(4, 4, true, { mtuCaps: new Map([['h3', 9000]]) })), [1390, 1390, 1390]);
    assert.deepEqual(mtus(input(6, 4, true, { mtu: 1360, mtuCaps: new Map([['h2', 1300]]) })), [1300, 1300, 1300]);
  });
});

describe('buildHostSpec: where an encrypted tunnel runs', () => {
  test('between the two ends of its pair\'s seal block, not the underlay; its own block stays its address', () => {
    const spec = buildHostSpec(input(6, 4, true));
    assert.deepEqual(
      spec.tunnels.map((t) => [t.name, t.peer, t.local, t.remote, t.address]),
      [
        // Block 0 (.1/.2) is the pair's, block 1 (.5/.6) its seal block; then blocks 2 and 3.
        ['vxlan100', 'h2', '10.100.0.5', '10.100.0.6', '10.100.0.1/30'],
        ['vxlan101', 'h3', '10.100.0.13', '10.100.0.14', '10.100.0.9/30'],
      ],
    );
    const h3 = buildHostSpec(input(6, 4, true, { self: 'h3' }));
    assert.deepEqual(h3.tunnels.map((t) => [t.peer, t.local, t.remote]), [['h1', '10.100.0.14', '10.100.0.13'], ['h2', '10.100.0.22', '10.100.0.21']]);
    const clear = buildHostSpec(input(6, 4, false));
    assert.deepEqual(clear.tunnels.map((t) => [t.local, t.remote]), [['2001:db8::1', '2001:db8::2'], ['2001:db8::1', '2001:db8::3']]);
  });

  test('udp6zerocsumrx follows the VXLAN packet\'s own family: the seal addresses\' when encrypted', () => {
    assert.ok(buildHostSpec(input(6, 4, true)).tunnels.every((t) => !t.udp6zerocsumrx));
    assert.ok(buildHostSpec(input(4, 6, true)).tunnels.every((t) => t.udp6zerocsumrx));
    assert.ok(buildHostSpec(input(6, 4, false)).tunnels.every((t) => t.udp6zerocsumrx));
    assert.ok(buildHostSpec(input(4, 6, false)).tunnels.every((t) => !t.udp6zerocsumrx));
  });

  test('an encrypted tunnel read back as FreeBSD reports it (zero checksums by the remote\'s family) needs nothing more', () => {
    for (const [under, peer] of [[6, 4], [4, 6], [4, 4], [6, 6]] as const) {
      const spec = buildHostSpec(input(under, peer, true, { layers: { vxlan: true, bridge: false } }));
      const observed = observedFrom(
        spec.tunnels.map((t) =>
          link({
            name: t.name,
            kind: 'vxlan',
            mtu: t.mtu,
            alias: t.alias,
            addresses: [t.address],
            vxlan: { vni: t.vni, local: t.local, remote: t.remote, port: t.port, learning: false, udp6zerocsumrx: t.remote.includes(':') },
          }),
        ),
      );
      assert.deepEqual(plan({ ...spec, owned: spec.tunnels.map((t) => t.name) }, observed), [], `IPv${under} underlay, IPv${peer} peer network`);
    }
  });

  test('an encrypted VPC whose pair has no seal block is refused, not carried in cleartext', () => {
    const pairs = allocatePeerMap({ members: ['h1', 'h2', 'h3'], network: network(NET[4], 'peer_network'), existing: [], takenVnis: new Set() });
    assert.throws(() => buildHostSpec(input(4, 4, true, { pairs })), /vpc1 is encrypted but the pair of VXLAN id 100 has no seal block/);
  });
});

describe('sealSpec: the WireGuard link\'s MTU', () => {
  const vpcs4 = [sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4)];
  const vpcs6 = [sealedVpc('vpc6', ['node1', 'node2', 'node3'], 6, { peerNetwork: 'fd00:99::/64' })];
  const linkMtu = (vpcs: typeof vpcs4, underlayMtu: Map<string, number>): number | undefined =>
    sealSpec({ self: 'node1', vpcs, identity: { key: WG_KEYS.node1 as string, port: WG_PORT }, peers: identities(vpcs, 'node1'), underlayMtu })?.mtu;

  test('the smallest of the paths to its peers, less WireGuard\'s overhead in each path\'s family', () => {
    assert.equal(linkMtu(vpcs4, new Map([['192.0.2.2', 1500], ['192.0.2.3', 1500]])), 1440);
    assert.equal(linkMtu(vpcs4, new Map([['192.0.2.2', 9000], ['192.0.2.3', 1400]])), 1340);
    assert.equal(linkMtu(vpcs6, new Map([['2001:db8::2', 9000], ['2001:db8::3', 9000]])), 8920);
    assert.equal(linkMtu(vpcs6, new Map()), 1420, 'an unmeasured path counts as 1500');
    // Two encrypted VPCs, one over each family: the IPv6 path of 1500 is the tighter.
    const both = [sealedVpc('a4', ['node1', 'node2'], 4), sealedVpc('b6', ['node1', 'node3'], 6, { peerNetwork: 'fd00:99::/64', taken: new Set([100]) })];
    assert.equal(linkMtu(both, new Map([['192.0.2.2', 1500], ['2001:db8::3', 1500]])), 1420);
  });

  test('a full-size tunnel frame fills the link exactly: tunnel MTU + VXLAN (seal family) = link MTU', () => {
    for (const [under, peer] of [[4, 4], [4, 6], [6, 4], [6, 6]] as const) {
      const vpcs = [sealedVpc('vpc1', ['node1', 'node2', 'node3'], under, peer === 4 ? {} : { peerNetwork: 'fd00:99::/64' })];
      const wgMtu = linkMtu(vpcs, new Map());
      const tunnel = buildHostSpec(input(under, peer, true)).tunnels[0]?.mtu ?? 0;
      assert.equal(tunnel + VXLAN_OVERHEAD[peer], wgMtu, `IPv${under} underlay, IPv${peer} peer network`);
    }
  });
});
