/**
 * Users upgrade a cluster one host at a time: a host still on the previous
 * release (0.1.0, built here from the history of the checkout this test runs
 * from) and hosts on this one interoperate in both directions. The old release
 * runs on lab host 2 only: its private mount namespace sees the old build where
 * the package `meshvpc` on PATH runs from is (the installed copy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRelease, hasCommit, RELEASE_0_1_0, RELEASE_0_2_0, runHostOn, sourceCheckout } from '../../src/lab/release.js';
import { links, mv, ok, sh, withLab } from './lab-helpers.js';

test('a host on meshvpc 0.1.0 and hosts on this release deploy to each other', { timeout: 300_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_1_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_1_0}, the 0.1.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_1_0, checkout);
  try {
    await withLab(3, 'v4', async (lab) => {
      await runHostOn(lab, 2, old);
      assert.equal((await ok(lab, 2, 'version')).trim(), '0.1.0');
      assert.notEqual((await ok(lab, 1, 'version')).trim(), '0.1.0');
      for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
      await ok(lab, 2, 'node', 'mode=add', 'node=192.0.2.3');

      // The old host deploys to new ones: its cluster key entries on them are bound on first use.
      const fromOld = await mv(lab, 2, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26');
      assert.equal(fromOld.code, 0, fromOld.stdout + fromOld.stderr);
      assert.match(fromOld.stdout, /vpc2: 3 of 3 hosts converged/);
      // A new host deploys to the old one, naming its version, and allocates around vpc2's ids.
      const fromNew = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
      assert.equal(fromNew.code, 0, fromNew.stdout + fromNew.stderr);
      assert.match(fromNew.stdout, /host2: runs meshvpc 0\.1\.0 \(this host \d+\.\d+\.\d+\): it checks the VPC only when it applies it; upgrade it/);
      assert.match(fromNew.stdout, /vpc1: 3 of 3 hosts converged/);
      for (const h of [1, 2, 3]) {
        const ids = (await links(lab, h)).filter((l) => l.linkinfo?.info_kind === 'vxlan').map((l) => Number(l.linkinfo?.info_data?.id));
        assert.equal(ids.length, 4, `host${h}: ${ids.join(',')}`);
        assert.equal(new Set(ids).size, 4, `host${h}: duplicate VNI in ${ids.join(',')}`);
      }
      for (const [h, vpc] of [[1, 'vpc1'], [3, 'vpc2']] as const) {
        const status = JSON.parse(await ok(lab, h, 'vpc', 'mode=status', `vpc_name=${vpc}`, '--json')) as { present: boolean; up: boolean; rtt_ms: number | null }[];
        assert.equal(status.length, 6);
        assert.ok(status.every((s) => s.present && s.up && s.rtt_ms !== null), JSON.stringify(status));
      }
    });
  } finally {
    old.remove();
  }
});

test('a host on meshvpc 0.2.0 in a VPC with a quota or guest network: guarded creations refuse clearly, plain ones still work', { timeout: 300_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_2_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_2_0}, the 0.2.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_2_0, checkout);
  try {
    await withLab(3, 'v4', async (lab) => {
      await runHostOn(lab, 2, old);
      assert.equal((await ok(lab, 2, 'version')).trim(), '0.2.0');
      // The lab made host2's database with this release; 0.2.0 rightly refuses a newer one, so it makes its own.
      const refused = await mv(lab, 2, 'node', 'mode=list');
      assert.equal(refused.code, 5);
      assert.match(refused.stderr, /made by a newer meshvpc \(schema version \d+; this meshvpc knows up to 5\)/);
      await sh(lab, 2, 'rm', '-f', '/var/db/meshvpc/meshvpc.sqlite', '/var/db/meshvpc/meshvpc.sqlite-wal', '/var/db/meshvpc/meshvpc.sqlite-shm');
      await ok(lab, 2, 'initenv', 'nodename=host2', 'nodeip=192.0.2.2');
      const ours = (await ok(lab, 1, 'version')).trim();
      for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
      await ok(lab, 2, 'node', 'mode=add', 'node=192.0.2.3');
      const older = new RegExp(`host2 runs meshvpc 0\\.2\\.0 \\(this host ${ours.replace(/\./g, '\\.')}\\), which cannot count or hold guests for a quota or guest network: upgrade it`);

      // The old host takes the definition (it keeps no policy); a guarded jcreate on a new host refuses, naming both versions.
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26', 'jail_max=5', 'guest_network=10.50.0.0/24');
      const guarded = await mv(lab, 1, 'jcreate', 'jname=j1', 'interface=vpc1', 'ip4_addr=auto');
      assert.notEqual(guarded.code, 0);
      assert.match(guarded.stderr, older);
      const set = await mv(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=6');
      assert.equal(set.code, 1, 'set reports the member that cannot keep it');
      assert.match(set.stdout + set.stderr, /host2.*older meshvpc than 0\.3\.0/);

      // The old host as the arbiter (the first member by name): refused the same way.
      await ok(lab, 3, 'vpc', 'mode=deploy', 'vpc_name=vpc3', 'node_member=host2,host3', 'peer_network=198.51.100.128/26', 'jail_max=1');
      const arbiter = await mv(lab, 3, 'jcreate', 'jname=j3', 'interface=vpc3');
      assert.match(arbiter.stderr, older);

      // Without a quota or guest network nothing needs counting: containers work as before, and are found on the old host.
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26');
      await ok(lab, 2, 'jcreate', 'jname=old1', 'interface=vpc2', 'ip4_addr=203.0.113.2/24', 'runasap=1');
      await ok(lab, 1, 'jcreate', 'jname=new1', 'interface=vpc2', 'ip4_addr=203.0.113.1/24', 'runasap=1');
      assert.deepEqual(JSON.parse(await ok(lab, 1, 'jwhereis', 'jname=old1', '--json')), ['host2'], 'found on the 0.2.0 host through its jail_list');
    });
  } finally {
    old.remove();
  }
});
