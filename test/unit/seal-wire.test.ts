/** What peers say about encryption (cluster/wire.ts), and whose word on a WireGuard key counts (core/authority.ts checkSealKeys). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { helloSeal, requestFromWire, sealIdentityFromWire, vpcFromWire } from '../../src/cluster/wire.js';
import { checkSealClaims, type Caller } from '../../src/core/authority.js';
import { UserError } from '../../src/core/errors.js';
import type { NodeRecord, VpcDef } from '../../src/core/types.js';
import { NODE2_ROTATED, sealedVpc, WG_KEYS, WG_PORT } from './seal-fixtures.js';

type Json = Record<string, unknown>;

const K = WG_KEYS as Record<'node1' | 'node2' | 'node3', string>;
/** An encrypted VPC as it travels: node1..node3, IPv4, 198.51.100.0/26. */
const wireVpc = (): Json => JSON.parse(JSON.stringify(sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4))) as Json;
const members = (v: Json): Json[] => v.members as Json[];
const pairs = (v: Json): Json[] => v.pairs as Json[];

function refused(run: () => unknown, message: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

/** The wire VPC with one field of one member or pair changed (undefined: removed). */
function withMember(node: string, change: Json): Json {
  const v = wireVpc();
  v.members = members(v).map((m) => (m.node === node ? { ...m, ...change } : m));
  return v;
}
function withPair(i: number, change: Json): Json {
  const v = wireVpc();
  v.pairs = pairs(v).map((p, j) => (j === i ? { ...p, ...change } : p));
  return v;
}

describe('vpcFromWire: encryption', () => {
  test('an encrypted definition arrives whole: the setting, every member\'s key and port, every pair\'s seal block', () => {
    const v = vpcFromWire(wireVpc());
    assert.equal(v.encrypt, 'wireguard');
    assert.deepEqual(v.members.map((m) => [m.node, m.wgKey, m.wgPort]), [['node1', K.node1, WG_PORT], ['node2', K.node2, WG_PORT], ['node3', K.node3, WG_PORT]]);
    assert.deepEqual(v.pairs.map((p) => [p.slot, p.sealSlot]), [[0, 1], [2, 3], [4, 5]]);
    assert.deepEqual(v, sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4));
  });

  test('from a peer that knows no encryption: no setting at all (the receiver keeps its own), and no keys', () => {
    const clear = JSON.parse(JSON.stringify(sealedVpc('vpc1', ['node1', 'node2', 'node3'], 4, { encrypt: false }))) as Json;
    delete clear.encrypt;
    const v = vpcFromWire(clear);
    assert.ok(!('encrypt' in v));
    assert.ok(v.members.every((m) => !('wgKey' in m) && !('wgPort' in m)));
    assert.ok(v.pairs.every((p) => !('sealSlot' in p)));
    assert.equal(vpcFromWire({ ...clear, encrypt: 'none' }).encrypt, 'none');
    // Null keys and seal slots are the same as none.
    const nulls = { ...clear, members: members(clear).map((m) => ({ ...m, wgKey: null, wgPort: null })), pairs: pairs(clear).map((p) => ({ ...p, sealSlot: null })) };
    assert.deepEqual(vpcFromWire(nulls), v);
  });

  test('absurd values are refused, each with what is wrong', () => {
    const cases: [Json, RegExp][] = [
      [{ ...wireVpc(), encrypt: 'aes' }, /^bad request: unknown encrypt "aes"$/],
      [{ ...wireVpc(), encrypt: 'WireGuard' }, /unknown encrypt "WireGuard"/],
      [{ ...wireVpc(), encrypt: '' }, /unknown encrypt ""/],
      [{ ...wireVpc(), encrypt: 1 }, /^bad request: encrypt is not a string$/],
      [{ ...wireVpc(), encrypt: null }, /^bad request: encrypt is not a string$/],
      [withMember('node2', { wgKey: 'not a key' }), /^invalid wgKey "not a key": a WireGuard key is 44 characters of base64/],
      [withMember('node2', { wgKey: `${K.node2.slice(0, 42)}B=` }), /^invalid wgKey /],
      [withMember('node2', { wgKey: 42 }), /^bad request: wgKey is not a string$/],
      [withMember('node2', { wgPort: 0 }), /^bad request: wgPort out of range$/],
      [withMember('node2', { wgPort: 70000 }), /^bad request: wgPort out of range$/],
      [withMember('node2', { wgPort: -1 }), /wgPort out of range/],
      [withMember('node2', { wgPort: 51820.5 }), /wgPort out of range/],
      [withMember('node2', { wgPort: '51820' }), /wgPort out of range/],
      [withMember('node2', { wgPort: undefined }), /wgPort out of range/],
      [withPair(0, { sealSlot: -1 }), /^bad request: sealSlot out of range$/],
      [withPair(0, { sealSlot: 1.5 }), /^bad request: sealSlot out of range$/],
      [withPair(0, { sealSlot: '1' }), /^bad request: sealSlot out of range$/],
      [withPair(0, { sealSlot: 2 ** 53 }), /^bad request: sealSlot out of range$/],
      // In range for the wire, not for the map: checkVpc says why.
      [withPair(0, { sealSlot: 16 }), /^bad VPC definition for vpc1: pair node1-node2 has seal block 16, but 198\.51\.100\.0\/26 holds blocks 0-15$/],
      [withPair(0, { sealSlot: 2 }), /^bad VPC definition for vpc1: block 2 is used twice$/],
      [withPair(1, { sealSlot: null }), /pair node1-node3 has no seal block, and vpc1 is encrypted/],
      [{ ...wireVpc(), encrypt: 'none' }, /a cleartext VPC has seal blocks/],
      [withMember('node3', { wgKey: null, wgPort: null }), /member node3 has no WireGuard key or port, and vpc1 is encrypted/],
      [withMember('node3', { wgKey: K.node2 }), /two members share a WireGuard key/],
    ];
    for (const [wire, message] of cases) refused(() => vpcFromWire(wire), message);
  });

  test('through requestFromWire: an encrypted vpc_put is accepted, a bad key refused', () => {
    const ok = requestFromWire(JSON.stringify({ op: 'vpc_put', vpc: wireVpc(), force: false }));
    assert.equal(ok.op, 'vpc_put');
    refused(() => requestFromWire(JSON.stringify({ op: 'vpc_put', vpc: withMember('node1', { wgKey: 'x' }), force: false })), /invalid wgKey "x"/);
  });
});

