/** src/cluster/wire.ts: requests from other hosts are validated like typed input. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { helloFacts, requestFromWire, vpcFromWire } from '../../src/cluster/wire.js';
import type { Hello } from '../../src/cluster/protocol.js';
import { allocatePeerMap } from '../../src/core/peermap.js';
import { network } from '../../src/core/validate.js';
import { UserError } from '../../src/core/errors.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

const PAIRS = allocatePeerMap({ members: ['h1', 'h2', 'h3'], network: network('10.100.0.0/24', 'peer_network'), existing: [], takenVnis: new Set() });

type Json = Record<string, unknown>;

const vpcJson = (over: Json = {}): Json => ({
  name: 'vpc1',
  peerNetwork: '10.100.0.0/24',
  family: 4,
  mtu: null,
  firewall: true,
  members: [
    { node: 'h1', underlay: '192.0.2.1' },
    { node: 'h2', underlay: '192.0.2.2' },
    { node: 'h3', underlay: '192.0.2.3' },
  ],
  pairs: PAIRS,
  ...over,
});

const introJson = (over: Json = {}): Json => ({
  nodename: 'h2',
  ip4: '192.0.2.2',
  ip6: '2001:db8::2',
  hostKey: KEY,
  publicKey: `ssh-ed25519 ${KEY} root@h2`,
  platform: 'linux',
  sshPort: 22,
  sshUser: 'root',
  sshAddress: '192.0.2.2',
  ...over,
});

const wire = (x: unknown): string => JSON.stringify(x);

function refused(text: string, message: RegExp): void {
  assert.throws(
    () => requestFromWire(text),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `${text.slice(0, 120)}: expected a UserError, got ${String(e)}`);
      assert.match(e.message, message, text.slice(0, 200));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
}

const put = (vpc: Json): string => wire({ op: 'vpc_put', vpc, force: false });

describe('requestFromWire: valid requests', () => {
  test('hello and jail_list', () => {
    assert.deepEqual(requestFromWire('{"op":"hello"}'), { op: 'hello' });
    assert.deepEqual(requestFromWire('{"op":"jail_list","ignored":1}'), { op: 'jail_list' });
  });

  test('pair: the introduction is validated and normalised', () => {
    const req = requestFromWire(wire({ op: 'pair', node: introJson({ ip6: '2001:DB8:0::2' }) }));
    assert.deepEqual(req, {
      op: 'pair',
      node: {
        nodename: 'h2',
        ip4: '192.0.2.2',
        ip6: '2001:db8::2',
        hostKey: KEY,
        publicKey: `ssh-ed25519 ${KEY}`,
        platform: 'linux',
        sshPort: 22,
        sshUser: 'root',
        sshAddress: '192.0.2.2',
      },
    });
  });

  test('pair: absent addresses are null', () => {
    const req = requestFromWire(wire({ op: 'pair', node: introJson({ ip4: null, ip6: undefined, platform: 'freebsd' }) }));
    assert.ok(req.op === 'pair');
    assert.equal(req.node.ip4, null);
    assert.equal(req.node.ip6, null);
    assert.equal(req.node.platform, 'freebsd');
  });

  test('unpair, vpc_collapse, vpc_forget, vpc_status', () => {
    assert.deepEqual(requestFromWire('{"op":"unpair","node":"h3"}'), { op: 'unpair', node: 'h3' });
    for (const op of ['vpc_collapse', 'vpc_forget', 'vpc_status']) {
      assert.deepEqual(requestFromWire(wire({ op, vpc: 'vpc1' })), { op, vpc: 'vpc1' });
    }
  });

  test('vpc_apply with a definition: checked like vpc_put, carried along', () => {
    const req = requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: ['bridge'], dryrun: false, definition: vpcJson() }));
    assert.ok(req.op === 'vpc_apply' && req.definition?.name === 'vpc1' && req.definition.pairs.length > 0);
    assert.throws(() => requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: [], definition: vpcJson({ name: 'bad;name' }) })), UserError);
  });

  test('vpc_apply: layers and dryrun', () => {
    assert.deepEqual(requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: ['vxlan', 'bridge'], dryrun: true })), {
      op: 'vpc_apply',
      vpc: 'vpc1',
      layers: ['vxlan', 'bridge'],
      dryrun: true,
    });
    assert.deepEqual(requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: [] })), { op: 'vpc_apply', vpc: 'vpc1', layers: [], dryrun: false });
  });

  test('vpc_put: a full definition round-trips', () => {
    const req = requestFromWire(wire({ op: 'vpc_put', vpc: vpcJson(), force: true }));
    assert.ok(req.op === 'vpc_put');
    assert.equal(req.force, true);
    assert.deepEqual(req.vpc, vpcJson());
  });

  test('only a literal true forces or dry-runs', () => {
    for (const v of [1, 'true', 'yes', null]) {
      const p = requestFromWire(wire({ op: 'vpc_put', vpc: vpcJson(), force: v }));
      assert.ok(p.op === 'vpc_put' && p.force === false, String(v));
      const a = requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: [], dryrun: v }));
      assert.ok(a.op === 'vpc_apply' && a.dryrun === false, String(v));
    }
  });
});

describe('vpcFromWire', () => {
  test('normalises the peer network and IPv6 addresses', () => {
    const v6Pairs = allocatePeerMap({ members: ['h1', 'h2'], network: network('2001:db8:f::/64', 'p'), existing: [], takenVnis: new Set() });
    const vpc = vpcFromWire(
      vpcJson({
        peerNetwork: '2001:DB8:F::/64',
        family: 6,
        mtu: 1400,
        members: [
          { node: 'h1', underlay: '2001:DB8::1' },
          { node: 'h2', underlay: '2001:db8::2' },
        ],
        pairs: v6Pairs.map((p) => ({ ...p, addrA: p.addrA.toUpperCase() })),
      }),
    );
    assert.equal(vpc.peerNetwork, '2001:db8:f::/64');
    assert.equal(vpc.family, 6);
    assert.equal(vpc.mtu, 1400);
    assert.deepEqual(vpc.members, [
      { node: 'h1', underlay: '2001:db8::1' },
      { node: 'h2', underlay: '2001:db8::2' },
    ]);
    assert.deepEqual(vpc.pairs, v6Pairs);
  });

  test('the VXLAN firewall is on unless a literal false turns it off', () => {
    assert.equal(vpcFromWire(vpcJson({ firewall: false })).firewall, false);
    for (const x of [true, undefined, null, 0, 'no', 'false']) {
      assert.equal(vpcFromWire(vpcJson({ firewall: x })).firewall, true, JSON.stringify(x));
    }
  });

  test('drops fields it does not know', () => {
    const vpc = vpcFromWire(vpcJson({ extra: 'x', pairs: PAIRS.map((p) => ({ ...p, junk: 1 })) }));
    assert.deepEqual(Object.keys(vpc).sort(), ['family', 'firewall', 'members', 'mtu', 'name', 'pairs', 'peerNetwork']);
    assert.deepEqual(vpc.pairs, PAIRS);
  });

  const bad: Array<[string, Json, RegExp]> = [
    ['a bad vpc name', { name: 'vpc;rm -rf /' }, /invalid vpc_name "vpc;rm -rf \/"/],
    ['a reserved vpc name', { name: 'lo' }, /reserved/],
    ['a long vpc name', { name: 'a'.repeat(16) }, /invalid vpc_name/],
    ['a numeric name', { name: 42 }, /bad request: name is not a string/],
    ['host bits in the peer network', { peerNetwork: '10.100.0.1/24' }, /host bits are set/],
    ['a malformed peer network', { peerNetwork: '10.100.0.0/24; id' }, /invalid peer_network/],
    ['family 5', { family: 5 }, /family must be 4 or 6/],
    ['family as a string', { family: '4' }, /family out of range/],
    ['mtu too small', { mtu: 1000 }, /mtu out of range/],
    ['mtu not an integer', { mtu: 1450.5 }, /mtu out of range/],
    ['mtu missing', { mtu: undefined }, /mtu out of range/],
    ['members not a list', { members: 'h1,h2' }, /members is not a list/],
    ['a member that is not an object', { members: ['h1'] }, /member is not an object/],
    ['a member name with a command substitution', { members: [{ node: '$(reboot)', underlay: '192.0.2.1' }] }, /invalid nodename "\$\(reboot\)"/],
    ['a member name with backticks', { members: [{ node: '`id`', underlay: '192.0.2.1' }] }, /invalid nodename/],
    ['a member with a bad underlay', { members: [{ node: 'h1', underlay: '192.0.2.1 -o ProxyCommand=x' }] }, /invalid node "192\.0\.2\.1 -o ProxyCommand=x"/],
    ['a member with a zone id', { members: [{ node: 'h1', underlay: 'fe80::1%eth0' }] }, /invalid node "fe80::1%eth0"/],
    ['a numeric underlay', { members: [{ node: 'h1', underlay: 3221225985 }] }, /underlay is not a string/],
    ['pairs not a list', { pairs: {} }, /pairs is not a list/],
    ['a pair that is null', { pairs: [null] }, /pair is not an object/],
    ['a pair end with a newline', { pairs: [{ ...PAIRS[0], a: 'h1\nh2' }] }, /invalid nodename "h1\\nh2"/],
    ['VNI below the range', { pairs: [{ ...PAIRS[0], vni: 99 }] }, /vni out of range/],
    ['VNI above 24 bits', { pairs: [{ ...PAIRS[0], vni: 16777216 }] }, /vni out of range/],
    ['VNI as a string', { pairs: [{ ...PAIRS[0], vni: '100' }] }, /vni out of range/],
    ['a negative slot', { pairs: [{ ...PAIRS[0], slot: -1 }] }, /slot out of range/],
    ['a fractional slot', { pairs: [{ ...PAIRS[0], slot: 0.5 }] }, /slot out of range/],
    ['a pair address that is not one', { pairs: [{ ...PAIRS[0], addrA: '10.100.0.1/30' }] }, /invalid node "10\.100\.0\.1\/30"/],
    ['a pair prefix of 129', { pairs: [{ ...PAIRS[0], prefix: 129 }] }, /prefix out of range/],
  ];
  for (const [what, over, message] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => vpcFromWire(vpcJson(over)),
        (e: unknown) => e instanceof UserError && message.test(e.message) && !/\n/.test(e.message),
      );
      refused(put(vpcJson(over)), message);
    });
  }

  test('refuses a vpc that is not an object', () => {
    for (const x of [null, 'vpc1', [], 3]) {
      assert.throws(() => vpcFromWire(x), /bad request: vpc is not an object/);
    }
  });

  test(
    'refuses pair addresses outside the peer network',
    () => {
      assert.throws(() => vpcFromWire(vpcJson({ pairs: [{ ...PAIRS[0], addrA: '192.0.2.2', addrB: '192.0.2.3' }] })), UserError);
    },
  );
});

describe('requestFromWire: refusals', () => {
  test('malformed JSON', () => {
    for (const text of ['', '{', 'op=hello', "{'op':'hello'}", '{"op":"hello"} trailing', '\u0000']) refused(text, /^bad request: not JSON$/);
  });

  test('not an object', () => {
    for (const text of ['null', '[]', '"hello"', '42', 'true']) refused(text, /^bad request: request is not an object$/);
  });

  test('op missing or not a string', () => {
    refused('{}', /^bad request: op is not a string$/);
    refused('{"op":1}', /^bad request: op is not a string$/);
    refused('{"op":["hello"]}', /^bad request: op is not a string$/);
  });

  test('unknown op, shown quoted on one line', () => {
    refused('{"op":"shell"}', /^bad request: unknown op "shell"$/);
    refused('{"op":"__proto__"}', /unknown op "__proto__"/);
    refused(wire({ op: 'x\n; reboot' }), /^bad request: unknown op "x\\n; reboot"$/);
    refused(wire({ op: 'x'.repeat(100) }), new RegExp(`unknown op "${'x'.repeat(40)}\\.\\.\\."$`));
  });

  const vpcOps = ['vpc_collapse', 'vpc_forget', 'vpc_status'];
  const badNames: Array<[unknown, RegExp]> = [
    ['vpc1;reboot', /invalid vpc_name "vpc1;reboot"/],
    ['$(id)', /invalid vpc_name "\$\(id\)"/],
    ['`id`', /invalid vpc_name "`id`"/],
    ['vpc 1', /invalid vpc_name "vpc 1"/],
    ["vpc'", /invalid vpc_name "vpc'"/],
    ['../etc', /invalid vpc_name "\.\.\/etc"/],
    ['vxlan100', /reserved/],
    ['a'.repeat(16), /invalid vpc_name "a{16}"/],
    [42, /vpc is not a string/],
    [null, /vpc is not a string/],
  ];
  for (const op of [...vpcOps, 'vpc_apply']) {
    for (const [name, message] of badNames) {
      test(`${op} refuses vpc ${JSON.stringify(name)}`, () => {
        refused(wire({ op, vpc: name, layers: [] }), message);
      });
    }
  }

  test('vpc_apply refuses unknown layers and a non-list', () => {
    refused(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: ['vxlan', 'firewall'] }), /^bad request: unknown layer$/);
    refused(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: 'vxlan' }), /layers is not a list/);
    refused(wire({ op: 'vpc_apply', vpc: 'vpc1' }), /layers is not a list/);
  });

  test('unpair refuses a bad node name', () => {
    refused(wire({ op: 'unpair', node: 'h1 h2' }), /invalid nodename "h1 h2"/);
    refused(wire({ op: 'unpair', node: '' }), /invalid nodename ""/);
    refused(wire({ op: 'unpair' }), /node is not a string/);
  });

  const badIntro: Array<[string, Json, RegExp]> = [
    ['a nodename with ;', { nodename: 'h2;id' }, /invalid nodename "h2;id"/],
    ['a long nodename', { nodename: 'a'.repeat(64) }, /invalid nodename "a{40}\.\.\."/],
    ['an octal ip4', { ip4: '010.0.0.1' }, /invalid nodeip "010\.0\.0\.1"/],
    ['an ip6 in the ip4 field', { ip4: '2001:db8::2' }, /invalid nodeip/],
    ['a scoped ip6', { ip6: 'fe80::2%eth0' }, /invalid nodeip6 "fe80::2%eth0"/],
    ['a numeric ip4', { ip4: 3221225986 }, /ip4 is not a string/],
    ['a host key with spaces', { hostKey: `${KEY} x` }, /hostKey is not a base64 SSH key/],
    ['a host key with a newline', { hostKey: `${KEY}\ncommand="id"` }, /hostKey is not a base64 SSH key/],
    ['a short host key', { hostKey: 'AAAA' }, /hostKey is not a base64 SSH key/],
    ['an RSA public key', { publicKey: `ssh-rsa ${KEY}` }, /publicKey is not a string/],
    ['a public key with options', { publicKey: `command="sh" ssh-ed25519 ${KEY}` }, /publicKey/],
    ['a public key blob with a quote', { publicKey: `ssh-ed25519 ${KEY}"` }, /publicKey is not a base64 SSH key/],
    ['an unknown platform', { platform: 'windows' }, /unknown platform "windows"/],
    ['port 0', { sshPort: 0 }, /sshPort out of range/],
    ['port 65536', { sshPort: 65536 }, /sshPort out of range/],
    ['port as a string', { sshPort: '22' }, /sshPort out of range/],
    ['a user with a space', { sshUser: 'root -oProxyCommand=x' }, /invalid user/],
    ['an upper-case user', { sshUser: 'Root' }, /invalid user "Root"/],
    ['an ssh address that is a name', { sshAddress: 'evil.example' }, /invalid node "evil\.example"/],
    ['an ssh address with an option', { sshAddress: '-oProxyCommand=id' }, /invalid node/],
    ['node not an object', { __replace: 'h2' }, /node is not an object/],
  ];
  for (const [what, over, message] of badIntro) {
    test(`pair refuses ${what}`, () => {
      const node = '__replace' in over ? over.__replace : introJson(over);
      refused(wire({ op: 'pair', node }), message);
    });
  }
});

describe('requestFromWire: a whole definition is checked, sizes are capped', () => {
  const p0 = PAIRS[0] as (typeof PAIRS)[number];
  test('a slot outside the peer network (the address arithmetic would wrap) is refused', () => {
    refused(put(vpcJson({ pairs: [{ ...p0, slot: 1047734112, addrA: '192.0.2.1', addrB: '192.0.2.2' }] })), /block 1047734112, but 10\.100\.0\.0\/24 holds blocks 0-63/);
    refused(put(vpcJson({ pairs: [{ ...p0, slot: 64 }] })), /holds blocks 0-63/);
  });
  test('addresses must be the ones the slot derives', () => {
    refused(put(vpcJson({ pairs: [{ ...p0, addrA: '192.0.2.1' }] })), /block 0 of 10\.100\.0\.0\/24 is 10\.100\.0\.1\/30 and 10\.100\.0\.2\/30/);
  });
  test('special peer networks and underlays are refused', () => {
    refused(put(vpcJson({ peerNetwork: '0.0.0.0/0', pairs: [] })), /overlaps the unspecified/);
    refused(put(vpcJson({ peerNetwork: '224.0.0.0/24', pairs: [] })), /multicast/);
    refused(put(vpcJson({ peerNetwork: '192.0.2.0/28', pairs: [] })), /contains h1's underlay address 192\.0\.2\.1/);
    refused(put(vpcJson({ members: [{ node: 'h1', underlay: '127.0.0.1' }], pairs: [] })), /loopback/);
    refused(put(vpcJson({ members: [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'h2', underlay: '192.0.2.1' }], pairs: [] })), /two members share an underlay address/);
    refused(wire({ op: 'pair', node: introJson({ ip4: '224.0.0.1' }) }), /invalid ip4 "224\.0\.0\.1"/);
  });
  test('more pairs than members allow, too many members, or too many bytes are refused before any work', () => {
    refused(put(vpcJson({ members: [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'h2', underlay: '192.0.2.2' }] })), /3 pairs for 2 members \(at most 1\)|not a member/);
    const many = Array.from({ length: 100_000 }, (_, i) => ({ node: `n${i}`, underlay: '192.0.2.1' }));
    refused(put(vpcJson({ members: many, pairs: [] })), /100000 members, at most 256 are allowed/);
    refused(' '.repeat(8 * 1024 * 1024 + 1), /bytes, at most 8388608 are allowed/);
  });
  test('hello may name a VPC; vpc_apply may carry the ids the initiator renumbered', () => {
    assert.deepEqual(requestFromWire(wire({ op: 'hello', vpc: 'vpc1' })), { op: 'hello', vpc: 'vpc1' });
    refused(wire({ op: 'hello', vpc: 'a;b' }), /invalid vpc_name/);
    const r = requestFromWire(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: [], dryrun: false, renumber: [100, 101] }));
    assert.deepEqual(r, { op: 'vpc_apply', vpc: 'vpc1', layers: [], dryrun: false, renumber: [100, 101] });
    refused(wire({ op: 'vpc_apply', vpc: 'vpc1', layers: [], dryrun: false, renumber: [1] }), /renumber out of range/);
  });
});

describe('helloFacts: a peer\'s reply is validated like a request', () => {
  const hello = (over: Json): Hello => ({ nodename: 'h2', ip4: null, ip6: null, platform: 'linux', publicKey: 'k', version: '0.2.0', ...over }) as unknown as Hello;
  const link = { name: 'eth0', index: 3, kind: 'other', mtu: 1500, up: true, running: true, alias: null, master: null, isolated: false, vxlan: null, addresses: ['192.0.2.2/24'] };
  test('well-formed facts come back normalised; an old peer has none', () => {
    assert.deepEqual(helloFacts(hello({})), {});
    const f = helloFacts(hello({ usedVnis: [{ vni: 4242, by: 'interface vxlan100' }], links: [link, { ...link, name: 'vnet0:6', kind: 'epair', addresses: ['2001:DB8::1/64'] }] }));
    assert.deepEqual(f.usedVnis, [{ vni: 4242, by: 'interface vxlan100' }]);
    assert.deepEqual(f.links?.map((l) => [l.name, l.kind, l.addresses]), [['eth0', 'other', ['192.0.2.2/24']], ['vnet0:6', 'epair', ['2001:db8::1/64']]]);
  });
  test('garbage is refused, not planned against', () => {
    for (const [bad, why] of [
      [{ links: 'x' }, /links is not a list/],
      [{ links: [{ ...link, name: 'a b' }] }, /interface name "a b"/],
      [{ links: [{ ...link, name: 'x'.repeat(16) }] }, /interface name/],
      [{ links: [{ ...link, kind: 'tun' }] }, /interface kind "tun"/],
      [{ links: [{ ...link, addresses: ['not-an-address'] }] }, /invalid address/],
      [{ links: [{ ...link, vxlan: { vni: -1, port: 4789 } }] }, /vni out of range/],
      [{ usedVnis: [{ vni: 2 ** 25, by: 'x' }] }, /vni out of range/],
      [{ links: Array.from({ length: 5000 }, () => link) }, /5000 links, at most 4096/],
    ] as const) {
      assert.throws(() => helloFacts(hello(bad as Json)), why, JSON.stringify(bad).slice(0, 80));
    }
  });
});

describe('link MTUs from the wire: a whole number a real link can have, optional for older peers', () => {
  const withMtus = (...mtus: unknown[]): Json =>
    vpcJson({ members: (vpcJson().members as Json[]).map((m, i) => (i < mtus.length ? { ...m, mtu: mtus[i] } : m)) });
  test("a member's mtu is kept; absent (a 0.3.0 peer) or null, the member has none", () => {
    const def = vpcFromWire(withMtus(1500, 576, 65535));
    assert.deepEqual(def.members.map((m) => m.mtu), [1500, 576, 65535]);
    const old = vpcFromWire(vpcJson());
    assert.ok(old.members.every((m) => !('mtu' in m)), JSON.stringify(old.members));
    assert.deepEqual(vpcFromWire(withMtus(null, 1400)).members.map((m) => m.mtu), [undefined, 1400, undefined]);
  });
  test('absurd member mtus are refused, and the whole definition with them', () => {
    for (const bad of [0, -1, 575, 65536, 1e9, 1400.5, '1400', true, [1400], { mtu: 1400 }]) {
      refused(put(withMtus(1500, bad)), /member mtu out of range/);
    }
  });
  test("a hello's linkMtu: per family, each optional", () => {
    const hello = (linkMtu: unknown): Hello => ({ nodename: 'h2', ip4: null, ip6: null, platform: 'linux', publicKey: 'k', version: '0.3.1', linkMtu }) as unknown as Hello;
    assert.deepEqual(helloFacts(hello({ ip4: 1400, ip6: 9000 })).linkMtu, { ip4: 1400, ip6: 9000 });
    assert.deepEqual(helloFacts(hello({ ip4: 1400 })).linkMtu, { ip4: 1400 });
    assert.deepEqual(helloFacts(hello({ ip6: null })).linkMtu, {});
    assert.deepEqual(helloFacts(hello({ ip4: 1400, other: 'ignored' })).linkMtu, { ip4: 1400 });
    assert.equal('linkMtu' in helloFacts(hello(undefined)), false, 'an older peer says nothing');
    for (const [bad, why] of [
      [{ ip4: 100 }, /ip4 link mtu out of range/],
      [{ ip6: 70000 }, /ip6 link mtu out of range/],
      [{ ip4: '1500' }, /ip4 link mtu out of range/],
      [{ ip4: 1499.9 }, /ip4 link mtu out of range/],
      ['1500', /linkMtu is not an object/],
      [[1500], /linkMtu is not an object/],
      [null, /linkMtu is not an object/],
    ] as const) {
      assert.throws(() => helloFacts(hello(bad)), why, JSON.stringify(bad));
    }
  });
});

describe('fdb=control on the wire', () => {
  const guest = { name: 'web', node: 'h2', kind: 'jail', interface: 'vpc1', ip4Addr: '203.0.113.2/24', ip6Addr: null, running: true, vcpus: 0, ramBytes: 0, diskBytes: 0 };
  const report = (over: Record<string, unknown>): string => JSON.stringify({ op: 'guest_report', vpc: 'vpc1', node: 'h2', guests: [guest], ...over });

  test('a definition carries its fdb mode; one from a 0.4 peer carries none; anything else is refused', () => {
    assert.equal(vpcFromWire(vpcJson({ fdb: 'control' })).fdb, 'control');
    assert.equal(vpcFromWire(vpcJson({ fdb: 'learn' })).fdb, 'learn');
    assert.equal(vpcFromWire(vpcJson({})).fdb, undefined);
    for (const bad of ['flood', '', 'CONTROL', 1, null]) assert.throws(() => vpcFromWire(vpcJson({ fdb: bad })), UserError, JSON.stringify(bad));
  });

  test('a guest report names its sender, and every guest in it is the sender\'s, checked like guest_list', () => {
    const r = requestFromWire(report({}));
    assert.equal(r.op, 'guest_report');
    assert.ok(r.op === 'guest_report' && r.node === 'h2' && r.guests[0]?.ip4Addr === '203.0.113.2/24');
    assert.throws(() => requestFromWire(report({ guests: [{ ...guest, node: 'h3' }] })), /h2 reported a guest of "h3"/);
    assert.throws(() => requestFromWire(report({ guests: [{ ...guest, interface: 'vpc2' }] })), /when asked about vpc1/);
    assert.throws(() => requestFromWire(report({ guests: [guest, guest] })), /twice/);
    assert.throws(() => requestFromWire(report({ guests: [{ ...guest, ip4Addr: '203.0.113.2/24; reboot' }] })), UserError);
    assert.throws(() => requestFromWire(report({ guests: [{ ...guest, name: '../x' }] })), UserError);
    assert.throws(() => requestFromWire(report({ node: 'bad node' })), UserError);
    assert.throws(() => requestFromWire(report({ vpc: 'VPC!' })), UserError);
    assert.throws(() => requestFromWire(report({ guests: 'all' })), UserError);
  });
});
