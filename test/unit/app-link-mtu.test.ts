/**
 * The shell around core/mtu-claims.ts, on a fake driver (no kernel is
 * touched): a host reports the MTU of the link holding its underlay address,
 * and plans its tunnels from its route, its own link and the links its peers
 * reported in the stored definition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';
import { hostFacts, reconcileAccepted } from '../../src/app/vpc-local.js';
import type { Host } from '../../src/app/host.js';
import type { NetworkDriver } from '../../src/platform/driver.js';
import { observedFrom, type ObservedLink } from '../../src/core/observed.js';
import type { Member, VpcWithMap } from '../../src/core/types.js';
import { pairsFor } from './spec-fixtures.js';

const link = (name: string, mtu: number, addresses: string[]): ObservedLink => ({
  name, index: 2, kind: 'other', mtu, up: true, running: true, alias: null, master: null, isolated: false, vxlan: null, addresses,
});

/** A driver that sees one underlay link and answers every route lookup with `route`. */
function fakeDriver(linkMtu: number, address: string, route = 1500): NetworkDriver {
  return {
    platform: 'linux',
    observe: async () => observedFrom([link('lo', 65536, ['127.0.0.1/8']), link('eth0', linkMtu, [`${address}/24`])]),
    underlayMtu: async () => route,
    commandsFor: () => [],
  } as unknown as NetworkDriver;
}

function withHost<T>(self: string, driver: NetworkDriver, members: readonly Member[], fn: (host: Host) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), 'mvlinkmtu-'));
  const db = openDb(home, 'create');
  const me = members.find((m) => m.node === self)?.underlay ?? null;
  const vpc: VpcWithMap = { name: 'vpc1', peerNetwork: '198.51.100.0/26', family: 4, mtu: null, firewall: true, members, pairs: pairsFor(members.map((m) => m.node), [], '198.51.100.0/26') };
  db.transaction(() => {
    repo.putSelf(db, { nodename: self, ip4: me, ip6: null });
    repo.putVpc(db, vpc);
    repo.putPairs(db, vpc.name, vpc.pairs);
  })();
  const host: Host = { db, home, self: { nodename: self, ip4: me, ip6: null }, driver };
  return fn(host).finally(() => {
    db.close();
    rmSync(home, { recursive: true, force: true });
  });
}

const MEMBERS: Member[] = [
  { node: 'host1', underlay: '192.0.2.1', mtu: 1500 },
  { node: 'host2', underlay: '192.0.2.2', mtu: 1500 },
  { node: 'host3', underlay: '192.0.2.3', mtu: 1400 },
];

/** The MTU of every interface the plan creates. */
async function planned(host: Host): Promise<[string, number][]> {
  const r = await reconcileAccepted(host, 'vpc1', { vxlan: true, bridge: true }, true);
  return r.ops.flatMap((o) => (o.op === 'create_vxlan' || o.op === 'create_bridge' ? [[o.name, o.mtu] as [string, number]] : []));
}

test("a host reports the MTU of the link that holds its underlay address (hello's linkMtu)", async () => {
  await withHost('host3', fakeDriver(1400, '192.0.2.3'), MEMBERS, async (host) => {
    assert.deepEqual((await hostFacts(host, 'vpc1')).linkMtu, { ip4: 1400 });
  });
  await withHost('host1', fakeDriver(1500, '203.0.113.1'), MEMBERS, async (host) => {
    assert.deepEqual((await hostFacts(host, 'vpc1')).linkMtu, {}, 'its address is on no link (NAT): no claim');
  });
});

test("host1, whose route to host3 says 1500, plans its tunnels and bridge at host3's 1400 less 50", async () => {
  await withHost('host1', fakeDriver(1500, '192.0.2.1'), MEMBERS, async (host) => {
    assert.deepEqual(await planned(host), [['vpc1', 1350], ['vxlan100', 1350], ['vxlan101', 1350]]);
  });
});

test('host3 plans from its own link even where its route says more', async () => {
  await withHost('host3', fakeDriver(1400, '192.0.2.3', 1500), MEMBERS.map((m) => (m.node === 'host3' ? { node: m.node, underlay: m.underlay } : m)), async (host) => {
    assert.deepEqual(await planned(host), [['vpc1', 1350], ['vxlan101', 1350], ['vxlan102', 1350]]);
  });
});

test('a definition without claims (an older deployer) plans as before', async () => {
  await withHost('host1', fakeDriver(1500, '192.0.2.1'), MEMBERS.map((m) => ({ node: m.node, underlay: m.underlay })), async (host) => {
    assert.deepEqual(await planned(host), [['vpc1', 1450], ['vxlan100', 1450], ['vxlan101', 1450]]);
  });
});