describe('helloSeal and sealIdentityFromWire', () => {
  test('a hello with a key and port gives the peer\'s identity; one without gives null (an older meshvpc)', () => {
    assert.deepEqual(helloSeal({ nodename: 'node2', wgKey: K.node2, wgPort: 51821 }), { key: K.node2, port: 51821 });
    assert.equal(helloSeal({ nodename: 'node2' }), null);
    assert.equal(helloSeal({ nodename: 'node2', wgKey: null, wgPort: 51820 }), null);
    assert.deepEqual(sealIdentityFromWire({ wgKey: K.node3, wgPort: 1 }), { wgKey: K.node3, wgPort: 1 });
    assert.deepEqual(sealIdentityFromWire({ wgPort: 51820 }), {});
  });

  test('a hello with a bad key or port is refused, not taken as "no encryption"', () => {
    refused(() => helloSeal({ wgKey: 'bad', wgPort: 51820 }), /^invalid wgKey "bad"/);
    refused(() => helloSeal({ wgKey: K.node2, wgPort: 0 }), /wgPort out of range/);
    refused(() => helloSeal({ wgKey: K.node2, wgPort: 65536 }), /wgPort out of range/);
    refused(() => helloSeal({ wgKey: K.node2 }), /wgPort out of range/);
    refused(() => helloSeal('hello'), /^bad request: hello is not an object$/);
    refused(() => helloSeal(null), /hello is not an object/);
    refused(() => helloSeal([K.node2]), /hello is not an object/);
  });
});

