import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildHostSpec, bridgeAlias, specNames, tunnelAlias, tunnelName } from '../../src/core/spec.js';
import { VXLAN_PORT } from '../../src/core/ops.js';
import { stableMac } from '../../src/core/mac.js';
import { pairsFor, specInput, V6 } from './spec-fixtures.js';

/** h1's view of vpc1 (see spec-fixtures.ts). */
const input = specInput;

describe('names', () => {
  test('tunnel, alias and bridge alias naming', () => {
    assert.equal(tunnelName(100), 'vxlan100');
    assert.equal(tunnelName(16777215), 'vxlan16777215');
    assert.ok(tunnelName(16777215).length <= 15, 'fits IFNAMSIZ');
    assert.equal(tunnelAlias('h2'), 'tunnel-to-h2');
    assert.equal(bridgeAlias('vpc1'), 'vpc-vpc1');
    assert.equal(VXLAN_PORT, 4789);
  });
});

describe('buildHostSpec: tunnels', () => {
  test('IPv4 underlay, vxlan layer: N-1 tunnels with port 4789, alias, /30 address, MTU 1450', () => {
    const spec = buildHostSpec(input());
    assert.equal(spec.vpc, 'vpc1');
    assert.equal(spec.bridge, null);
    assert.deepEqual(spec.tunnels, [
      {
        name: 'vxlan100',
        peer: 'h2',
        vni: 100,
        local: '192.0.2.1',
        remote: '192.0.2.2',
        port: 4789,
        mtu: 1450,
        alias: 'tunnel-to-h2',
        udp6zerocsumrx: false,
        address: '10.100.0.1/30',
      },
      {
        name: 'vxlan101',
        peer: 'h3',
        vni: 101,
        local: '192.0.2.1',
        remote: '192.0.2.3',
        port: 4789,
        mtu: 1450,
        alias: 'tunnel-to-h3',
        udp6zerocsumrx: false,
        address: '10.100.0.5/30',
      },
    ]);
  });

  test('the far end of each tunnel is the other address of its block', () => {
    const h3 = buildHostSpec(input({ self: 'h3' }));
    assert.deepEqual(
      h3.tunnels.map((t) => [t.name, t.peer, t.local, t.remote, t.address, t.alias]),
      [
        ['vxlan101', 'h1', '192.0.2.3', '192.0.2.1', '10.100.0.6/30', 'tunnel-to-h1'],
        ['vxlan102', 'h2', '192.0.2.3', '192.0.2.2', '10.100.0.10/30', 'tunnel-to-h2'],
      ],
    );
  });

  test('IPv6 underlay: MTU 1430, udp6zerocsumrx, /126 addresses from an IPv6 peer network', () => {
    const spec = buildHostSpec(
      input({ family: 6, underlay: V6, pairs: pairsFor(['h1', 'h2', 'h3'], [], '2001:db8:ffff::/64') }),
    );
    assert.deepEqual(
      spec.tunnels.map((t) => [t.local, t.remote, t.mtu, t.udp6zerocsumrx, t.address, t.port]),
      [
        ['2001:db8::1', '2001:db8::2', 1430, true, '2001:db8:ffff::1/126', 4789],
        ['2001:db8::1', '2001:db8::3', 1430, true, '2001:db8:ffff::5/126', 4789],
      ],
    );
  });

  test('IPv6 underlay with an IPv4 peer network keeps /30 tunnel addresses', () => {
    const spec = buildHostSpec(input({ family: 6, underlay: V6 }));
    assert.deepEqual(spec.tunnels.map((t) => t.address), ['10.100.0.1/30', '10.100.0.5/30']);
    assert.ok(spec.tunnels.every((t) => t.mtu === 1430));
  });

  test('MTU is the minimum over the underlay paths (one segment, one MTU)', () => {
    const mixed = buildHostSpec(input({ underlayMtu: new Map([['h2', 9000], ['h3', 1500]]) }));
    assert.deepEqual(mixed.tunnels.map((t) => t.mtu), [1450, 1450]);
    const jumbo = buildHostSpec(input({ underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) }));
    assert.deepEqual(jumbo.tunnels.map((t) => t.mtu), [8950, 8950]);
    const smallV6 = buildHostSpec(
      input({ family: 6, underlay: V6, underlayMtu: new Map([['h2', 1400], ['h3', 9000]]) }),
    );
    assert.deepEqual(smallV6.tunnels.map((t) => t.mtu), [1330, 1330]);
  });

  test('a peer with no measured underlay MTU counts as 1500', () => {
    const spec = buildHostSpec(input({ underlayMtu: new Map([['h2', 9000]]) }));
    assert.deepEqual(spec.tunnels.map((t) => t.mtu), [1450, 1450]);
    const none = buildHostSpec(input({ underlayMtu: new Map() }));
    assert.deepEqual(none.tunnels.map((t) => t.mtu), [1450, 1450]);
  });

  test('an explicit mtu= wins over the underlay', () => {
    const spec = buildHostSpec(input({ mtu: 1380, underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) }));
    assert.deepEqual(spec.tunnels.map((t) => t.mtu), [1380, 1380]);
  });

  test('no vxlan layer: no tunnels', () => {
    const spec = buildHostSpec(input({ layers: { vxlan: false, bridge: false } }));
    assert.deepEqual(spec.tunnels, []);
    assert.equal(spec.bridge, null);
  });

  test('a host outside the peer map has no tunnels', () => {
    const spec = buildHostSpec(input({ self: 'h9' }));
    assert.deepEqual(spec.tunnels, []);
  });

  test('a missing underlay address is an error naming the node', () => {
    const noPeer = new Map([
      ['h1', '192.0.2.1'],
      ['h2', '192.0.2.2'],
    ]);
    assert.throws(() => buildHostSpec(input({ underlay: noPeer })), /no IPv4 underlay address for h3/);
    const noSelf = new Map([
      ['h2', '2001:db8::2'],
      ['h3', '2001:db8::3'],
    ]);
    assert.throws(() => buildHostSpec(input({ family: 6, underlay: noSelf })), /no IPv6 underlay address for h1/);
  });

  test('owned names are passed through untouched', () => {
    const spec = buildHostSpec(input({ owned: ['vxlan100', 'vpc1'] }));
    assert.deepEqual(spec.owned, ['vxlan100', 'vpc1']);
  });
});

