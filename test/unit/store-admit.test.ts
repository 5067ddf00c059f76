/**
 * Guest admission with backend=etcd, through a real etcd: two hosts (each its
 * own database) admitting at once never pass a quota nor share an address; a
 * creation that fails gives its claim back; a dead holder's lock goes with
 * its lease; a lock that ran out refuses the write made under it; a hostile
 * claim (a value that is not what its key says, or not signed by the host
 * its key names) counts for nobody; a definition from a non-member, or not
 * signed, is not believed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcd, type TestEtcd } from './etcd-fixture.js';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import type { Host } from '../../src/app/host.js';
import { openTestHost } from './host-fixture.js';
import { admitInStore } from '../../src/app/store-admit.js';
import { writeVpc } from '../../src/app/store-converge.js';
import { publishGuests } from '../../src/app/store-guests.js';
import { lockInStore, LOCK_TTL_SECONDS } from '../../src/store/etcd/lease-lock.js';
import { claimKey, claimsOf, lockKey } from '../../src/store/etcd/layout.js';
import type { EtcdClient } from '../../src/store/etcd/client.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { NO_QUOTA } from '../../src/core/quota.js';
import { UserError } from '../../src/core/errors.js';
import type { Admission } from '../../src/app/guest-guard.js';

function hostAt(name: string, ip: string): { host: Host; close(): void } {
  const exec = new RecordingExecutor();
  exec.on((argv) => argv[0] === 'ip', { stdout: '[]' });
  return openTestHost(name, ip, linuxDriver(exec));
}

const vpcOf = (jailMax: number | null): VpcWithMap => ({
  name: 'vpc1',
  peerNetwork: '198.51.100.0/26',
  family: 4,
  mtu: null,
  firewall: true,
  members: [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'h2', underlay: '192.0.2.2' }],
  pairs: [],
  fdb: 'control',
  quota: { ...NO_QUOTA, jail_max: jailMax },
  guestNetwork: { network: '203.0.113.0/28', gateway: '203.0.113.1' },
});

const adding = (host: Host, name: string): Admission['adding'] => ({ name, node: host.self.nodename, kind: 'jail', vcpus: 0, ramBytes: 0, diskBytes: 0 });

async function define(c: EtcdClient, vpc: VpcWithMap): Promise<void> {
  await writeVpc(c, { name: vpc.name, next: () => vpc, dryrun: false, trust: () => undefined }, () => undefined);
}

interface Cluster {
  readonly e: TestEtcd;
  /** Two hosts, each with its own database and its own signing client. */
  readonly h1: Host;
  readonly h2: Host;
  readonly c: EtcdClient;
  readonly c2: EtcdClient;
}

/** A real etcd and two hosts for `fn`, all torn down however it ends. */
async function withCluster(fn: (k: Cluster) => Promise<void>): Promise<void> {
  const e = await startEtcd();
  const h1 = hostAt('h1', '192.0.2.1');
  const h2 = hostAt('h2', '192.0.2.2');
  try {
    await fn({ e, h1: h1.host, h2: h2.host, c: await e.connectAs('h1'), c2: await e.connectAs('h2') });
  } finally {
    h1.close();
    h2.close();
    await e.stop();
  }
}

const admitOne = (host: Host, c: EtcdClient, vpc: VpcWithMap, name: string, record: (a: { ip4Addr: string | null }) => unknown = (a) => a.ip4Addr) =>
  admitInStore(host, c, { vpc, adding: adding(host, name), ip4: 'auto', ip6: null, force: false }, record);

test('etcd admission: six creations at once on two hosts, jail_max=4: four admitted with distinct addresses, two refused by the quota', { timeout: 60_000 }, () =>
  withCluster(async ({ e, h1, h2, c, c2 }) => {
    const vpc = vpcOf(4);
    await define(c, vpc);
    const tries = [h1, h2, h1, h2, h1, h2].map((h, i) => admitOne(h, h === h1 ? c : c2, vpc, `g${i}`).then((ip) => ({ ok: true as const, ip }), (err: unknown) => ({ ok: false as const, err })));
    const got = await Promise.all(tries);
    const admitted = got.filter((g) => g.ok);
    const refused = got.filter((g) => !g.ok);
    assert.equal(admitted.length, 4, JSON.stringify(got));
    assert.equal(new Set(admitted.map((g) => (g.ok ? g.ip : ''))).size, 4, 'no address handed out twice');
    for (const g of admitted) assert.match(String(g.ok ? g.ip : ''), /^203\.0\.113\.(?:[2-9]|1[0-4])\/28$/, 'never the gateway nor an edge');
    for (const r of refused) assert.match(String(r.ok ? '' : (r.err as Error).message), /^vpc1: jail_max=4 reached/);
    assert.equal((await c.range(claimsOf('vpc1'), { prefix: true })).kvs.length, 4, 'one claim per admitted guest');
    assert.equal((await c.get(lockKey('vpc1'))), null, 'the lock was given back');

    // The quota raised in the store is what the next admission decides on (not this host's copy).
    await define(c, vpcOf(5));
    assert.match(String(await admitOne(h1, c, vpc, 'g9')), /^203\.0\.113\./);
    await assert.rejects(admitOne(h2, c2, vpc, 'g10'), /jail_max=5 reached/);
    // A host that is not a member raises the quota in the store: its definition is not believed.
    const c3 = await e.connectAs('h3');
    await define(c3, vpcOf(50));
    await assert.rejects(admitOne(h2, c2, vpc, 'g10'), /the definition of vpc1 in the store is not believed: h3 wrote it, and h3 is not a member of the vpc1 it sent/);
    // Nor is one written without a signature (as meshvpc 0.5 wrote them, or by hand).
    await c.put('/meshvpc/v1/vpc/vpc1', JSON.stringify(vpcOf(50)));
    await assert.rejects(admitOne(h2, c2, vpc, 'g10'), /the definition of vpc1 in the store is not believed: not signed/);
  }));