describe('checkSealClaims: what a definition may say of members\' WireGuard keys', () => {
  const def = (keys: Partial<Record<string, string>> = {}, name = 'vpc1', members = ['node1', 'node2', 'node3']): VpcDef => {
    const v = sealedVpc(name, members, 4);
    return { ...v, members: v.members.map((m) => ({ ...m, wgKey: m.node in keys ? (keys[m.node] ?? null) : m.wgKey })) };
  };
  const record = (name: string, wgKey: string | null): NodeRecord => ({ name, sshAddress: '192.0.2.9', sshPort: 22, sshUser: 'root', ip4: null, ip6: null, hostKey: 'K', platform: 'linux', wgKey, wgPort: wgKey ? WG_PORT : null });
  const SELF = { name: 'node2', key: K.node2 };
  const node1: Caller = { kind: 'member', node: 'node1' };

  test('a definition with the keys each member said itself is accepted', () => {
    checkSealClaims(node1, def(), SELF, [record('node1', K.node1), record('node3', K.node3)], []);
    checkSealClaims({ kind: 'root' }, def(), SELF, [], []);
  });

  test('a key for a node this host knows is not checked against it: the link uses the node\'s own word, whatever the definition says', () => {
    checkSealClaims(node1, def({ node3: NODE2_ROTATED }), SELF, [record('node1', K.node1), record('node3', K.node3)], []);
    // Nor is a stale key for this host: it uses its own.
    checkSealClaims(node1, def({ node2: NODE2_ROTATED }), SELF, [record('node1', K.node1)], []);
  });

  test('a stranger\'s key, port or address may not differ from what another encrypted VPC here says of it, unless the stranger sends it', () => {
    const other = def({}, 'vpc0');
    refused(() => checkSealClaims(node1, def({ node3: NODE2_ROTATED }), SELF, [record('node1', K.node1)], [other]), new RegExp(`^refused: member node3 of vpc1 has WireGuard key ${escape(NODE2_ROTATED)} port ${WG_PORT} at [^,]+, but vpc0 here has ${escape(K.node3)} port ${WG_PORT} at .*only node3 itself may change that$`));
    const moved = { ...def(), members: def().members.map((m) => (m.node === 'node3' ? { ...m, wgPort: 53 } : m)) };
    refused(() => checkSealClaims(node1, moved, SELF, [], [other]), /member node3 of vpc1 has WireGuard key .* port 53 at .*but vpc0 here has .* port 51820/);
    const readdressed = { ...def(), members: def().members.map((m) => (m.node === 'node3' ? { ...m, underlay: '192.0.2.66' } : m)) };
    refused(() => checkSealClaims(node1, readdressed, SELF, [], [other]), /at 192\.0\.2\.66, but vpc0 here has/);
    // node3 itself speaks for its new key (a rotation); a cleartext VPC here says nothing about keys.
    checkSealClaims({ kind: 'member', node: 'node3' }, def({ node3: NODE2_ROTATED }), SELF, [], [other]);
    checkSealClaims(node1, def({ node3: NODE2_ROTATED }), SELF, [], [{ ...other, encrypt: 'none' }]);
  });

  test('no key may stand for two nodes, or for this host', () => {
    refused(() => checkSealClaims(node1, def({ node3: K.node1 }), SELF, [record('node1', K.node1)], []), new RegExp(`member node3 of vpc1 has WireGuard key ${escape(K.node1)}, which is node1's`));
    refused(() => checkSealClaims(node1, def({ node3: K.node2 }), SELF, [], []), /which is node2's/);
    const invented = def({ node4: K.node3 }, 'vpc9', ['node1', 'node2', 'node4']);
    refused(() => checkSealClaims(node1, invented, SELF, [], [def({}, 'vpc0')]), /member node4 of vpc9 has WireGuard key .*, which is node3's/);
  });

  test('a cleartext VPC is not checked', () => {
    checkSealClaims(node1, { ...def({ node3: K.node1 }), encrypt: 'none' }, SELF, [record('node1', K.node1)], []);
    checkSealClaims(node1, { ...def({ node3: K.node1 }), encrypt: undefined }, SELF, [record('node1', K.node1)], []);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
