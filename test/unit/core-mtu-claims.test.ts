/**
 * src/core/mtu-claims.ts: a tunnel takes the smaller of this host's route,
 * its own underlay link and the peer's reported link; a claim only lowers,
 * and never below MIN_TUNNEL_MTU; the segment takes the smallest tunnel.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostLinkMtus, linkMtuOf, mtuSpread, peerTunnelMtu, withLinkMtus, type PeerMtuInput } from '../../src/core/mtu-claims.js';
import { MIN_TUNNEL_MTU } from '../../src/core/mtu.js';
import { buildHostSpec } from '../../src/core/spec.js';
import type { ObservedLink } from '../../src/core/observed.js';
import type { VpcDef } from '../../src/core/types.js';
import { specInput, V6 } from './spec-fixtures.js';

const tunnel = (over: Partial<PeerMtuInput>): number => peerTunnelMtu({ family: 4, route: 1500, explicit: null, ...over });

describe('peerTunnelMtu: the smallest of route, own link and peer link, less the overhead', () => {
  const cases: [string, Partial<PeerMtuInput>, number][] = [
    ['route only, IPv4', {}, 1450],
    ['route only, IPv6', { family: 6 }, 1430],
    ['the peer link is smaller (IPv4)', { peerLink: 1400 }, 1350],
    ['the peer link is smaller (IPv6)', { family: 6, peerLink: 1400 }, 1330],
    ['the own link is smaller', { ownLink: 1420 }, 1370],
    ['the route is smallest', { route: 1380, ownLink: 1500, peerLink: 1450 }, 1330],
    ['a bigger peer link does not raise the route', { peerLink: 9000 }, 1450],
    ['a bigger own link does not raise the route', { ownLink: 65536 }, 1450],
    ['jumbo everywhere', { route: 9000, ownLink: 9000, peerLink: 9000 }, 8950],
    ['jumbo here, 1500 there', { route: 9000, ownLink: 9000, peerLink: 1500 }, 1450],
    ['jumbo here, 1500 there, IPv6', { family: 6, route: 9000, ownLink: 9000, peerLink: 1500 }, 1430],
    ['no claim (an older peer)', { peerLink: null, ownLink: null }, 1450],
  ];
  for (const [what, over, want] of cases) {
    test(`${what} -> ${want}`, () => assert.equal(tunnel(over), want));
  }

  test('a claim never takes a tunnel below MIN_TUNNEL_MTU (IPv4 and IPv6)', () => {
    assert.equal(tunnel({ peerLink: 1300 }), MIN_TUNNEL_MTU);
    assert.equal(tunnel({ peerLink: 576 }), MIN_TUNNEL_MTU);
    assert.equal(tunnel({ family: 6, peerLink: 1349 }), MIN_TUNNEL_MTU);
    assert.equal(tunnel({ family: 6, peerLink: 1350 }), 1280, 'exactly the floor');
    assert.equal(tunnel({ peerLink: 1331 }), 1281, 'just above it, obeyed');
  });

  test("this host's own knowledge may still go lower (its route, its link, a measured cap)", () => {
    assert.equal(tunnel({ route: 1300, peerLink: 576 }), 1250);
    assert.equal(tunnel({ ownLink: 1300, peerLink: 576 }), 1250);
    assert.equal(tunnel({ peerLink: 1300, cap: 1200 }), 1200);
  });

  test('mtu= replaces the derivation as before (claims and links do not change it); a cap still bounds it', () => {
    assert.equal(tunnel({ explicit: 1400, peerLink: 1300, ownLink: 1300, route: 1300 }), 1400);
    assert.equal(tunnel({ explicit: 8000, route: 1500 }), 8000);
    assert.equal(tunnel({ explicit: 1400, cap: 1350 }), 1350);
  });

  test('encrypt=wireguard: WireGuard wraps VXLAN, so its overhead comes off every link first', () => {
    assert.equal(tunnel({ wrap: 60 }), 1390);
    assert.equal(tunnel({ wrap: 60, peerLink: 1400 }), 1290);
    assert.equal(tunnel({ family: 6, wrap: 80, ownLink: 1400 }), 1250, "this host's own link may go below the floor");
    assert.equal(tunnel({ wrap: 60, peerLink: 1380 }), MIN_TUNNEL_MTU, 'a claim still stops at the floor');
  });

  test('a cap bounds the derived MTU, never raises it', () => {
    assert.equal(tunnel({ peerLink: 1400, cap: 1440 }), 1350);
    assert.equal(tunnel({ cap: 1352 }), 1352);
  });
});

describe('buildHostSpec with claims: every tunnel and the bridge take the smallest', () => {
  test("h3's 1400 link: h1's tunnels to h2 and h3 and its bridge use 1350 (IPv4)", () => {
    const spec = buildHostSpec(specInput({ layers: { vxlan: true, bridge: true }, peerLinkMtu: new Map([['h2', 1500], ['h3', 1400]]), ownLinkMtu: 1500 }));
    assert.deepEqual(spec.tunnels.map((t) => [t.peer, t.mtu]), [['h2', 1350], ['h3', 1350]]);
    assert.equal(spec.bridge?.mtu, 1350);
  });

  test('the same over IPv6: 1330', () => {
    const spec = buildHostSpec(specInput({ family: 6, underlay: V6, layers: { vxlan: true, bridge: true }, peerLinkMtu: new Map([['h3', 1400]]) }));
    assert.deepEqual(spec.tunnels.map((t) => t.mtu), [1330, 1330]);
    assert.equal(spec.bridge?.mtu, 1330);
  });

  test('seen from h3 itself: its own link limits every tunnel', () => {
    const spec = buildHostSpec(specInput({ self: 'h3', ownLinkMtu: 1400, peerLinkMtu: new Map([['h1', 1500], ['h2', 1500]]) }));
    assert.deepEqual(spec.tunnels.map((t) => [t.peer, t.mtu]), [['h1', 1350], ['h2', 1350]]);
  });

  test('jumbo members with one 1500 member: the segment is 1450', () => {
    const jumbo = new Map([['h2', 9000], ['h3', 9000]]);
    assert.deepEqual(buildHostSpec(specInput({ underlayMtu: jumbo, ownLinkMtu: 9000, peerLinkMtu: new Map([['h2', 9000], ['h3', 9000]]) })).tunnels.map((t) => t.mtu), [8950, 8950]);
    assert.deepEqual(buildHostSpec(specInput({ underlayMtu: jumbo, ownLinkMtu: 9000, peerLinkMtu: new Map([['h2', 9000], ['h3', 1500]]) })).tunnels.map((t) => t.mtu), [1450, 1450]);
  });

  test('a claim below what a 1280 tunnel needs is clamped: the segment stays at 1280', () => {
    const spec = buildHostSpec(specInput({ layers: { vxlan: true, bridge: true }, peerLinkMtu: new Map([['h3', 600]]) }));
    assert.deepEqual(spec.tunnels.map((t) => t.mtu), [1280, 1280]);
    assert.equal(spec.bridge?.mtu, 1280);
  });

  test('no claims, no own link: exactly as before', () => {
    assert.deepEqual(buildHostSpec(specInput()).tunnels.map((t) => t.mtu), [1450, 1450]);
    assert.deepEqual(buildHostSpec(specInput({ mtu: 1400, peerLinkMtu: new Map([['h3', 1300]]) })).tunnels.map((t) => t.mtu), [1400, 1400]);
  });
});

const link = (name: string, mtu: number, addresses: string[]): ObservedLink => ({
  name, index: 1, kind: 'other', mtu, up: true, running: true, alias: null, master: null, isolated: false, vxlan: null, addresses,
});

describe('linkMtuOf and hostLinkMtus: the link that holds the underlay address', () => {
  const links = [link('lo', 65536, ['127.0.0.1/8', '::1/128']), link('eth0', 1400, ['192.0.2.3/24', '2001:db8:0:1::3/64']), link('eth1', 9000, ['198.51.100.7/24'])];
  test('found by address, either family, whatever the prefix or spelling', () => {
    assert.equal(linkMtuOf(links, '192.0.2.3'), 1400);
    assert.equal(linkMtuOf(links, '2001:DB8:0:1:0::3'), 1400);
    assert.equal(linkMtuOf(links, '198.51.100.7'), 9000);
  });
  test('an address no link holds (behind NAT, say): no claim', () => {
    assert.equal(linkMtuOf(links, '203.0.113.9'), null);
    assert.equal(linkMtuOf(links, ''), null);
    assert.deepEqual(hostLinkMtus(links, { ip4: '203.0.113.9', ip6: null }), {});
  });
  test('per family', () => {
    assert.deepEqual(hostLinkMtus(links, { ip4: '192.0.2.3', ip6: '2001:db8:0:1::3' }), { ip4: 1400, ip6: 1400 });
    assert.deepEqual(hostLinkMtus(links, { ip4: '198.51.100.7', ip6: null }), { ip4: 9000 });
  });
});

const vpc = (over: Partial<VpcDef> = {}): VpcDef => ({
  name: 'vpc1',
  peerNetwork: '198.51.100.0/26',
  family: 4,
  mtu: null,
  firewall: true,
  members: [
    { node: 'host1', underlay: '192.0.2.1' },
    { node: 'host2', underlay: '192.0.2.2' },
    { node: 'host3', underlay: '192.0.2.3' },
  ],
  ...over,
});

describe('withLinkMtus: what each member said goes into its record', () => {
  test('the family of the VPC is taken', () => {
    const reports = new Map([['host1', { ip4: 1500, ip6: 9000 }], ['host2', { ip4: 1500 }], ['host3', { ip4: 1400 }]]);
    assert.deepEqual(withLinkMtus(vpc(), reports).members.map((m) => [m.node, m.mtu]), [['host1', 1500], ['host2', 1500], ['host3', 1400]]);
    const v6 = vpc({ family: 6, members: [{ node: 'host1', underlay: '2001:db8::1' }, { node: 'host2', underlay: '2001:db8::2' }] });
    assert.deepEqual(withLinkMtus(v6, reports).members.map((m) => [m.node, m.mtu]), [['host1', 9000], ['host2', undefined]]);
  });
  test('a member that did not answer keeps its last claim; one too old to say loses it', () => {
    const before = vpc({ members: [{ node: 'host1', underlay: '192.0.2.1', mtu: 1500 }, { node: 'host2', underlay: '192.0.2.2', mtu: 1400 }, { node: 'host3', underlay: '192.0.2.3', mtu: 1400 }] });
    const after = withLinkMtus(before, new Map([['host1', { ip4: 1500 }], ['host3', null]]));
    assert.deepEqual(after.members, [
      { node: 'host1', underlay: '192.0.2.1', mtu: 1500 },
      { node: 'host2', underlay: '192.0.2.2', mtu: 1400 },
      { node: 'host3', underlay: '192.0.2.3' },
    ]);
    assert.ok(!('mtu' in (after.members[2] ?? {})), 'no mtu key at all: stored and compared as an older peer would send it');
  });
  test('nothing else of the definition changes', () => {
    const before = vpc();
    const after = withLinkMtus(before, new Map());
    assert.deepEqual(after, before);
  });
});

describe('mtuSpread: what deploy warns about', () => {
  const claims = (...mtus: (number | undefined)[]): VpcDef =>
    vpc({ members: mtus.map((mtu, i) => ({ node: `host${i + 1}`, underlay: `192.0.2.${i + 1}`, ...(mtu === undefined ? {} : { mtu }) })) });
  test('equal links, or too few claims: nothing to say', () => {
    assert.equal(mtuSpread(claims(1500, 1500, 1500)), null);
    assert.equal(mtuSpread(claims(1400, undefined, undefined)), null);
    assert.equal(mtuSpread(claims()), null);
  });
  test("host3's 1400: its tunnels and the segment use 1350, the others would allow 1450", () => {
    assert.deepEqual(mtuSpread(claims(1500, 1500, 1400)), { vpc: 'vpc1', smaller: [{ node: 'host3', link: 1400, tunnel: 1350 }], segment: 1350, others: 1450, needs: 1330 });
  });
  test('several smaller links, smallest first; IPv6 overhead', () => {
    const v6 = { ...claims(9000, 1500, 1400, 1500), family: 6 as const };
    assert.deepEqual(mtuSpread(v6), {
      vpc: 'vpc1',
      smaller: [{ node: 'host3', link: 1400, tunnel: 1330 }, { node: 'host2', link: 1500, tunnel: 1430 }, { node: 'host4', link: 1500, tunnel: 1430 }],
      segment: 1330,
      others: 8930,
      needs: 1350,
    });
  });
  test('a link too small for a 1280 tunnel: the segment is held at 1280', () => {
    assert.deepEqual(mtuSpread(claims(1500, 1300)), { vpc: 'vpc1', smaller: [{ node: 'host2', link: 1300, tunnel: 1250 }], segment: 1280, others: 1450, needs: 1330 });
  });
  test('encrypted: the figures are less WireGuard\'s overhead too', () => {
    assert.deepEqual(mtuSpread({ ...claims(1500, 1400), encrypt: 'wireguard' }), { vpc: 'vpc1', smaller: [{ node: 'host2', link: 1400, tunnel: 1290 }], segment: 1290, others: 1390, needs: 1390 });
  });
  test('encrypted over IPv6 with an IPv4 peer network: WireGuard costs 80, VXLAN (between IPv4 seal addresses) 50', () => {
    const v6 = { ...claims(1500, 1400), family: 6 as const, encrypt: 'wireguard' as const };
    assert.deepEqual(mtuSpread(v6), { vpc: 'vpc1', smaller: [{ node: 'host2', link: 1400, tunnel: 1270 }], segment: 1280, others: 1370, needs: 1410 });
  });
  test('mtu= set: claims do not change the tunnels, so nothing to warn about', () => {
    assert.equal(mtuSpread({ ...claims(1500, 1400), mtu: 1400 }), null);
  });
});
