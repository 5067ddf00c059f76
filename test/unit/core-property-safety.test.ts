/**
 * Property: whatever definition a peer sends, if the validator accepts it, the
 * planner never puts an address outside the peer network on a tunnel or the
 * bridge (bridge_ips aside, which are this host's own), and never touches an
 * interface meshvpc does not own. Random slots, prefixes, members, ids and
 * foreign interfaces, from a seeded generator so a failure can be replayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vpcFromWire } from '../../src/cluster/wire.js';
import { plan } from '../../src/core/planner.js';
import { buildHostSpec, specNames } from '../../src/core/spec.js';
import { observedFrom, type ObservedLink } from '../../src/core/observed.js';
import { blockFor, capacity } from '../../src/core/peermap.js';
import { network } from '../../src/core/validate.js';
import { containsAddress } from '../../src/core/addrules.js';
import { UserError } from '../../src/core/errors.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const NETS = ['198.51.100.0/24', '198.51.100.128/25', '10.0.0.0/8', '10.1.2.0/30', '192.0.2.0/28', '0.0.0.0/0', '224.0.0.0/24', 'fd00::/120', '2001:db8:1::/64', 'fe80::/64'];

const link = (name: string, over: Partial<ObservedLink>): ObservedLink => ({ name, index: 1, kind: 'other', mtu: 1500, up: true, running: true, alias: null, master: null, isolated: false, vxlan: null, addresses: [], ...over });

test('no accepted definition yields an address outside its peer network or an op on a foreign interface', () => {
  const random = rng(20261122);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  let accepted = 0;
  let refusedCount = 0;
  for (let i = 0; i < 2000; i++) {
    const peerNetwork = pick(NETS);
    const n = 2 + Math.floor(random() * 4);
    const members = Array.from({ length: n }, (_, k) => ({ node: `h${k + 1}`, underlay: `192.0.2.${k + 1}` }));
    const net = network(peerNetwork, 'peer_network');
    const pairs = [];
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        // Mostly plausible slots, sometimes absurd ones; addresses sometimes forged.
        const slot = random() < 0.8 ? Math.floor(random() * 70) : Math.floor(random() * 2 ** 40);
        let addrs: { addrA: string; addrB: string; prefix: number };
        try {
          addrs = blockFor(net, slot);
        } catch {
          addrs = { addrA: '192.0.2.1', addrB: '192.0.2.2', prefix: 30 };
        }
        if (random() < 0.1) addrs = { ...addrs, addrA: '192.0.2.1' };
        pairs.push({ a: `h${a + 1}`, b: `h${b + 1}`, vni: 100 + Math.floor(random() * 50), slot, ...addrs });
      }
    }
    let def;
    try {
      def = vpcFromWire({ name: 'vpcx', peerNetwork, family: 4, mtu: null, firewall: true, members, pairs });
    } catch (e) {
      assert.ok(e instanceof UserError, String(e));
      refusedCount++;
      continue;
    }
    accepted++;
    for (const p of def.pairs) assert.ok(p.slot < capacity(net));
    // Foreign interfaces under names the plan may want, plus the host's underlay.
    const foreignNames = ['vpcx', 'vxlan100', 'vxlan120', `vxlan${def.pairs[0]?.vni ?? 0}`];
    const foreign = foreignNames.filter(() => random() < 0.3).map((name) => link(name, { kind: pick(['other', 'bridge', 'vxlan'] as const) }));
    const observed = observedFrom([link('eth0', { addresses: ['192.0.2.1/24'] }), ...foreign.filter((f, k) => foreign.findIndex((g) => g.name === f.name) === k)]);
    const spec = buildHostSpec({
      vpc: def.name, self: 'h1', pairs: def.pairs, family: 4,
      underlay: new Map(def.members.map((m) => [m.node, m.underlay])), underlayMtu: new Map(),
      mtu: null, layers: { vxlan: true, bridge: random() < 0.5 }, bridgeIps: [], owned: [], peerNetwork: def.peerNetwork,
    });
    let ops;
    try {
      ops = plan(spec, observed);
    } catch (e) {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, /is not meshvpc's|overlaps/);
      continue;
    }
    const wanted = new Set(specNames(spec));
    for (const op of ops) {
      if (op.op === 'add_addr') assert.ok(containsAddress(net, op.cidr.split('/')[0] as string), `${op.cidr} outside ${peerNetwork}`);
      assert.ok(wanted.has(op.name) && !foreign.some((f) => f.name === op.name), `op on ${op.name}, which meshvpc does not own: ${JSON.stringify(op)}`);
    }
  }
  // Both halves of the property were exercised.
  assert.ok(accepted > 100, `accepted ${accepted}`);
  assert.ok(refusedCount > 100, `refused ${refusedCount}`);
});
