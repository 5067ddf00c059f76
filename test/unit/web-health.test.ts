/**
 * The web console's topology colours (src/console/health.ts): a host pair is
 * up when both ends report their tunnel present and up, down when either end
 * lacks it or has it down, unknown when an end has not answered.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { edgeOf, rttText, tunnelKey, type HostReports, type TunnelMap } from '../../src/console/health.js';
import { isReadOnly, mapOf, type Pair } from '../../src/console/shapes.js';

const PAIR: Pair = { vni: 100, a: 'host1', b: 'host2', addrA: '10.0.0.1', addrB: '10.0.0.2', prefix: 30 };
type End = { present: boolean; up: boolean; rtt_ms: number | null };
const UP = (rtt_ms: number | null = null): End => ({ present: true, up: true, rtt_ms });
const DOWN: End = { present: true, up: false, rtt_ms: null };
const MISSING: End = { present: false, up: false, rtt_ms: null };

function edge(a: End | null, b: End | null, hosts: [string, { ok: boolean; error: string | null }][] = []) {
  const tunnels = new Map<string, End>();
  if (a) tunnels.set(tunnelKey('host1', 'host2'), a);
  if (b) tunnels.set(tunnelKey('host2', 'host1'), b);
  return edgeOf(PAIR, tunnels as TunnelMap, new Map(hosts) as HostReports);
}
const OK = { ok: true, error: null };
const GONE = { ok: false, error: 'host2: connection refused' };

describe('edgeOf: health', () => {
  test('up only when both ends are present and up', () => {
    assert.equal(edge(UP(), UP()).health, 'up');
    assert.equal(edge(UP(), UP(), [['host1', OK], ['host2', OK]]).health, 'up');
  });

  test('down when either end is down or missing, whatever the other end', () => {
    for (const [a, b] of [[DOWN, UP()], [UP(), DOWN], [MISSING, UP()], [UP(), MISSING], [DOWN, DOWN]] as const) {
      assert.equal(edge(a, b).health, 'down', JSON.stringify([a, b]));
    }
    assert.equal(edge(DOWN, null).health, 'down', 'one end down and the other not reported');
    assert.equal(edge(null, MISSING, [['host1', GONE]]).health, 'down');
  });

  test('a host that answered without this tunnel makes it down', () => {
    const e = edge(UP(), null, [['host1', OK], ['host2', OK]]);
    assert.equal(e.health, 'down');
    assert.match(e.why, /host2: no tunnel to host1/);
  });

  test('unknown when an end has not been reported or its host did not answer', () => {
    assert.equal(edge(null, null).health, 'unknown');
    assert.equal(edge(UP(), null).health, 'unknown');
    const e = edge(UP(), null, [['host1', OK], ['host2', GONE]]);
    assert.equal(e.health, 'unknown');
    assert.match(e.why, /host2: host2: connection refused/);
    assert.match(edge(UP(), null, [['host2', { ok: false, error: null }]]).why, /host2: did not answer/);
    assert.match(edge(null, UP()).why, /host1: not reported yet/);
  });

  test('the reason names each end', () => {
    assert.equal(edge(UP(), DOWN).why, 'host1: up; host2: tunnel to host1 is down');
    assert.equal(edge(MISSING, UP()).why, 'host1: no tunnel to host2; host2: up');
  });
});

describe('edgeOf: RTT', () => {
  test('the mean of both ends when both measured', () => {
    assert.ok(Math.abs((edge(UP(0.2), UP(0.4)).rtt ?? 0) - 0.3) < 1e-9);
    assert.equal(edge(UP(2), UP(4)).rtt, 3);
  });

  test('the one end that measured, when the other did not', () => {
    assert.equal(edge(UP(0.5), UP(null)).rtt, 0.5);
    assert.equal(edge(UP(null), UP(7)).rtt, 7);
    assert.equal(edge(UP(1.5), null).rtt, 1.5);
  });

  test('none when neither end measured, and non-finite values are ignored', () => {
    assert.equal(edge(UP(), UP()).rtt, null);
    assert.equal(edge(null, null).rtt, null);
    assert.equal(edge(UP(Number.NaN), UP(Number.POSITIVE_INFINITY)).rtt, null);
    assert.equal(edge(UP(Number.NaN), UP(2)).rtt, 2);
  });

  test('rttText: two decimals under 10 ms, whole ms above, empty when unknown', () => {
    assert.equal(rttText(null), '');
    assert.equal(rttText(0.314), '0.31 ms');
    assert.equal(rttText(9.999), '10.00 ms');
    assert.equal(rttText(12.6), '13 ms');
  });
});

describe('shapes', () => {
  test('mapOf: members from either place, plus any host named by a pair, sorted', () => {
    assert.deepEqual(mapOf(null), { members: [], pairs: [] });
    assert.deepEqual(mapOf({ members: ['host2', { node: 'host1', underlay: 'v4' }] }).members, ['host1', 'host2']);
    assert.deepEqual(mapOf({ vpc: { members: ['host3'], pairs: [PAIR] } }), { members: ['host1', 'host2', 'host3'], pairs: [PAIR] });
  });

  test('isReadOnly: only role read', () => {
    assert.equal(isReadOnly({ name: 'ci', role: 'read' }), true);
    assert.equal(isReadOnly({ name: 'me', role: 'admin' }), false);
    assert.equal(isReadOnly(undefined), false, 'an older server that names no token');
    assert.equal(isReadOnly(null), false);
  });
});
