import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { plan, planTeardown } from '../../src/core/planner.js';
import { observedFrom, type Observed, type ObservedLink, type LinkKind } from '../../src/core/observed.js';
import type { Op } from '../../src/core/ops.js';
import { buildHostSpec, specNames, type HostSpec, type HostSpecInput } from '../../src/core/spec.js';
import { pairsFor, specInput, V6 } from './spec-fixtures.js';
import { UserError } from '../../src/core/errors.js';
import { stableMac } from '../../src/core/mac.js';

// ---------------------------------------------------------------------------
// Fixtures

function spec(over: Partial<HostSpecInput> = {}): HostSpec {
  return buildHostSpec(specInput({ underlayMtu: new Map([['h2', 9000], ['h3', 1500]]), ...over }));
}

const bridged = (over: Partial<HostSpecInput> = {}): HostSpec =>
  spec({ layers: { vxlan: true, bridge: true }, bridgeIps: ['10.10.11.1/24'], ...over });

function link(name: string, kind: LinkKind, over: Partial<ObservedLink> = {}): ObservedLink {
  return {
    name,
    index: 0,
    kind,
    mtu: 1500,
    up: true,
    running: true,
    alias: null,
    master: null,
    isolated: false,
    vxlan: null,
    addresses: [],
    ...over,
  };
}

const BASE: readonly ObservedLink[] = [link('lo', 'other', { mtu: 65536, addresses: ['127.0.0.1/8'] }), link('eth0', 'other', { addresses: ['192.0.2.1/24'] })];

/**
 * A pure model of what a kernel does with each op, so that plan -> apply ->
 * plan can be checked without a kernel. It is strict: an op on a missing
 * interface, a duplicate create or a duplicate address is a planner bug.
 */
function apply(observed: Observed, ops: readonly Op[]): Observed {
  const links = new Map<string, ObservedLink>([...observed].map(([k, v]) => [k, { ...v, addresses: [...v.addresses] }]));
  let nextIndex = Math.max(0, ...[...observed.values()].map((l) => l.index)) + 1;
  const get = (name: string, op: Op): ObservedLink => {
    const l = links.get(name);
    assert.ok(l, `${op.op} on missing interface ${name}`);
    return l;
  };
  const put = (l: ObservedLink): void => {
    links.set(l.name, l);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'create_vxlan':
        assert.ok(!links.has(op.name), `create_vxlan of existing ${op.name}`);
        put(
          link(op.name, 'vxlan', {
            index: nextIndex++,
            mtu: op.mtu,
            up: false,
            running: false,
            alias: op.alias,
            vxlan: { vni: op.vni, local: op.local, remote: op.remote, port: op.port, learning: false, udp6zerocsumrx: op.udp6zerocsumrx },
          }),
        );
        break;
      case 'create_bridge':
        assert.ok(!links.has(op.name), `create_bridge of existing ${op.name}`);
        put(link(op.name, 'bridge', { index: nextIndex++, mtu: op.mtu, up: false, running: false, alias: op.alias }));
        break;
      case 'delete_link':
        get(op.name, op);
        links.delete(op.name);
        for (const l of links.values()) if (l.master === op.name) put({ ...l, master: null, isolated: false });
        break;
      case 'set_mtu':
        put({ ...get(op.name, op), mtu: op.mtu });
        break;
      case 'set_alias':
        put({ ...get(op.name, op), alias: op.alias });
        break;
      case 'set_up':
        put({ ...get(op.name, op), up: true, running: true });
        break;
      case 'add_addr': {
        const l = get(op.name, op);
        assert.ok(!l.addresses.includes(op.cidr), `add_addr of present ${op.cidr} on ${op.name}`);
        put({ ...l, addresses: [...l.addresses, op.cidr] });
        break;
      }
      case 'del_addr': {
        const l = get(op.name, op);
        assert.ok(l.addresses.includes(op.cidr), `del_addr of absent ${op.cidr} on ${op.name}`);
        put({ ...l, addresses: l.addresses.filter((a) => a !== op.cidr) });
        break;
      }
      case 'set_master': {
        const master = get(op.master, op);
        assert.equal(master.kind, 'bridge', `set_master onto non-bridge ${op.master}`);
        // Joining a bridge starts with default port flags.
        put({ ...get(op.name, op), master: op.master, isolated: false });
        break;
      }
      case 'set_nomaster':
        put({ ...get(op.name, op), master: null, isolated: false });
        break;
      case 'set_isolated': {
        const l = get(op.name, op);
        assert.ok(l.master !== null, `set_isolated on ${op.name}, which is not a bridge port`);
        put({ ...l, isolated: op.on });
        break;
      }
      case 'set_vxlan_endpoints': {
        // As the kernel's vxlan changelink: the device stays; another family is refused.
        const l = get(op.name, op);
        const v = l.vxlan;
        assert.ok(v && v.local !== null && v.remote !== null, `set_vxlan_endpoints on ${op.name}, which is not a vxlan with endpoints`);
        assert.equal(v.local.includes(':'), op.local.includes(':'), 'local changes family');
        assert.equal(v.remote.includes(':'), op.remote.includes(':'), 'remote changes family');
        put({ ...l, vxlan: { ...v, local: op.local, remote: op.remote } });
        break;
      }
    }
  }
  return observedFrom([...links.values()]);
}

