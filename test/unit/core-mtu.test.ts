import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_TUNNEL_MTU, segmentMtu, tunnelMtu, VXLAN_OVERHEAD } from '../../src/core/mtu.js';

describe('tunnelMtu', () => {
  test('overheads: 20/40 outer IP + 8 UDP + 8 VXLAN + 14 inner Ethernet', () => {
    assert.equal(VXLAN_OVERHEAD[4], 20 + 8 + 8 + 14);
    assert.equal(VXLAN_OVERHEAD[6], 40 + 8 + 8 + 14);
  });

  const cases: Array<[number, 4 | 6, number]> = [
    [1500, 4, 1450],
    [1500, 6, 1430],
    [9000, 4, 8950],
    [9000, 6, 8930],
    [1400, 4, 1350],
    [1400, 6, 1330],
    [1350, 6, 1280],
  ];
  for (const [underlay, family, want] of cases) {
    test(`${underlay} underlay over IPv${family} -> ${want}`, () => {
      assert.equal(tunnelMtu(underlay, family), want);
    });
  }

  test('a 1350 IPv6 underlay is the smallest that still carries IPv6 guests', () => {
    assert.equal(tunnelMtu(1350, 6), MIN_TUNNEL_MTU);
    assert.ok(tunnelMtu(1349, 6) < MIN_TUNNEL_MTU);
    assert.equal(MIN_TUNNEL_MTU, 1280);
  });
});

describe('segmentMtu', () => {
  test('picks the minimum of the tunnels', () => {
    assert.equal(segmentMtu([1450, 8950, 1430], 1450), 1430);
    assert.equal(segmentMtu([8950, 8950], 1450), 8950);
    assert.equal(segmentMtu([tunnelMtu(9000, 4), tunnelMtu(1500, 4)], 9999), 1450);
  });

  test('order does not matter', () => {
    assert.equal(segmentMtu([1300, 1450], 0), 1300);
    assert.equal(segmentMtu([1450, 1300], 0), 1300);
  });

  test('a single tunnel is the segment MTU even above the fallback', () => {
    assert.equal(segmentMtu([8950], 1450), 8950);
  });

  test('no tunnels: the fallback', () => {
    assert.equal(segmentMtu([], 1450), 1450);
    assert.equal(segmentMtu([], 1430), 1430);
  });
});