describe('buildHostSpec: bridge', () => {
  test('bridge layer: bridge named after the VPC, segment MTU, tunnel addresses after bridge_ips', () => {
    const spec = buildHostSpec(
      input({ layers: { vxlan: true, bridge: true }, bridgeIps: ['10.10.11.1/24'], underlayMtu: new Map([['h2', 9000], ['h3', 1500]]) }),
    );
    assert.deepEqual(spec.bridge, {
      name: 'vpc1',
      mac: stableMac('bridge/h1/vpc1'),
      mtu: 1450,
      alias: 'vpc-vpc1',
      addresses: ['10.10.11.1/24', '10.100.0.1/30', '10.100.0.5/30'],
    });
    assert.equal(spec.tunnels.length, 2);
    // The tunnel keeps its address in the spec; the planner decides where it lives.
    assert.equal(spec.tunnels[0]?.address, '10.100.0.1/30');
  });

  test('bridge without tunnels: only bridge_ips, MTU still derived from the peers', () => {
    const spec = buildHostSpec(
      input({ layers: { vxlan: false, bridge: true }, bridgeIps: ['10.10.11.1/24', '10.10.12.1/24'], underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) }),
    );
    assert.deepEqual(spec.tunnels, []);
    assert.deepEqual(spec.bridge, { name: 'vpc1', mac: stableMac('bridge/h1/vpc1'), mtu: 8950, alias: 'vpc-vpc1', addresses: ['10.10.11.1/24', '10.10.12.1/24'] });
  });

  test('a lone host (no peers) gets the default MTU for its family', () => {
    const v4 = buildHostSpec(input({ pairs: [], layers: { vxlan: true, bridge: true } }));
    assert.equal(v4.bridge?.mtu, 1450);
    const v6 = buildHostSpec(input({ pairs: [], family: 6, underlay: V6, layers: { vxlan: true, bridge: true } }));
    assert.equal(v6.bridge?.mtu, 1430);
    const explicit = buildHostSpec(input({ pairs: [], mtu: 8000, layers: { vxlan: true, bridge: true } }));
    assert.equal(explicit.bridge?.mtu, 8000);
  });
});

describe('specNames', () => {
  test('tunnels then the bridge', () => {
    assert.deepEqual(specNames(buildHostSpec(input({ layers: { vxlan: true, bridge: true } }))), ['vxlan100', 'vxlan101', 'vpc1']);
    assert.deepEqual(specNames(buildHostSpec(input())), ['vxlan100', 'vxlan101']);
    assert.deepEqual(specNames(buildHostSpec(input({ layers: { vxlan: false, bridge: false } }))), []);
  });
});

describe('buildHostSpec: measured MTU caps (vpc mode=check_mtu fix=1)', () => {
  test('a peer whose path carries less caps every tunnel and the bridge (one segment MTU); other peers are unaffected without a cap', () => {
    const capped = buildHostSpec(input({ mtuCaps: new Map([['h3', 1354]]) }));
    assert.ok(capped.tunnels.length > 0);
    assert.ok(capped.tunnels.every((t) => t.mtu === 1354), JSON.stringify(capped.tunnels.map((t) => t.mtu)));
    assert.ok(buildHostSpec(input()).tunnels.every((t) => t.mtu === 1450));
  });

  test('a cap never raises an MTU, and an explicit mtu= is capped too', () => {
    assert.ok(buildHostSpec(input({ mtuCaps: new Map([['h3', 9000]]) })).tunnels.every((t) => t.mtu === 1450));
    assert.ok(buildHostSpec(input({ mtu: 1400, mtuCaps: new Map([['h2', 1300]]) })).tunnels.every((t) => t.mtu === 1300));
  });
});
