/** The peer map of an encrypted VPC: every pair holds a second block, its seal block (peermap.ts, consistency.ts). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { allocatePeerMap, blockFor, pairKey, type Pair } from '../../src/core/peermap.js';
import { checkVpc } from '../../src/core/consistency.js';
import { sealBlock } from '../../src/core/seal.js';
import { UserError } from '../../src/core/errors.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { network, type Cidr } from '../../src/core/validate.js';
import { sealedVpc, WG_KEYS } from './seal-fixtures.js';

const net = (text: string): Cidr => network(text, 'peer_network');
const NET = net('10.0.0.0/24');

function alloc(members: readonly string[], sealed: boolean, existing: readonly Pair[] = [], network: Cidr = NET): Pair[] {
  return allocatePeerMap({ members, network, existing, takenVnis: new Set(), sealed });
}

const byKey = (pairs: readonly Pair[]): Map<string, Pair> => new Map(pairs.map((p) => [pairKey(p.a, p.b), p]));
const blocksOf = (pairs: readonly Pair[]): number[] => pairs.flatMap((p) => (p.sealSlot === undefined || p.sealSlot === null ? [p.slot] : [p.slot, p.sealSlot]));

describe('allocatePeerMap, sealed', () => {
  test('every pair takes two blocks, all distinct, and its addresses are its first block\'s', () => {
    const pairs = alloc(['a', 'b', 'c', 'd'], true);
    assert.equal(pairs.length, 6);
    assert.deepEqual(pairs.map((p) => [p.slot, p.sealSlot]), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]);
    assert.equal(new Set(blocksOf(pairs)).size, 12);
    for (const p of pairs) {
      assert.deepEqual({ addrA: p.addrA, addrB: p.addrB, prefix: p.prefix }, blockFor(NET, p.slot));
      assert.deepEqual(sealBlock({ peerNetwork: '10.0.0.0/24' }, p), blockFor(NET, p.sealSlot as number));
    }
    assert.deepEqual(sealBlock({ peerNetwork: '10.0.0.0/24' }, pairs[0] as Pair), { addrA: '10.0.0.5', addrB: '10.0.0.6', prefix: 30 });
  });

  test('a cleartext map has no seal blocks at all (not even a null one)', () => {
    for (const p of alloc(['a', 'b', 'c'], false)) assert.ok(!('sealSlot' in p), JSON.stringify(p));
    assert.equal(sealBlock({ peerNetwork: '10.0.0.0/24' }, alloc(['a', 'b'], false)[0] as Pair), null);
  });

  test('IPv6 peer networks: seal blocks are /126 too', () => {
    const [p] = alloc(['a', 'b'], true, [], net('fd00:99::/64'));
    assert.deepEqual(p && sealBlock({ peerNetwork: 'fd00:99::/64' }, p), { addrA: 'fd00:99::5', addrB: 'fd00:99::6', prefix: 126 });
  });

  test('capacity: two blocks a pair; the refusal says encryption doubles the need (a cleartext map keeps its own wording)', () => {
    // A /28 holds 4 blocks: 3 members need 3 pairs, 6 blocks encrypted.
    assert.equal(alloc(['a', 'b', 'c'], false, [], net('10.0.0.0/28')).length, 3);
    assert.throws(
      () => alloc(['a', 'b', 'c'], true, [], net('10.0.0.0/28')),
      (e: unknown) =>
        e instanceof UserError &&
        /^peer_network 10\.0\.0\.0\/28 is too small: it holds 4 blocks \(one \/30 each\), and with encrypt=wireguard each pair takes two \(its tunnel's and its WireGuard ends'\): 3 members need 6$/.test(e.message) &&
        !e.message.includes('\n'),
    );
    // Just enough: a /27 holds 8 blocks, 6 are needed; a /30 holds 1, and 2 members need 2.
    assert.equal(alloc(['a', 'b', 'c'], true, [], net('10.0.0.0/27')).length, 3);
    assert.throws(() => alloc(['a', 'b'], true, [], net('10.0.0.0/30')), /holds 1 block \(one \/30 each\), and with encrypt=wireguard each pair takes two .*: 2 members need 2$/);
    assert.throws(() => alloc(['a', 'b', 'c', 'd'], true, [], net('fd00::/123')), /holds 8 blocks \(one \/126 each\), and with encrypt=wireguard .*: 4 members need 12$/);
    assert.doesNotThrow(() => alloc(['a', 'b'], true, [], net('10.0.0.0/29')));
    assert.throws(() => alloc(['a', 'b', 'c', 'd', 'e'], false, [], net('10.0.0.0/28')), (e: unknown) => e instanceof UserError && /holds 4 tunnel pairs/.test(e.message) && !/encrypt/.test(e.message));
  });
});

describe('allocatePeerMap, sealed: stability', () => {
  test('existing pairs keep their block and seal block when members come and go', () => {
    const three = alloc(['a', 'b', 'c'], true);
    const four = alloc(['a', 'b', 'c', 'd'], true, three);
    const old = byKey(three);
    for (const p of four) {
      const was = old.get(pairKey(p.a, p.b));
      if (was) assert.deepEqual(p, was);
    }
    // The new pairs take the lowest free blocks, two each.
    assert.deepEqual(four.filter((p) => p.b === 'd').map((p) => [p.slot, p.sealSlot]), [[6, 7], [8, 9], [10, 11]]);
    assert.equal(new Set(blocksOf(four)).size, 12);
    // b leaves: a-c keeps both blocks; a-b's and b-c's (0, 1, 4, 5) are free for the next new pair.
    const withoutB = alloc(['a', 'c', 'd'], true, four);
    assert.deepEqual(byKey(withoutB).get(pairKey('a', 'c')), old.get(pairKey('a', 'c')));
    const again = alloc(['a', 'c', 'd', 'e'], true, withoutB);
    assert.deepEqual(again.filter((p) => p.b === 'e').map((p) => [p.a, p.slot, p.sealSlot]), [['a', 0, 1], ['c', 4, 5], ['d', 8, 9]]);
  });

  test('an unchanged map allocates to itself', () => {
    const pairs = alloc(['a', 'b', 'c', 'd'], true);
    assert.deepEqual(alloc(['a', 'b', 'c', 'd'], true, pairs), pairs);
  });

  test('turning encryption on adds a seal block to every existing pair without moving it', () => {
    const clear = alloc(['a', 'b', 'c'], false);
    assert.deepEqual(clear.map((p) => p.slot), [0, 1, 2]);
    const sealed = alloc(['a', 'b', 'c'], true, clear);
    assert.deepEqual(sealed.map((p) => [p.a, p.b, p.vni, p.slot, p.addrA, p.addrB]), clear.map((p) => [p.a, p.b, p.vni, p.slot, p.addrA, p.addrB]));
    assert.deepEqual(sealed.map((p) => p.sealSlot), [3, 4, 5]);
    assert.equal(new Set(blocksOf(sealed)).size, 6);
    // A member joining at the same time: the old pairs keep their blocks, every block is taken once.
    const grown = alloc(['a', 'b', 'c', 'd'], true, clear);
    assert.deepEqual(grown.slice(0, 3).map((p) => [p.a, p.b, p.slot]), [['a', 'b', 0], ['a', 'c', 1], ['b', 'c', 2]]);
    assert.deepEqual([...blocksOf(grown)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test('turning encryption off drops the seal blocks and keeps everything else', () => {
    const sealed = alloc(['a', 'b', 'c'], true);
    const clear = alloc(['a', 'b', 'c'], false, sealed);
    assert.deepEqual(clear, sealed.map(({ sealSlot: _drop, ...rest }) => rest));
    for (const p of clear) assert.ok(!('sealSlot' in p));
    // ...and the freed seal blocks go to the next new pair.
    assert.deepEqual(alloc(['a', 'b', 'c', 'd'], false, clear).filter((p) => p.b === 'd').map((p) => p.slot), [1, 3, 5]);
  });

  test('a null seal slot (as a cleartext row reads back) counts as none', () => {
    const clear = alloc(['a', 'b'], false).map((p) => ({ ...p, sealSlot: null }));
    assert.deepEqual(alloc(['a', 'b'], true, clear).map((p) => [p.slot, p.sealSlot]), [[0, 1]]);
  });

  test('a seal block past the end of a shrunk network is given a new one; the pair keeps its own block', () => {
    const wide = alloc(['a', 'b', 'c'], true, [], net('10.0.0.0/26'));
    const moved = wide.map((p, i) => (i === 0 ? { ...p, sealSlot: 40 } : p));
    const narrow = alloc(['a', 'b', 'c'], true, moved, net('10.0.0.0/27'));
    assert.deepEqual(narrow.map((p) => [p.slot, p.sealSlot]), [[0, 1], [2, 3], [4, 5]]);
  });
});

describe('checkVpc of an encrypted VPC', () => {
  const good = sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4);
  const [p0, p1, p2] = good.pairs as [Pair, Pair, Pair];

  test('a map made by the allocator is consistent', () => {
    assert.equal(checkVpc(good), good);
  });

  test('refusals say what is wrong', () => {
    const cases: [Partial<VpcWithMap>, RegExp][] = [
      // /26: blocks 0-15.
      [{ pairs: [{ ...p0, sealSlot: 16 }, p1, p2] }, /pair node1-node2 has seal block 16, but 198\.51\.100\.0\/26 holds blocks 0-15/],
      [{ pairs: [{ ...p0, sealSlot: -1 }, p1, p2] }, /pair node1-node2 has seal block -1/],
      [{ pairs: [{ ...p0, sealSlot: 1.5 }, p1, p2] }, /pair node1-node2 has seal block 1\.5/],
      // A seal block that is another pair's block, its own block, or another pair's seal block.
      [{ pairs: [{ ...p0, sealSlot: p1.slot }, p1, p2] }, /block 2 is used twice/],
      [{ pairs: [{ ...p0, sealSlot: p0.slot }, p1, p2] }, /block 0 is used twice/],
      [{ pairs: [p0, { ...p1, sealSlot: p0.sealSlot }, p2] }, /block 1 is used twice/],
      [{ pairs: [p0, { ...p1, sealSlot: null }, p2] }, /pair node1-node3 has no seal block, and vpc1 is encrypted/],
      [{ encrypt: 'none' }, /a cleartext VPC has seal blocks/],
      [{ encrypt: undefined }, /a cleartext VPC has seal blocks/],
      [{ members: good.members.map((m) => (m.node === 'node2' ? { node: m.node, underlay: m.underlay } : m)) }, /member node2 has no WireGuard key or port, and vpc1 is encrypted/],
      [{ members: good.members.map((m) => (m.node === 'node3' ? { ...m, wgPort: null } : m)) }, /member node3 has no WireGuard key or port/],
      [{ members: good.members.map((m) => (m.node === 'node3' ? { ...m, wgKey: WG_KEYS.node1 } : m)) }, /two members share a WireGuard key/],
    ];
    for (const [change, message] of cases) {
      assert.throws(
        () => checkVpc({ ...good, ...change }),
        (e: unknown) => e instanceof UserError && /^bad VPC definition for vpc1: /.test(e.message) && message.test(e.message),
        JSON.stringify(change).slice(0, 120),
      );
    }
  });

  test('a seal block placed before a later pair\'s own block is caught whichever comes first', () => {
    assert.throws(() => checkVpc({ ...good, pairs: [p0, p1, { ...p2, slot: p0.sealSlot as number, ...blockFor(net(good.peerNetwork), p0.sealSlot as number) }] }), /block 1 is used twice/);
  });

  test('a cleartext VPC needs no keys, and a null seal slot is no seal block', () => {
    const clear = sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4, { encrypt: false });
    assert.equal(checkVpc(clear), clear);
    assert.doesNotThrow(() => checkVpc({ ...clear, pairs: clear.pairs.map((p) => ({ ...p, sealSlot: null })) }));
  });
});
