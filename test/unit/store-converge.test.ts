/**
 * Allocation through a real etcd (backend=etcd): a VPC larger than one etcd
 * transaction may hold, writers racing for ids, destroy giving back only its
 * own ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd } from './etcd-fixture.js';
import { destroyInStore, writeVpc } from '../../src/app/store-converge.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { VNI_PREFIX } from '../../src/store/etcd/layout.js';

const vpcOf = (name: string, hosts: number, net: string): VpcWithMap => ({
  name,
  peerNetwork: net,
  family: 4,
  mtu: null,
  firewall: true,
  members: Array.from({ length: hosts }, (_, i) => ({ node: `h${String(i + 1).padStart(2, '0')}`, underlay: `192.0.2.${i + 1}` })),
  pairs: [],
  fdb: 'learn',
});

test('etcd allocation: 32 members (496 pairs, more ids than one transaction takes), racing writers never share an id, destroy frees only its own', { timeout: 120_000 }, async () => {
  const e = await startEtcd();
  const c = await e.connectAs('h01');
  try {
    const big = await writeVpc(c, { name: 'big', next: () => vpcOf('big', 32, '10.0.0.0/20'), dryrun: false, trust: () => undefined }, () => undefined);
    assert.equal(big.vpc.pairs.length, 496);
    assert.equal((await c.range(VNI_PREFIX, { prefix: true })).kvs.filter((kv) => kv.value === 'big').length, 496);

    const seen = new Map<number, string>();
    for (const p of big.vpc.pairs) seen.set(p.vni, 'big');
    for (let i = 0; i < 5; i++) {
      const [a, b] = await Promise.all([
        writeVpc(c, { name: `ra${i}`, next: () => vpcOf(`ra${i}`, 12, `10.${16 + 2 * i}.0.0/23`), dryrun: false, trust: () => undefined }, () => undefined),
        writeVpc(c, { name: `rb${i}`, next: () => vpcOf(`rb${i}`, 12, `10.${32 + 2 * i}.0.0/23`), dryrun: false, trust: () => undefined }, () => undefined),
      ]);
      for (const w of [a, b]) {
        for (const p of w.vpc.pairs) {
          assert.equal(seen.get(p.vni), undefined, `VXLAN id ${p.vni} of ${w.vpc.name} is also ${seen.get(p.vni)}'s`);
          seen.set(p.vni, w.vpc.name);
        }
      }
    }
    // Every id in the store belongs to the VPC whose map has it: no id left over from a lost round.
    const held = (await c.range(VNI_PREFIX, { prefix: true })).kvs;
    assert.equal(held.length, seen.size);
    for (const kv of held) assert.equal(seen.get(Number(kv.key.slice(VNI_PREFIX.length))), kv.value);

    const gone = await destroyInStore(c, 'big', 100, 'h01', () => undefined);
    assert.equal(gone.removed, true);
    const after = (await c.range(VNI_PREFIX, { prefix: true })).kvs;
    assert.equal(after.filter((kv) => kv.value === 'big').length, 0);
    assert.equal(after.length, seen.size - 496, "the other VPCs' ids are all still held");
  } finally {
    c.close();
    await e.stop();
  }
});
