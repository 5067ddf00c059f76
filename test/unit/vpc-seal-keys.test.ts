/**
 * withSealKeys: an encrypted VPC's members carry the WireGuard keys they said
 * themselves, and a member whose meshvpc has none is refused naming both
 * versions, before anything is remembered (a refusal changes nothing, whatever
 * order the members come in).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSealKeys } from '../../src/app/vpc-cluster.js';
import type { Host } from '../../src/app/host.js';
import type { Outcome } from '../../src/cluster/fanout.js';
import type { Hello } from '../../src/cluster/protocol.js';
import { newWgKeyPair } from '../../src/cluster/wg-keys.js';
import { VERSION } from '../../src/core/version.js';
import type { NetworkDriver } from '../../src/platform/driver.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { openDb } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIDZpbaYnGMk4aXtZrQjUlqso6ULNCx6U7IRfuHb+C1Bz';

function withHost(fn: (host: Host) => void): void {
  const home = mkdtempSync(join(tmpdir(), 'mvseal-'));
  const db = openDb(home, 'create');
  try {
    const self = { nodename: 'h1', ip4: '192.0.2.1', ip6: null };
    repo.putSelf(db, self);
    fn({ db, home, self, driver: {} as NetworkDriver });
  } finally {
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function addNode(host: Host, name: string, ip4: string, wg: { key: string; port: number } | null): void {
  repo.putNode(host.db, { name, sshAddress: ip4, sshPort: 22, sshUser: 'root', ip4, ip6: null, hostKey: KEY, platform: 'linux' });
  if (wg) repo.putNodeSeal(host.db, name, wg.key, wg.port);
}

const hello = (nodename: string, ip4: string, version: string, wg: { key: string; port: number } | null): Outcome<Hello> => ({
  key: nodename,
  ok: true,
  ms: 1,
  value: { nodename, ip4, ip6: null, platform: 'linux', publicKey: KEY, version, usedVnis: [], ...(wg ? { wgKey: wg.key, wgPort: wg.port } : {}) },
});

const vpc = (members: readonly [string, string][]): VpcWithMap => ({
  name: 'sealed',
  peerNetwork: '198.51.100.0/26',
  family: 4,
  mtu: null,
  firewall: true,
  members: members.map(([n, underlay]) => ({ node: n, underlay })),
  pairs: [],
  quota: { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null },
  guestNetwork: null,
  encrypt: 'wireguard',
});

test('a member on a meshvpc without WireGuard is refused naming both versions, and nothing said by the others is remembered', () => {
  withHost((host) => {
    const stored = { key: newWgKeyPair().publicKey, port: 51820 };
    const rotated = { key: newWgKeyPair().publicKey, port: 51821 };
    addNode(host, 'h2', '192.0.2.2', stored);
    addNode(host, 'h3', '192.0.2.3', null);
    const before = repo.listNodes(host.db);
    assert.equal(before[0]?.wgKey, stored.key);
    // h2 (this release) comes before h3 (0.3.0) and says a key it rotated to since it was added.
    const reach = [hello('h2', '192.0.2.2', VERSION, rotated), hello('h3', '192.0.2.3', '0.3.0', null)];
    assert.throws(
      () => withSealKeys(host, vpc([['h1', '192.0.2.1'], ['h2', '192.0.2.2'], ['h3', '192.0.2.3']]), reach),
      (e: Error) => e.message === `sealed is encrypted (encrypt=wireguard), and h3 runs meshvpc 0.3.0, which has no WireGuard: upgrade h3 to ${VERSION} first`,
    );
    assert.deepEqual(repo.listNodes(host.db), before, 'a refusal remembers nothing');

    // A dry run carries the keys but remembers nothing.
    const dry = withSealKeys(host, vpc([['h1', '192.0.2.1'], ['h2', '192.0.2.2']]), reach.slice(0, 1), true);
    assert.equal(dry.members.find((m) => m.node === 'h2')?.wgKey, rotated.key);
    assert.deepEqual(repo.listNodes(host.db), before, 'a dry run remembers nothing');

    // Without the old host: every member carries its key, and what h2 said of itself is remembered.
    const keyed = withSealKeys(host, vpc([['h1', '192.0.2.1'], ['h2', '192.0.2.2']]), reach.slice(0, 1));
    assert.deepEqual(keyed.members.find((m) => m.node === 'h2'), { node: 'h2', underlay: '192.0.2.2', wgKey: rotated.key, wgPort: rotated.port });
    assert.match(keyed.members.find((m) => m.node === 'h1')?.wgKey ?? '', /^[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(repo.getNode(host.db, 'h2')?.wgKey, rotated.key);
  });
});

test('a cleartext VPC takes an old member as it is', () => {
  withHost((host) => {
    const clear = { ...vpc([['h1', '192.0.2.1'], ['h3', '192.0.2.3']]), encrypt: 'none' as const };
    assert.equal(withSealKeys(host, clear, [hello('h3', '192.0.2.3', '0.3.0', null)]), clear);
  });
});
