/**
 * The ClusterStore port: a host without a cluster opens the embedded store,
 * and the etcd implementation (through a real etcd) admits, counts and
 * refuses through the same methods the operations call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd } from './etcd-fixture.js';
import { openTestHost } from './host-fixture.js';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import { openClusterStore } from '../../src/app/cluster-store.js';
import { EtcdStore } from '../../src/app/cluster-store-etcd.js';
import { writeVpc } from '../../src/app/store-converge.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { NO_QUOTA } from '../../src/core/quota.js';

const vpc: VpcWithMap = {
  name: 'vpc1',
  peerNetwork: '198.51.100.0/26',
  family: 4,
  mtu: null,
  firewall: true,
  members: [{ node: 'h1', underlay: '192.0.2.1' }],
  pairs: [],
  fdb: 'control',
  quota: { ...NO_QUOTA, jail_max: 1 },
  guestNetwork: { network: '203.0.113.0/28', gateway: '203.0.113.1' },
};

test('a host with no cluster opens the embedded store; its count of a one-member VPC is its own guests', async () => {
  const t = openTestHost('h1', '192.0.2.1');
  try {
    const store = await openClusterStore(t.host);
    try {
      assert.equal(store.backend, 'embedded');
      const here = [{ name: 'g1', node: 'h1', kind: 'jail' as const, interface: 'vpc1', ip4Addr: '203.0.113.2/28', ip6Addr: null, running: true, vcpus: 0, ramBytes: 0, diskBytes: 0 }];
      assert.deepEqual(await store.counted(vpc, here), { guests: here, stale: [] });
      assert.deepEqual(await store.guestsChanged(['nosuch']), [], 'a VPC this host does not hold has nobody to tell');
    } finally {
      await store.close();
    }
  } finally {
    t.close();
  }
});

test('the etcd store admits through its lock and counts from the store: jail_max=1 holds across calls', { timeout: 60_000 }, async () => {
  const e = await startEtcd();
  const exec = new RecordingExecutor();
  exec.on((argv) => argv[0] === 'ip', { stdout: '[]' });
  const t = openTestHost('h1', '192.0.2.1', linuxDriver(exec));
  try {
    const client = await e.connectAs('h1');
    await writeVpc(client, { name: 'vpc1', next: () => vpc, dryrun: false, trust: () => undefined }, () => undefined);
    const store = new EtcdStore(t.host, client);
    try {
      assert.equal(store.backend, 'etcd');
      const adding = { name: 'g1', node: 'h1', kind: 'jail' as const, vcpus: 0, ramBytes: 0, diskBytes: 0 };
      const got = await store.admit({ vpc, adding, ip4: 'auto', ip6: null, force: false }, (a) => a.ip4Addr);
      assert.equal(got, '203.0.113.2/28');
      const counted = await store.counted(vpc, []);
      assert.deepEqual(counted.guests.map((g) => g.name), ['g1'], 'the claim counts before the guest is written');
      await assert.rejects(store.admit({ vpc, adding: { ...adding, name: 'g2' }, ip4: 'auto', ip6: null, force: false }, () => 'made'), /^UserError: vpc1: jail_max=1 reached/);
      await assert.rejects(store.teardown('destroy', { vpc_name: 'vpc1', dryrun: true }, () => undefined), /vpc mode=destroy dryrun=1 is not available with backend=etcd yet/);
    } finally {
      await store.close();
    }
  } finally {
    t.close();
    await e.stop();
  }
});