test('etcd admission: a creation that fails gives its claim back; a spent claim is removed by its host; names and hostile claims', { timeout: 60_000 }, () =>
  withCluster(async ({ h1, h2, c, c2 }) => {
    const vpc = vpcOf(2);
    await define(c, vpc);
    await assert.rejects(admitOne(h1, c, vpc, 'broken', () => { throw new UserError('the container did not start'); }), /did not start/);
    assert.equal(await c.get(claimKey('vpc1', 'h1', 'broken')), null, 'the failed creation left no claim');

    // A claim whose guest this host does not have (its creator died after the claim): its host's next publish removes it.
    assert.equal(await admitOne(h1, c, vpc, 'orphan'), '203.0.113.2/28');
    await publishGuests(h1, c, 'vpc1', []);
    assert.equal(await c.get(claimKey('vpc1', 'h1', 'orphan')), null);
    // ... but never another host's claim.
    assert.equal(await admitOne(h2, c2, vpc, 'theirs'), '203.0.113.2/28');
    await publishGuests(h1, c, 'vpc1', []);
    assert.ok(await c.get(claimKey('vpc1', 'h2', 'theirs')));

    // fdb=control: a name another member holds is refused, on either side.
    await assert.rejects(admitOne(h1, c, vpc, 'theirs'), /guest name theirs is taken on vpc1 by h2/);

    // A claim whose value is not what its key says (another node, another name) is nobody's: it neither counts nor takes an address.
    await c.put(claimKey('vpc1', 'h2', 'evil'), JSON.stringify({ name: 'other', node: 'h1', kind: 'jail', interface: 'vpc1', ip4Addr: '203.0.113.3/28', ip6Addr: null, running: false, vcpus: 0, ramBytes: 0, diskBytes: 0 }));
    await c.put(claimKey('vpc1', 'h2', 'junk'), 'not json');
    // ... and one in h2's name that h1 signed: a host speaks for itself only.
    await c.put(claimKey('vpc1', 'h2', 'forged'), c.seal(claimKey('vpc1', 'h2', 'forged'), JSON.stringify({ name: 'forged', node: 'h2', kind: 'jail', interface: 'vpc1', ip4Addr: '203.0.113.3/28', ip6Addr: null, running: false, vcpus: 0, ramBytes: 0, diskBytes: 0 })));
    assert.equal(await admitOne(h1, c, vpc, 'mine'), '203.0.113.3/28');
    await assert.rejects(admitOne(h1, c, vpc, 'one-too-many'), /jail_max=2 reached \(2 containers: mine@h1, theirs@h2\)/);
  }));

test('etcd lock: a dead holder\'s lock goes with its lease; a busy refusal names the holder; a write under a lock that ran out is refused', { timeout: 60_000 }, () =>
  withCluster(async ({ h1, c }) => {
    const prev = process.env.MESHVPC_LOCK_TIMEOUT_MS;
    try {
      const vpc = vpcOf(3);
      await define(c, vpc);
      // A holder that died: its key is on a lease nobody renews.
      const dead = await c.grant(LOCK_TTL_SECONDS);
      assert.ok(await c.create(lockKey('vpc1'), JSON.stringify({ node: 'h2', what: 'adding x', token: 't' }), { lease: dead.id }));
      process.env.MESHVPC_LOCK_TIMEOUT_MS = '500';
      await assert.rejects(admitOne(h1, c, vpc, 'g1'), (err: Error) => err.message === "vpc1 is busy: h2 (adding x) holds its lock in the cluster's store; try again later");
      assert.equal((await c.range(claimsOf('vpc1'), { prefix: true })).kvs.length, 0, 'a busy refusal wrote nothing');
      process.env.MESHVPC_LOCK_TIMEOUT_MS = String((LOCK_TTL_SECONDS + 5) * 1000);
      const started = Date.now();
      assert.equal(await admitOne(h1, c, vpc, 'g1'), '203.0.113.2/28');
      assert.ok(Date.now() - started < (LOCK_TTL_SECONDS + 3) * 1000, 'taken once the dead holder\'s lease ran out');

      // A lock that ran out under its holder (its lease revoked): the guarded write does not happen.
      const lock = await lockInStore(c, lockKey('vpc1'), 'h1', 'test', 1000);
      await c.delete(lockKey('vpc1'));
      const r = await c.txn([lock.guard], [{ put: { key: claimKey('vpc1', 'h1', 'late'), value: '{}' } }]);
      assert.equal(r.succeeded, false);
      assert.equal(await c.get(claimKey('vpc1', 'h1', 'late')), null);
      await lock.release();
    } finally {
      if (prev === undefined) delete process.env.MESHVPC_LOCK_TIMEOUT_MS;
      else process.env.MESHVPC_LOCK_TIMEOUT_MS = prev;
    }
  }));