const EMPTY = observedFrom(BASE);

/** Apply the plan and check a second plan is empty; returns the converged state. */
function converge(s: HostSpec, from: Observed = EMPTY): Observed {
  const after = apply(from, plan(s, from));
  assert.deepEqual(plan(s, after), [], 'a second plan must be empty');
  return after;
}

const with_ = (o: Observed, name: string, change: (l: ObservedLink) => ObservedLink | null): Observed => {
  const l = o.get(name);
  assert.ok(l, `fixture: no ${name}`);
  const next = change(l);
  return observedFrom([...[...o.values()].filter((x) => x.name !== name), ...(next ? [next] : [])]);
};

const names = (ops: readonly Op[]): string[] => [...new Set(ops.map((o) => o.name))];

// ---------------------------------------------------------------------------

describe('plan: an empty host', () => {
  test('vxlan layer: one create_vxlan per peer (port 4789, alias, segment MTU), address on the tunnel, up', () => {
    const ops = plan(spec(), EMPTY);
    assert.deepEqual(ops, [
      { op: 'create_vxlan', name: 'vxlan100', vni: 100, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-h2' },
      { op: 'create_vxlan', name: 'vxlan101', vni: 101, local: '192.0.2.1', remote: '192.0.2.3', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-h3' },
      { op: 'add_addr', name: 'vxlan100', cidr: '10.100.0.1/30' },
      { op: 'add_addr', name: 'vxlan101', cidr: '10.100.0.5/30' },
      { op: 'set_up', name: 'vxlan100' },
      { op: 'set_up', name: 'vxlan101' },
    ]);
  });

  test('MTU follows the underlayMtu map minus the overhead, minimum across peers', () => {
    const jumbo = plan(spec({ underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) }), EMPTY);
    assert.deepEqual(
      jumbo.filter((o) => o.op === 'create_vxlan').map((o) => (o.op === 'create_vxlan' ? o.mtu : 0)),
      [8950, 8950],
    );
    const v6 = plan(spec({ family: 6, underlay: V6, underlayMtu: new Map([['h2', 1500], ['h3', 9000]]) }), EMPTY);
    const creates = v6.filter((o) => o.op === 'create_vxlan');
    assert.equal(creates.length, 2);
    for (const c of creates) {
      assert.ok(c.op === 'create_vxlan');
      assert.equal(c.mtu, 1430);
      assert.equal(c.port, 4789);
      assert.equal(c.udp6zerocsumrx, true);
      assert.equal(c.local, '2001:db8::1');
    }
  });

  test('bridge layer: bridge first, every tunnel joins it isolated, addresses only on the bridge, bridge up last', () => {
    const ops = plan(bridged(), EMPTY);
    assert.deepEqual(ops, [
      { op: 'create_bridge', name: 'vpc1', mtu: 1450, alias: 'vpc-vpc1', mac: stableMac('bridge/h1/vpc1') },
      { op: 'create_vxlan', name: 'vxlan100', vni: 100, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-h2' },
      { op: 'create_vxlan', name: 'vxlan101', vni: 101, local: '192.0.2.1', remote: '192.0.2.3', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-h3' },
      { op: 'set_master', name: 'vxlan100', master: 'vpc1' },
      { op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true },
      { op: 'set_master', name: 'vxlan101', master: 'vpc1' },
      { op: 'set_isolated', name: 'vxlan101', bridge: 'vpc1', on: true },
      { op: 'add_addr', name: 'vpc1', cidr: '10.10.11.1/24' },
      { op: 'add_addr', name: 'vpc1', cidr: '10.100.0.1/30' },
      { op: 'add_addr', name: 'vpc1', cidr: '10.100.0.5/30' },
      { op: 'set_up', name: 'vxlan100' },
      { op: 'set_up', name: 'vxlan101' },
      { op: 'set_up', name: 'vpc1' },
    ]);
    assert.ok(!ops.some((o) => o.op === 'add_addr' && o.name.startsWith('vxlan')), 'no address on a bridge port');
  });

  test('nothing asked: nothing to do', () => {
    assert.deepEqual(plan(spec({ layers: { vxlan: false, bridge: false } }), EMPTY), []);
  });
});

describe('plan: idempotence (plan, apply, plan again -> [])', () => {
  const cases: Array<[string, HostSpec]> = [
    ['vxlan only, IPv4', spec()],
    ['vxlan + bridge, IPv4', bridged()],
    ['vxlan + bridge, IPv6 underlay', bridged({ family: 6, underlay: V6 })],
    ['bridge only', spec({ layers: { vxlan: false, bridge: true }, bridgeIps: ['10.10.11.1/24', '10.10.12.1/24'] })],
    ['vxlan only, 4 hosts, from h3', spec({ self: 'h3', pairs: pairsFor(['h1', 'h2', 'h3', 'h4']) })],
    ['jumbo bridge', bridged({ underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) })],
  ];
  for (const [what, s] of cases) {
    test(what, () => {
      const after = converge(s);
      // The model really has what the spec asks for.
      for (const t of s.tunnels) {
        const l = after.get(t.name);
        assert.ok(l && l.kind === 'vxlan' && l.up && l.mtu === t.mtu && l.vxlan?.vni === t.vni && l.vxlan.port === 4789);
        if (s.bridge) assert.ok(l.master === s.bridge.name && l.isolated && l.addresses.length === 0);
        else assert.deepEqual(l.addresses, [t.address]);
      }
      if (s.bridge) assert.deepEqual([...(after.get(s.bridge.name)?.addresses ?? [])].sort(), [...s.bridge.addresses].sort());
      // Untouched.
      assert.deepEqual(after.get('eth0'), EMPTY.get('eth0'));
    });
  }

  test('layer transitions each converge: vxlan -> +bridge -> -bridge -> +bridge -> teardown', () => {
    let o = converge(spec());
    const withBridge = bridged({ owned: specNames(spec()) });
    o = converge(withBridge, o);
    const tunnelsOnly = spec({ owned: specNames(withBridge) });
    const toTunnels = plan(tunnelsOnly, o);
    assert.deepEqual(toTunnels.filter((x) => x.op === 'delete_link'), [{ op: 'delete_link', name: 'vpc1' }]);
    o = converge(tunnelsOnly, o);
    assert.deepEqual(o.get('vxlan100')?.addresses, ['10.100.0.1/30']);
    assert.equal(o.get('vxlan100')?.master, null);
    o = converge(bridged({ owned: specNames(tunnelsOnly) }), o);
    const down = planTeardown('vpc1', specNames(withBridge), o);
    o = apply(o, down);
    assert.deepEqual([...o.keys()].sort(), ['eth0', 'lo']);
    assert.deepEqual(planTeardown('vpc1', specNames(withBridge), o), []);
  });

  test('adding a member adds only the new tunnel; existing tunnels are not touched', () => {
    const three = pairsFor(['h1', 'h2', 'h3']);
    const before = bridged({ pairs: three, underlayMtu: new Map() });
    const o = converge(before);
    const four = pairsFor(['h1', 'h2', 'h3', 'h4'], three);
    const after = bridged({ pairs: four, underlayMtu: new Map(), owned: specNames(before) });
    const ops = plan(after, o);
    assert.deepEqual(names(ops).sort(), ['vpc1', 'vxlan103']);
    assert.deepEqual(
      ops.filter((x) => x.name === 'vpc1'),
      [{ op: 'add_addr', name: 'vpc1', cidr: '10.100.0.13/30' }],
    );
    converge(after, o);
  });

  test('removing a member deletes only its tunnel and moves nothing else', () => {
    const three = pairsFor(['h1', 'h2', 'h3']);
    const before = bridged({ pairs: three, underlayMtu: new Map() });
    const o = converge(before);
    const two = pairsFor(['h1', 'h2'], three);
    const after = bridged({ pairs: two, underlayMtu: new Map(), owned: specNames(before) });
    assert.deepEqual(plan(after, o), [
      { op: 'delete_link', name: 'vxlan101' },
      { op: 'del_addr', name: 'vpc1', cidr: '10.100.0.5/30' },
    ]);
    converge(after, o);
  });
});

describe('plan: drift is repaired with exactly the needed ops', () => {
  const s = bridged();
  const good = converge(s);
  const vxlanOnly = spec();
  const goodTunnels = converge(vxlanOnly);

  const cases: Array<[string, HostSpec, Observed, Op[]]> = [
    [
      'a missing tunnel',
      s,
      with_(good, 'vxlan101', () => null),
      [
        { op: 'create_vxlan', name: 'vxlan101', vni: 101, local: '192.0.2.1', remote: '192.0.2.3', port: 4789, udp6zerocsumrx: false, mtu: 1450, alias: 'tunnel-to-h3' },
        { op: 'set_master', name: 'vxlan101', master: 'vpc1' },
        { op: 'set_isolated', name: 'vxlan101', bridge: 'vpc1', on: true },
        { op: 'set_up', name: 'vxlan101' },
      ],
    ],
    ['a wrong tunnel MTU', s, with_(good, 'vxlan100', (l) => ({ ...l, mtu: 1500 })), [{ op: 'set_mtu', name: 'vxlan100', mtu: 1450 }]],
    ['a wrong bridge MTU', s, with_(good, 'vpc1', (l) => ({ ...l, mtu: 1500 })), [{ op: 'set_mtu', name: 'vpc1', mtu: 1450 }]],
    ['isolated off', s, with_(good, 'vxlan101', (l) => ({ ...l, isolated: false })), [{ op: 'set_isolated', name: 'vxlan101', bridge: 'vpc1', on: true }]],
    [
      'a tunnel that left the bridge',
      s,
      with_(good, 'vxlan100', (l) => ({ ...l, master: null, isolated: false })),
      [
        { op: 'set_master', name: 'vxlan100', master: 'vpc1' },
        { op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true },
      ],
    ],
    ['a tunnel alias naming an old peer', s, with_(good, 'vxlan100', (l) => ({ ...l, alias: 'tunnel-to-old' })), [{ op: 'set_alias', name: 'vxlan100', alias: 'tunnel-to-h2' }]],
    ['a stray address on the bridge', s, with_(good, 'vpc1', (l) => ({ ...l, addresses: [...l.addresses, '10.9.9.9/24'] })), [{ op: 'del_addr', name: 'vpc1', cidr: '10.9.9.9/24' }]],
    ['a stray address on a bridged tunnel', s, with_(good, 'vxlan100', (l) => ({ ...l, addresses: ['10.100.0.1/30'] })), [{ op: 'del_addr', name: 'vxlan100', cidr: '10.100.0.1/30' }]],
    ['a missing bridge address', s, with_(good, 'vpc1', (l) => ({ ...l, addresses: l.addresses.filter((a) => a !== '10.10.11.1/24') })), [{ op: 'add_addr', name: 'vpc1', cidr: '10.10.11.1/24' }]],
    ['the bridge down', s, with_(good, 'vpc1', (l) => ({ ...l, up: false, running: false })), [{ op: 'set_up', name: 'vpc1' }]],
    ['a tunnel down', s, with_(good, 'vxlan101', (l) => ({ ...l, up: false })), [{ op: 'set_up', name: 'vxlan101' }]],
    ['a kernel link-local address is left alone', s, with_(good, 'vpc1', (l) => ({ ...l, addresses: [...l.addresses, 'fe80::1/64'] })), []],
    [
      'a stray address on an unbridged tunnel',
      vxlanOnly,
      with_(goodTunnels, 'vxlan101', (l) => ({ ...l, addresses: ['10.100.0.99/30', ...l.addresses] })),
      [{ op: 'del_addr', name: 'vxlan101', cidr: '10.100.0.99/30' }],
    ],
    [
      'a wrong address on an unbridged tunnel',
      vxlanOnly,
      with_(goodTunnels, 'vxlan100', (l) => ({ ...l, addresses: ['10.100.0.2/30'] })),
      [
        { op: 'del_addr', name: 'vxlan100', cidr: '10.100.0.2/30' },
        { op: 'add_addr', name: 'vxlan100', cidr: '10.100.0.1/30' },
      ],
    ],
    [
      'an unbridged tunnel put on some bridge',
      vxlanOnly,
      with_(goodTunnels, 'vxlan100', (l) => ({ ...l, master: 'br9' })),
      [{ op: 'set_nomaster', name: 'vxlan100', bridge: 'br9' }],
    ],
  ];
  for (const [what, sp, observed, want] of cases) {
    test(what, () => {
      const ops = plan(sp, observed);
      assert.deepEqual(ops, want);
      // And the repair converges.
      assert.deepEqual(plan(sp, apply(observed, ops)), []);
    });
  }

  const replace = (name: string, vni: number, remote: string, alias: string, upAfter = true): Op[] => [
    { op: 'delete_link', name },
    { op: 'create_vxlan', name, vni, local: '192.0.2.1', remote, port: 4789, udp6zerocsumrx: false, mtu: 1450, alias },
    { op: 'set_master', name, master: 'vpc1' },
    { op: 'set_isolated', name, bridge: 'vpc1', on: true },
    ...(upAfter ? [{ op: 'set_up', name } as Op] : []),
  ];
  const vx = (change: Partial<NonNullable<ObservedLink['vxlan']>>) => (l: ObservedLink): ObservedLink => ({
    ...l,
    vxlan: { ...(l.vxlan as NonNullable<ObservedLink['vxlan']>), ...change },
  });
  const replacements: Array<[string, Observed]> = [
    ['a wrong VNI', with_(good, 'vxlan100', vx({ vni: 999 }))],
    ['a remote of another family', with_(good, 'vxlan100', vx({ remote: '2001:db8::77' }))],
    ['a local of another family', with_(good, 'vxlan100', vx({ local: '2001:db8::99' }))],
    ['a wrong remote and a wrong VNI', with_(good, 'vxlan100', vx({ remote: '192.0.2.77', vni: 999 }))],
    ['the Linux default port 8472', with_(good, 'vxlan100', vx({ port: 8472 }))],
    ['learning on', with_(good, 'vxlan100', vx({ learning: true }))],
    ['udp6zerocsumrx on an IPv4 tunnel', with_(good, 'vxlan100', vx({ udp6zerocsumrx: true }))],
  ];
  for (const [what, observed] of replacements) {
    test(`${what} -> delete_link + create_vxlan`, () => {
      const ops = plan(s, observed);
      assert.deepEqual(ops, replace('vxlan100', 100, '192.0.2.2', 'tunnel-to-h2'));
      assert.deepEqual(plan(s, apply(observed, ops)), []);
    });
  }

  // A member's address moved (node mode=update): the tunnel changes in place and keeps its
  // interface (ifindex, bridge port, isolation, address), on a bridged and an unbridged VPC.
  const inPlace: Array<[string, HostSpec, Observed, Op[]]> = [
    ['a remote that moved', s, with_(good, 'vxlan100', vx({ remote: '192.0.2.77' })), [{ op: 'set_vxlan_endpoints', name: 'vxlan100', local: '192.0.2.1', remote: '192.0.2.2' }]],
    ['this host\'s own address moved', s, with_(good, 'vxlan101', vx({ local: '192.0.2.99' })), [{ op: 'set_vxlan_endpoints', name: 'vxlan101', local: '192.0.2.1', remote: '192.0.2.3' }]],
    ['both ends moved, unbridged', vxlanOnly, with_(goodTunnels, 'vxlan100', vx({ local: '192.0.2.99', remote: '192.0.2.77' })), [{ op: 'set_vxlan_endpoints', name: 'vxlan100', local: '192.0.2.1', remote: '192.0.2.2' }]],
  ];
  for (const [what, sp, observed, want] of inPlace) {
    test(`${what} -> set_vxlan_endpoints, no delete`, () => {
      const ops = plan(sp, observed);
      assert.deepEqual(ops, want);
      const after = apply(observed, ops);
      assert.deepEqual(plan(sp, after), []);
      for (const [name, l] of observed) assert.equal(after.get(name)?.index, l.index, `${name} keeps its ifindex`);
    });
  }

  test('an IPv6 member that moved changes in place too', () => {
    const v6 = bridged({ family: 6, underlay: V6 });
    const o = converge(v6);
    const moved = bridged({ family: 6, underlay: new Map([...V6, ['h2', '2001:db8::42']]) });
    const ops = plan(moved, o);
    assert.deepEqual(ops, [{ op: 'set_vxlan_endpoints', name: 'vxlan100', local: V6.get('h1') as string, remote: '2001:db8::42' }]);
    assert.deepEqual(plan(moved, apply(o, ops)), []);
  });

  test('an owned tunnel that is no longer wanted is deleted (VPC without bridge)', () => {
    const o = observedFrom([...goodTunnels.values(), link('vxlan150', 'vxlan', { alias: 'tunnel-to-h9', vxlan: { vni: 150, local: '192.0.2.1', remote: '192.0.2.9', port: 4789, learning: false, udp6zerocsumrx: false } })]);
    const s2 = spec({ owned: ['vxlan100', 'vxlan101', 'vxlan150'] });
    assert.deepEqual(plan(s2, o), [{ op: 'delete_link', name: 'vxlan150' }]);
  });

  test('an unrecorded meshvpc tunnel on our bridge is removed; one on another bridge or without the mark is not', () => {
    const unmarked = link('vxlan250', 'vxlan', { master: 'vpc1', vxlan: { vni: 250, local: '192.0.2.1', remote: '192.0.2.9', port: 4789, learning: false, udp6zerocsumrx: false } });
    const vx200 = link('vxlan200', 'vxlan', { master: 'vpc1', alias: 'tunnel-to-h9', isolated: true, vxlan: { vni: 200, local: '192.0.2.1', remote: '192.0.2.9', port: 4789, learning: false, udp6zerocsumrx: false } });
    const vx300 = link('vxlan300', 'vxlan', { master: 'vpc2', alias: 'tunnel-to-h9', isolated: true, vxlan: { vni: 300, local: '192.0.2.1', remote: '192.0.2.9', port: 4789, learning: false, udp6zerocsumrx: false } });
    const o = observedFrom([...good.values(), link('vpc2', 'bridge'), vx200, vx300, unmarked]);
    assert.deepEqual(plan(s, o), [{ op: 'delete_link', name: 'vxlan200' }]);
  });

  test('the tunnels are set up before the bridge', () => {
    const o = with_(with_(good, 'vpc1', (l) => ({ ...l, up: false })), 'vxlan100', (l) => ({ ...l, up: false }));
    assert.deepEqual(plan(s, o), [
      { op: 'set_up', name: 'vxlan100' },
      { op: 'set_up', name: 'vpc1' },
    ]);
  });
});

describe('plan: refusals', () => {
  const foreign = (name: string) => (e: unknown): boolean =>
    e instanceof UserError && new RegExp(`interface ${name} already exists on this host and is not meshvpc's`).test(e.message) && !e.message.includes('\n');
  for (const kind of ['other', 'veth', 'vxlan', 'epair', 'bridge'] as const) {
    test(`a ${kind} interface named like the VPC is refused with a UserError naming it`, () => {
      const o = observedFrom([...BASE, link('vpc1', kind)]);
      assert.throws(() => plan(bridged(), o), foreign('vpc1'));
    });
  }

  test('a bridge with another alias (a user\'s own bridge of that name) is refused, not adopted', () => {
    const o = observedFrom([...BASE, link('vpc1', 'bridge', { alias: 'office-lan', addresses: ['203.0.113.77/24'] })]);
    assert.throws(() => plan(bridged(), o), foreign('vpc1'));
    assert.throws(() => plan(bridged(), o), /alias "office-lan"/);
  });

  for (const [what, l] of [
    ['a foreign vxlan (another id, no alias)', link('vxlan100', 'vxlan', { vxlan: { vni: 4242, local: null, remote: null, port: 8472, learning: true, udp6zerocsumrx: false } })],
    ['a foreign vxlan with our exact parameters but no mark', link('vxlan100', 'vxlan', { vxlan: { vni: 100, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, learning: false, udp6zerocsumrx: false } })],
    ['a non-vxlan interface', link('vxlan100', 'other')],
  ] as const) {
    test(`the tunnel name taken by ${what} is refused`, () => {
      assert.throws(() => plan(spec(), observedFrom([...BASE, l])), foreign('vxlan100'));
    });
  }

  test('a peer network overlapping a subnet of another interface is refused, naming both', () => {
    const o = observedFrom([link('eth0', 'other', { addresses: ['10.100.0.9/24'] })]);
    assert.throws(() => plan(spec({ peerNetwork: '10.100.0.0/24' }), o), /invalid peer_network "10\.100\.0\.0\/24": it overlaps 10\.100\.0\.9\/24 on eth0/);
    // Taking the VPC down is still possible.
    assert.deepEqual(plan(spec({ peerNetwork: '10.100.0.0/24', layers: { vxlan: false, bridge: false } }), o), []);
  });

  test('bridge_ips overlapping a subnet of another interface are refused, naming both', () => {
    const o = observedFrom([link('eth0', 'other', { addresses: ['192.0.2.1/24'] })]);
    assert.throws(() => plan(bridged({ peerNetwork: '10.100.0.0/24', bridgeIps: ['192.0.2.200/24'] }), o), /invalid bridge_ips "192\.0\.2\.200\/24": it overlaps 192\.0\.2\.1\/24 on eth0/);
    // Its own bridge's addresses do not count against it.
    const mine = converge(bridged({ peerNetwork: '10.100.0.0/24' }));
    assert.deepEqual(plan(bridged({ peerNetwork: '10.100.0.0/24', owned: ['vpc1', 'vxlan100', 'vxlan101'] }), mine), []);
  });

  test('without a bridge layer such an interface is not our business', () => {
    const o = observedFrom([...BASE, link('vpc1', 'other')]);
    assert.deepEqual(plan(spec({ layers: { vxlan: false, bridge: false } }), o), []);
  });
});

describe('planTeardown', () => {
  const s = bridged();
  const owned = specNames(s);
  const other = link('vpc2', 'bridge', { alias: 'vpc-vpc2', addresses: ['10.20.0.1/24'] });
  const otherTunnel = link('vxlan200', 'vxlan', { master: 'vpc2', alias: 'tunnel-to-h2', isolated: true, vxlan: { vni: 200, local: '192.0.2.1', remote: '192.0.2.2', port: 4789, learning: false, udp6zerocsumrx: false } });
  const loneTunnel = link('vxlan300', 'vxlan', { vxlan: { vni: 300, local: '192.0.2.1', remote: '192.0.2.3', port: 4789, learning: false, udp6zerocsumrx: false } });
  const guest = link('vj1', 'veth', { master: 'vpc1', mtu: 1450 });
  const populated = observedFrom([...converge(s).values(), other, otherTunnel, loneTunnel, guest]);

  test('deletes the owned tunnels and the bridge, nothing else', () => {
    const ops = planTeardown('vpc1', owned, populated);
    assert.ok(ops.every((x) => x.op === 'delete_link'), JSON.stringify(ops));
    assert.deepEqual(names(ops).sort(), ['vpc1', 'vxlan100', 'vxlan101']);
    assert.equal(ops.length, 3);
    const after = apply(populated, ops);
    assert.deepEqual([...after.keys()].sort(), ['eth0', 'lo', 'vj1', 'vpc2', 'vxlan200', 'vxlan300']);
    assert.deepEqual(after.get('vxlan200'), otherTunnel);
    assert.deepEqual(planTeardown('vpc1', owned, after), []);
  });

  test('never deletes an unowned interface, even when the owned list names it', () => {
    const ops = planTeardown('vpc1', [...owned, 'eth0', 'lo', 'vj1'], populated);
    assert.deepEqual(names(ops).sort(), ['vpc1', 'vxlan100', 'vxlan101']);
  });

  test('an unrecorded tunnel still attached to the VPC bridge is removed with it', () => {
    const ops = planTeardown('vpc1', ['vpc1'], populated);
    assert.deepEqual(names(ops).sort(), ['vpc1', 'vxlan100', 'vxlan101']);
  });

  test('nothing owned, nothing attached: nothing deleted', () => {
    assert.deepEqual(planTeardown('vpc1', [], observedFrom([...BASE, other, otherTunnel, loneTunnel])), []);
    assert.deepEqual(planTeardown('vpc1', owned, EMPTY), []);
  });

  test('another VPC\'s teardown leaves vpc1 alone', () => {
    const ops = planTeardown('vpc2', ['vpc2', 'vxlan200'], populated);
    assert.ok(ops.every((x) => x.op === 'delete_link'), JSON.stringify(ops));
    assert.deepEqual(names(ops).sort(), ['vpc2', 'vxlan200']);
    assert.equal(ops.length, 2);
  });
});

describe('plan: guest ports follow the segment MTU', () => {
  const ports = [
    { name: 'vj1', alias: 'guest-j1' },
    { name: 'vj2', alias: 'guest-j2' },
    { name: 'epair3a', alias: 'guest-j3' },
  ];
  const small = bridged({ underlayMtu: new Map([['h2', 1500], ['h3', 1500]]), guests: ports });
  const big = bridged({ underlayMtu: new Map([['h2', 9000], ['h3', 9000]]), owned: specNames(small), guests: ports });
  const guests = [
    link('vj1', 'veth', { master: 'vpc1', alias: 'guest-j1', mtu: 1450 }),
    link('vj2', 'veth', { master: 'vpc1', alias: 'guest-j2', mtu: 8950 }),
    link('vjx', 'veth', { master: 'vpc2', alias: 'guest-jx', mtu: 1450 }),
    // Someone else's port on our bridge: not meshvpc's to retune.
    link('vuser', 'veth', { master: 'vpc1', mtu: 1500, isolated: true }),
    link('vpc2', 'bridge', { mtu: 1450 }),
  ];
  const o = observedFrom([...converge(small).values(), ...guests]);

  test('a converged segment leaves guests at the right MTU and guests of other bridges alone', () => {
    const touched = names(plan(small, o));
    assert.ok(!touched.includes('vj1') && !touched.includes('vjx') && !touched.includes('vpc2'), touched.join(','));
  });

  test('a changed segment MTU retunes bridge, tunnels and the guests on this bridge only', () => {
    const ops = plan(big, o);
    assert.deepEqual(ops, [
      { op: 'set_mtu', name: 'vpc1', mtu: 8950 },
      { op: 'set_mtu', name: 'vxlan100', mtu: 8950 },
      { op: 'set_mtu', name: 'vxlan101', mtu: 8950 },
      { op: 'set_mtu', name: 'vj1', mtu: 8950 },
    ]);
    assert.deepEqual(plan(big, apply(o, ops)), []);
  });

  test('a guest at the wrong MTU is brought back to the segment MTU', () => {
    assert.deepEqual(plan(small, o), [{ op: 'set_mtu', name: 'vj2', mtu: 1450 }]);
  });

  test('an epair guest (FreeBSD) is treated the same', () => {
    const withEpair = observedFrom([...converge(small).values(), link('epair3a', 'epair', { master: 'vpc1', alias: 'guest-j3', mtu: 1500 })]);
    assert.deepEqual(plan(small, withEpair), [{ op: 'set_mtu', name: 'epair3a', mtu: 1450 }]);
  });
});

describe('plan: op order for FreeBSD 15 (no addresses on bridge members)', () => {
  test(
    'bridging tunnels that hold addresses removes each address before the tunnel joins the bridge',
    () => {
      const o = converge(spec());
      const ops = plan(bridged({ owned: specNames(spec()) }), o);
      for (const t of ['vxlan100', 'vxlan101']) {
        const attach = ops.findIndex((x) => x.op === 'set_master' && x.name === t);
        const unaddress = ops.findIndex((x) => x.op === 'del_addr' && x.name === t);
        assert.ok(attach >= 0 && unaddress >= 0, `${t}: both ops planned`);
        assert.ok(unaddress < attach, `${t}: del_addr at ${unaddress} must come before set_master at ${attach}`);
      }
    },
  );

  test('MTUs are set before ports join the bridge', () => {
    const o = converge(spec({ underlayMtu: new Map() }));
    const ops = plan(bridged({ owned: specNames(spec()), underlayMtu: new Map([['h2', 9000], ['h3', 9000]]) }), o);
    const lastMtu = Math.max(...ops.map((x, i) => (x.op === 'set_mtu' || x.op === 'create_bridge' ? i : -1)));
    const firstAttach = ops.findIndex((x) => x.op === 'set_master');
    assert.ok(firstAttach > lastMtu, JSON.stringify(ops));
  });
});
