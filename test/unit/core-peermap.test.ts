import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocatePeerMap,
  blockFor,
  capacity,
  pairKey,
  pairsNeeded,
  tunnelsOf,
  VNI_MAX,
  VNI_MIN,
  type Pair,
} from '../../src/core/peermap.js';
import { network, type Cidr } from '../../src/core/validate.js';
import { contains } from '../../src/core/ipnet.js';
import { UserError } from '../../src/core/errors.js';

const net = (text: string): Cidr => network(text, 'peer_network');
const NONE: ReadonlySet<number> = new Set<number>();

function alloc(members: readonly string[], network: Cidr, existing: readonly Pair[] = [], takenVnis = NONE): Pair[] {
  return allocatePeerMap({ members, network, existing, takenVnis });
}

const byKey = (pairs: readonly Pair[]): Map<string, Pair> => new Map(pairs.map((p) => [pairKey(p.a, p.b), p]));

/** Deterministic PRNG (mulberry32) so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('pairKey / pairsNeeded', () => {
  test('pairKey is order independent and distinguishes pairs', () => {
    assert.equal(pairKey('a', 'b'), pairKey('b', 'a'));
    assert.notEqual(pairKey('a', 'b'), pairKey('a', 'c'));
    // A separator that cannot occur in node names keeps "ab"+"c" apart from "a"+"bc".
    assert.notEqual(pairKey('ab', 'c'), pairKey('a', 'bc'));
  });

  test('pairsNeeded is n(n-1)/2', () => {
    // `+ 0` folds the -0 that 0 * -1 / 2 gives for an empty VPC (harmless, but not Object.is 0).
    assert.deepEqual([0, 1, 2, 3, 4, 5, 10, 100].map((n) => pairsNeeded(n) + 0), [0, 0, 1, 3, 6, 10, 45, 4950]);
  });
});

describe('capacity', () => {
  const cases: Array<[string, number]> = [
    ['10.0.0.0/24', 64],
    ['10.0.0.0/25', 32],
    ['10.0.0.0/28', 4],
    ['10.0.0.0/29', 2],
    ['10.0.0.0/30', 1],
    ['10.0.0.0/31', 0],
    ['10.0.0.1/32', 0],
    ['10.0.0.0/16', 16384],
    ['10.0.0.0/8', 4194304],
    ['0.0.0.0/0', 2 ** 30],
    ['2001:db8::/120', 64],
    ['2001:db8::/124', 4],
    ['2001:db8::/126', 1],
    ['2001:db8::/127', 0],
    ['2001:db8::1/128', 0],
    ['2001:db8::/100', 2 ** 26],
    ['2001:db8::/76', 2 ** 50],
  ];
  for (const [text, want] of cases) {
    test(`${text} holds ${want} blocks`, () => {
      assert.equal(capacity(net(text)), want);
    });
  }

  test('huge IPv6 networks are clamped to a safe integer, not Infinity or a rounded float', () => {
    for (const text of ['2001:db8::/64', '2001:db8::/48', '::/0']) {
      const c = capacity(net(text));
      assert.equal(c, Number.MAX_SAFE_INTEGER, text);
      assert.ok(Number.isSafeInteger(c), text);
    }
  });
});

describe('blockFor', () => {
  test('IPv4 slots are consecutive /30 blocks: .1 and .2 of each', () => {
    const n = net('10.100.0.0/24');
    assert.deepEqual(blockFor(n, 0), { addrA: '10.100.0.1', addrB: '10.100.0.2', prefix: 30 });
    assert.deepEqual(blockFor(n, 1), { addrA: '10.100.0.5', addrB: '10.100.0.6', prefix: 30 });
    assert.deepEqual(blockFor(n, 63), { addrA: '10.100.0.253', addrB: '10.100.0.254', prefix: 30 });
  });

  test('blocks cross octet boundaries', () => {
    const n = net('10.100.0.0/16');
    assert.deepEqual(blockFor(n, 64), { addrA: '10.100.1.1', addrB: '10.100.1.2', prefix: 30 });
  });

  test('IPv6 slots are /126 blocks, compressed lower case', () => {
    const n = net('2001:DB8:0:1::/64');
    assert.deepEqual(blockFor(n, 0), { addrA: '2001:db8:0:1::1', addrB: '2001:db8:0:1::2', prefix: 126 });
    assert.deepEqual(blockFor(n, 3), { addrA: '2001:db8:0:1::d', addrB: '2001:db8:0:1::e', prefix: 126 });
    assert.deepEqual(blockFor(n, 0x4000), { addrA: '2001:db8:0:1::1:1', addrB: '2001:db8:0:1::1:2', prefix: 126 });
  });
});

describe('allocatePeerMap: a fresh map', () => {
  test('three members: one pair per host pair, distinct VNIs from VNI_MIN, distinct /30 blocks', () => {
    const pairs = alloc(['h3', 'h1', 'h2'], net('10.100.0.0/24'));
    assert.deepEqual(pairs, [
      { a: 'h1', b: 'h2', vni: VNI_MIN, slot: 0, addrA: '10.100.0.1', addrB: '10.100.0.2', prefix: 30 },
      { a: 'h1', b: 'h3', vni: VNI_MIN + 1, slot: 1, addrA: '10.100.0.5', addrB: '10.100.0.6', prefix: 30 },
      { a: 'h2', b: 'h3', vni: VNI_MIN + 2, slot: 2, addrA: '10.100.0.9', addrB: '10.100.0.10', prefix: 30 },
    ]);
  });

  test('N members give N(N-1)/2 pairs covering every host pair exactly once', () => {
    const members = Array.from({ length: 8 }, (_, i) => `node${i}`);
    const pairs = alloc(members, net('10.100.0.0/24'));
    assert.equal(pairs.length, 28);
    const keys = new Set(pairs.map((p) => pairKey(p.a, p.b)));
    assert.equal(keys.size, 28);
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        assert.ok(keys.has(pairKey(members[i] as string, members[j] as string)));
      }
    }
    assert.equal(new Set(pairs.map((p) => p.vni)).size, 28);
    assert.equal(new Set(pairs.map((p) => p.slot)).size, 28);
    assert.equal(new Set(pairs.flatMap((p) => [p.addrA, p.addrB])).size, 56);
    for (const p of pairs) assert.ok(p.a < p.b, `pair ${p.a}/${p.b} is canonical`);
  });

  test('duplicate member names count once', () => {
    const pairs = alloc(['a', 'b', 'a', 'b'], net('10.0.0.0/30'));
    assert.equal(pairs.length, 1);
    assert.deepEqual([pairs[0]?.a, pairs[0]?.b], ['a', 'b']);
  });

  test('zero or one member needs no pairs, even in a network with no room', () => {
    assert.deepEqual(alloc([], net('10.0.0.0/32')), []);
    assert.deepEqual(alloc(['solo'], net('10.0.0.0/32')), []);
  });

  test('IPv6 peer networks give /126 blocks', () => {
    const pairs = alloc(['a', 'b', 'c'], net('2001:db8:100::/64'));
    assert.deepEqual(
      pairs.map((p) => [p.addrA, p.addrB, p.prefix]),
      [
        ['2001:db8:100::1', '2001:db8:100::2', 126],
        ['2001:db8:100::5', '2001:db8:100::6', 126],
        ['2001:db8:100::9', '2001:db8:100::a', 126],
      ],
    );
  });

  test('a network just big enough is accepted (/30 for 2 members, /28 for 3, /27 for 4)', () => {
    assert.equal(alloc(['a', 'b'], net('10.0.0.0/30')).length, 1);
    assert.equal(alloc(['a', 'b', 'c'], net('10.0.0.0/28')).length, 3);
    assert.equal(alloc(['a', 'b', 'c', 'd'], net('10.0.0.0/27')).length, 6);
    const v6 = alloc(['a', 'b', 'c'], net('2001:db8::/124'));
    assert.deepEqual(v6.map((p) => p.slot), [0, 1, 2]);
    assert.equal(v6[2]?.addrB, '2001:db8::a');
  });
});

describe('allocatePeerMap: too-small networks', () => {
  const tooSmall = (members: string[], text: string): UserError => {
    let caught: unknown;
    try {
      alloc(members, net(text));
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof UserError, `${text} with ${members.length} members must be refused`);
    return caught;
  };

  test('a /29 with 3 members names the network, how many fit and how many are needed', () => {
    const e = tooSmall(['a', 'b', 'c'], '10.0.0.0/29');
    assert.match(e.message, /10\.0\.0\.0\/29/);
    assert.match(e.message, /holds 2 tunnel pairs/);
    assert.match(e.message, /3 members need 3\b/);
    assert.doesNotMatch(e.message, /\n/);
  });

  test('a /30 fits one pair, not three (singular wording)', () => {
    const e = tooSmall(['a', 'b', 'c'], '10.0.0.0/30');
    assert.match(e.message, /10\.0\.0\.0\/30/);
    assert.match(e.message, /holds 1 tunnel pair\b/);
    assert.match(e.message, /need 3/);
  });

  test('/31 and /32 hold nothing', () => {
    assert.match(tooSmall(['a', 'b'], '10.0.0.0/31').message, /holds 0 tunnel pairs.*2 members need 1/);
    assert.match(tooSmall(['a', 'b'], '10.0.0.9/32').message, /10\.0\.0\.9\/32.*holds 0/);
  });

  test('a /24 holds 64 pairs: 12 members (66 pairs) do not fit, 11 (55) do', () => {
    const twelve = Array.from({ length: 12 }, (_, i) => `n${i}`);
    assert.match(tooSmall(twelve, '10.0.0.0/24').message, /holds 64 tunnel pairs.*12 members need 66/);
    assert.equal(alloc(twelve.slice(0, 11), net('10.0.0.0/24')).length, 55);
  });

  test('IPv6 wording says /126', () => {
    const e = tooSmall(['a', 'b', 'c', 'd'], '2001:db8::/124');
    assert.match(e.message, /2001:db8::\/124/);
    assert.match(e.message, /holds 4 tunnel pairs \(one \/126 each\)/);
    assert.match(e.message, /4 members need 6/);
  });

  test('growing a VPC past the network capacity is refused and keeps nothing half done', () => {
    const n = net('10.0.0.0/29');
    const two = alloc(['a', 'b'], n);
    const before = JSON.stringify(two);
    assert.throws(() => alloc(['a', 'b', 'c'], n, two), UserError);
    assert.equal(JSON.stringify(two), before);
  });
});

describe('allocatePeerMap: stability', () => {
  const n = net('10.100.0.0/24');

  test('adding a member keeps every existing pair identical and allocates only the new pairs', () => {
    const three = alloc(['h1', 'h2', 'h3'], n);
    const four = alloc(['h1', 'h2', 'h3', 'h4'], n, three);
    assert.equal(four.length, 6);
    const after = byKey(four);
    for (const p of three) assert.deepEqual(after.get(pairKey(p.a, p.b)), p);
    const fresh = four.filter((p) => p.a === 'h4' || p.b === 'h4');
    assert.deepEqual(
      fresh.map((p) => [p.a, p.b, p.vni, p.slot]),
      [
        ['h1', 'h4', 103, 3],
        ['h2', 'h4', 104, 4],
        ['h3', 'h4', 105, 5],
      ],
    );
  });

  test('a new member that sorts first does not renumber anything', () => {
    const three = alloc(['m', 'n', 'o'], n);
    const four = alloc(['a', 'm', 'n', 'o'], n, three);
    const after = byKey(four);
    for (const p of three) assert.deepEqual(after.get(pairKey(p.a, p.b)), p);
    assert.deepEqual(
      four.filter((p) => p.a === 'a').map((p) => p.slot),
      [3, 4, 5],
    );
  });

  test('re-running with the same members returns the same map', () => {
    const first = alloc(['h1', 'h2', 'h3', 'h4'], n);
    assert.deepEqual(alloc(['h4', 'h3', 'h2', 'h1'], n, first), first);
  });

  test('an existing map is honoured even when it is not what a fresh allocation would give', () => {
    const existing: Pair[] = [{ a: 'h1', b: 'h2', vni: 5000, slot: 7, ...blockFor(n, 7) }];
    const pairs = alloc(['h1', 'h2', 'h3'], n, existing);
    assert.deepEqual(pairs[pairs.length - 1], existing[0]);
    assert.deepEqual(
      pairs.map((p) => [p.a, p.b, p.vni, p.slot]),
      [
        ['h1', 'h3', 100, 0],
        ['h2', 'h3', 101, 1],
        ['h1', 'h2', 5000, 7],
      ],
    );
  });

  test('removing a member keeps the remaining pairs and frees the removed ones', () => {
    const four = alloc(['h1', 'h2', 'h3', 'h4'], n);
    const three = alloc(['h1', 'h3', 'h4'], n, four);
    assert.equal(three.length, 3);
    const before = byKey(four);
    for (const p of three) assert.deepEqual(p, before.get(pairKey(p.a, p.b)));
    assert.ok(three.every((p) => p.a !== 'h2' && p.b !== 'h2'));
  });

  test('freed slots and VNIs are reused by later additions, lowest first', () => {
    const four = alloc(['h1', 'h2', 'h3', 'h4'], n);
    const h2 = four.filter((p) => p.a === 'h2' || p.b === 'h2');
    const freedSlots = h2.map((p) => p.slot).sort((x, y) => x - y);
    const freedVnis = h2.map((p) => p.vni).sort((x, y) => x - y);
    assert.deepEqual(freedSlots, [0, 3, 4]);
    const three = alloc(['h1', 'h3', 'h4'], n, four);
    const again = alloc(['h1', 'h3', 'h4', 'h5'], n, three);
    const h5 = again.filter((p) => p.b === 'h5');
    assert.deepEqual(h5.map((p) => p.slot).sort((x, y) => x - y), freedSlots);
    assert.deepEqual(h5.map((p) => p.vni).sort((x, y) => x - y), freedVnis);
    for (const p of h5) assert.deepEqual({ addrA: p.addrA, addrB: p.addrB, prefix: p.prefix }, blockFor(n, p.slot));
  });

  test('a member replaced in one step: its slots and VNIs go straight to the newcomer', () => {
    const three = alloc(['h1', 'h2', 'h3'], n);
    const swapped = alloc(['h1', 'h3', 'h4'], n, three);
    assert.deepEqual(
      swapped.map((p) => [p.a, p.b, p.vni, p.slot]),
      [
        ['h1', 'h4', 100, 0],
        ['h1', 'h3', 101, 1],
        ['h3', 'h4', 102, 2],
      ],
    );
    assert.deepEqual(swapped[1], three[1]);
  });

  test('existing pairs whose slot no longer fits the network are re-allocated inside it', () => {
    const small = net('10.0.0.0/29');
    const stale: Pair[] = [{ a: 'a', b: 'b', vni: 300, slot: 9, ...blockFor(net('10.0.0.0/24'), 9) }];
    const pairs = alloc(['a', 'b'], small, stale);
    assert.equal(pairs.length, 1);
    assert.equal(pairs[0]?.slot, 0);
    assert.equal(pairs[0]?.addrA, '10.0.0.1');
    assert.ok(pairs[0]!.slot < capacity(small));
  });

  test('existing pairs are kept whichever way round their ends are written', () => {
    const flipped: Pair[] = [{ a: 'h2', b: 'h1', vni: 777, slot: 2, ...blockFor(n, 2) }];
    const pairs = alloc(['h1', 'h2'], n, flipped);
    assert.deepEqual(pairs, flipped);
  });
});

describe('allocatePeerMap: VNIs across VPCs', () => {
  test('two VPCs on the same members get disjoint VNI sets', () => {
    const members = ['h1', 'h2', 'h3', 'h4'];
    const vpc1 = alloc(members, net('10.100.0.0/24'));
    const taken1 = new Set(vpc1.map((p) => p.vni));
    const vpc2 = alloc(members, net('10.200.0.0/24'), [], taken1);
    const vnis2 = vpc2.map((p) => p.vni);
    assert.equal(new Set(vnis2).size, 6);
    for (const v of vnis2) assert.ok(!taken1.has(v), `VNI ${v} used by both VPCs`);
    assert.deepEqual(vnis2, [106, 107, 108, 109, 110, 111]);
    // Same members, same slots, different networks: only the VNIs must differ.
    assert.deepEqual(vpc2.map((p) => p.slot), vpc1.map((p) => p.slot));
  });

  test('growing the first VPC afterwards skips the second VPC\'s VNIs', () => {
    const vpc1 = alloc(['h1', 'h2'], net('10.100.0.0/24'));
    const vpc2 = alloc(['h1', 'h2', 'h3'], net('10.200.0.0/24'), [], new Set(vpc1.map((p) => p.vni)));
    const grown = alloc(['h1', 'h2', 'h3'], net('10.100.0.0/24'), vpc1, new Set(vpc2.map((p) => p.vni)));
    const all = [...grown, ...vpc2].map((p) => p.vni);
    assert.equal(new Set(all).size, all.length);
    assert.deepEqual(grown.map((p) => p.vni), [100, 104, 105]);
  });

  test('taken VNIs with gaps are skipped individually', () => {
    const pairs = alloc(['a', 'b', 'c'], net('10.0.0.0/24'), [], new Set([100, 102, 103]));
    assert.deepEqual(pairs.map((p) => p.vni), [101, 104, 105]);
  });

  test('VNIs are within the VXLAN range', () => {
    const pairs = alloc(['a', 'b', 'c', 'd'], net('10.0.0.0/24'));
    for (const p of pairs) assert.ok(p.vni >= VNI_MIN && p.vni <= VNI_MAX);
    assert.equal(VNI_MAX, 2 ** 24 - 1);
  });
});

describe('tunnelsOf', () => {
  const pairs = alloc(['h1', 'h2', 'h3', 'h4'], net('10.100.0.0/24'));

  test('each host has N-1 ends, one per peer, with its own and the far address swapped', () => {
    for (const self of ['h1', 'h2', 'h3', 'h4']) {
      const ends = tunnelsOf(pairs, self);
      assert.equal(ends.length, 3, self);
      assert.deepEqual(
        ends.map((e) => e.peer).sort(),
        ['h1', 'h2', 'h3', 'h4'].filter((h) => h !== self),
      );
      for (const e of ends) {
        const p = pairs.find((x) => pairKey(x.a, x.b) === pairKey(self, e.peer));
        assert.ok(p);
        assert.equal(e.vni, p.vni);
        assert.equal(e.prefix, 30);
        if (p.a === self) assert.deepEqual([e.localAddr, e.remoteAddr], [p.addrA, p.addrB]);
        else assert.deepEqual([e.localAddr, e.remoteAddr], [p.addrB, p.addrA]);
      }
    }
  });

  test('the two ends of a tunnel mirror each other', () => {
    const fromH1 = tunnelsOf(pairs, 'h1').find((e) => e.peer === 'h3');
    const fromH3 = tunnelsOf(pairs, 'h3').find((e) => e.peer === 'h1');
    assert.deepEqual(fromH1, { peer: 'h3', vni: 101, localAddr: '10.100.0.5', remoteAddr: '10.100.0.6', prefix: 30 });
    assert.deepEqual(fromH3, { peer: 'h1', vni: 101, localAddr: '10.100.0.6', remoteAddr: '10.100.0.5', prefix: 30 });
  });

  test('a host outside the map has no tunnels', () => {
    assert.deepEqual(tunnelsOf(pairs, 'h9'), []);
  });
});

describe('allocatePeerMap: random add/remove sequences (property style)', () => {
  const NETWORKS = ['10.100.0.0/26', '10.100.0.0/24', '2001:db8:1::/120', '172.16.8.0/27'];
  const POOL = Array.from({ length: 12 }, (_, i) => `host${String.fromCharCode(97 + i)}`);

  test('200 seeded sequences keep the invariants', () => {
    let steps = 0;
    let refusals = 0;
    for (let seq = 0; seq < 200; seq++) {
      const rnd = prng(0x5eed + seq);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
      const n = net(pick(NETWORKS));
      const fits = capacity(n);
      const taken = new Set<number>();
      for (let k = 0; k < Math.floor(rnd() * 5); k++) taken.add(VNI_MIN + Math.floor(rnd() * 40));
      let members: string[] = [];
      let map: Pair[] = [];
      for (let step = 0; step < 25; step++) {
        const next = new Set(members);
        const outside = POOL.filter((h) => !next.has(h));
        const r = rnd();
        if (r < 0.15 && next.size > 0 && outside.length > 0) {
          // One member leaves and another joins in the same allocation.
          next.delete(pick([...next]));
          next.add(pick(outside));
        } else if ((r < 0.7 || next.size < 2) && outside.length > 0) next.add(pick(outside));
        else if (next.size > 0) next.delete(pick([...next]));
        const nextMembers = [...next];
        const ctx = `seq ${seq} step ${step} net ${n.address}/${n.prefix} members ${nextMembers.join(',')}`;
        if (pairsNeeded(nextMembers.length) > fits) {
          assert.throws(() => alloc(nextMembers, n, map, taken), UserError, ctx);
          refusals++;
          continue;
        }
        const pairs = alloc(nextMembers, n, map, taken);
        steps++;
        assert.equal(pairs.length, pairsNeeded(nextMembers.length), ctx);
        assert.equal(new Set(pairs.map((p) => p.vni)).size, pairs.length, `duplicate VNI: ${ctx}`);
        assert.equal(new Set(pairs.map((p) => p.slot)).size, pairs.length, `duplicate slot: ${ctx}`);
        assert.equal(new Set(pairs.map((p) => pairKey(p.a, p.b))).size, pairs.length, `duplicate pair: ${ctx}`);
        const old = byKey(map);
        for (const p of pairs) {
          assert.ok(next.has(p.a) && next.has(p.b) && p.a !== p.b, `pair of non-members: ${ctx}`);
          assert.ok(!taken.has(p.vni), `VNI ${p.vni} taken by another VPC: ${ctx}`);
          assert.ok(p.vni >= VNI_MIN && p.vni <= VNI_MAX, ctx);
          assert.ok(p.slot >= 0 && p.slot < fits, `slot ${p.slot} outside capacity ${fits}: ${ctx}`);
          assert.ok(contains(n, p.addrA) && contains(n, p.addrB), `address outside the network: ${ctx}`);
          assert.deepEqual({ addrA: p.addrA, addrB: p.addrB, prefix: p.prefix }, blockFor(n, p.slot), ctx);
          const before = old.get(pairKey(p.a, p.b));
          if (before) assert.deepEqual(p, before, `kept pair changed: ${ctx}`);
        }
        // Every pair whose two ends are still members survived.
        for (const p of map) {
          if (next.has(p.a) && next.has(p.b)) assert.deepEqual(byKey(pairs).get(pairKey(p.a, p.b)), p, `kept pair lost: ${ctx}`);
        }
        // Fresh pairs take the lowest slots and VNIs that neither kept pairs nor other VPCs use.
        const kept = pairs.filter((p) => old.has(pairKey(p.a, p.b)));
        const fresh = pairs.filter((p) => !old.has(pairKey(p.a, p.b)));
        const lowestFree = (used: Set<number>, from: number, count: number): number[] => {
          const out: number[] = [];
          for (let x = from; out.length < count; x++) if (!used.has(x)) out.push(x);
          return out;
        };
        const sorted = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);
        assert.deepEqual(sorted(fresh.map((p) => p.slot)), lowestFree(new Set(kept.map((p) => p.slot)), 0, fresh.length), `slots not lowest free: ${ctx}`);
        assert.deepEqual(
          sorted(fresh.map((p) => p.vni)),
          lowestFree(new Set([...taken, ...kept.map((p) => p.vni)]), VNI_MIN, fresh.length),
          `VNIs not lowest free: ${ctx}`,
        );
        map = pairs;
        members = nextMembers;
      }
    }
    // The generator really exercised both paths.
    assert.ok(steps > 2000, `only ${steps} allocations`);
    assert.ok(refusals > 10, `only ${refusals} refusals`);
  });
});
