/**
 * Users upgrade a cluster one host at a time: a host still on an earlier
 * release (0.1.0, 0.2.0, 0.3.0, 0.4.0, built here from the history of the checkout
 * this test runs from) and hosts on this one interoperate, or refuse clearly
 * naming both versions. The old release runs on one lab host only (host 2; host 3 for 0.4.0): its private
 * mount namespace sees the old build where the package `meshvpc` on PATH runs
 * from is (the installed copy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRelease, hasCommit, RELEASE_0_1_0, RELEASE_0_2_0, RELEASE_0_3_0, RELEASE_0_4_0, runHostOn, sourceCheckout, upgradeHost } from '../../src/lab/release.js';
import { jailPing, joinAll, links, mv, ok, sh, shOk, snapshot, withLab } from './lab-helpers.js';

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
      assert.match(set.stdout + set.stderr, new RegExp(`host2: FAILED: host2 runs an older meshvpc than ${ours.replace(/\./g, '\\.')} \\(before 0\\.3\\.0\\), which keeps no quotas or guest network: upgrade it`));

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

test('a host on meshvpc 0.3.0: an encrypted VPC including it is refused on one line naming both versions, changing nothing; encrypted without it and cleartext with it work', { timeout: 600_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_3_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_3_0}, the 0.3.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_3_0, checkout);
  try {
    await withLab(3, 'v4', async (lab) => {
      await runHostOn(lab, 2, old);
      assert.equal((await ok(lab, 2, 'version')).trim(), '0.3.0');
      const ours = (await ok(lab, 1, 'version')).trim();
      assert.notEqual(ours, '0.3.0');
      // The lab made host2's database with this release; 0.3.0 rightly refuses a newer one, so it makes its own.
      const refused = await mv(lab, 2, 'node', 'mode=list');
      assert.equal(refused.code, 5);
      assert.match(refused.stderr, /made by a newer meshvpc \(schema version \d+; this meshvpc knows up to 6\)/);
      await sh(lab, 2, 'rm', '-f', '/var/db/meshvpc/meshvpc.sqlite', '/var/db/meshvpc/meshvpc.sqlite-wal', '/var/db/meshvpc/meshvpc.sqlite-shm');
      await ok(lab, 2, 'initenv', 'nodename=host2', 'nodeip=192.0.2.2');
      for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);

      // An encrypted VPC with the 0.3.0 host in it: refused before anything changes on any host, on one line.
      const before = await Promise.all([1, 2, 3].map((h) => snapshot(lab, h)));
      const sealed = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sealed', 'node_member=all', 'peer_network=198.51.100.0/26', 'encrypt=wireguard');
      assert.notEqual(sealed.code, 0);
      // Its progress got as far as asking the peers (which is how it learnt host2's version), no further.
      assert.equal(sealed.stdout, 'sealed: checking 2 peers\n', 'no host applied or converged');
      const lines = sealed.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line: ${sealed.stderr}`);
      assert.match(lines[0] ?? '', new RegExp(`^meshvpc: sealed is encrypted \\(encrypt=wireguard\\), and host2 runs meshvpc 0\\.3\\.0, which has no WireGuard: upgrade host2 to ${ours.replace(/\./g, '\\.')} first$`));
      assert.deepEqual(await Promise.all([1, 2, 3].map((h) => snapshot(lab, h))), before, 'a refused deploy changes nothing on any host');
      assert.deepEqual(JSON.parse(await ok(lab, 1, 'vpc', 'mode=list', '--json')), []);

      // Encrypted between the hosts on this release only: converged, sealed, and containers ping across.
      const deployed = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sealed13', 'node_member=host1,host3', 'peer_network=198.51.100.0/26', 'encrypt=wireguard');
      assert.match(deployed, /sealed13: 2 of 2 hosts converged/);
      for (const h of [1, 3]) {
        const tunnels = (await links(lab, h, 'type', 'vxlan')).filter((l) => l.master === 'sealed13');
        assert.equal(tunnels.length, 1, `host${h}`);
        assert.match(String(tunnels[0]?.linkinfo?.info_data?.remote), /^198\.51\.100\./, `host${h}'s tunnel runs between seal addresses`);
        await ok(lab, h, 'jcreate', `jname=s${h}`, 'interface=sealed13', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
      }
      for (const [from, to] of [[1, 3], [3, 1]] as const) {
        const r = await jailPing(lab, from, `s${from}`, `203.0.113.${to}`);
        assert.equal(r.code, 0, `s${from} -> s${to}: ${r.stdout}${r.stderr}`);
      }

      // Cleartext with the 0.3.0 host: the two releases interoperate.
      const clear = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=clear', 'node_member=all', 'peer_network=198.51.100.64/26');
      assert.match(clear, /clear: 3 of 3 hosts converged/);
      for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=clear', `ip4_addr=10.70.0.${h}/24`, 'runasap=1');
      for (const [from, to] of [[1, 2], [2, 3], [3, 1], [2, 1]] as const) {
        const r = await jailPing(lab, from, `c${from}`, `10.70.0.${to}`);
        assert.equal(r.code, 0, `c${from} -> c${to}: ${r.stdout}${r.stderr}`);
      }
    });
  } finally {
    old.remove();
  }
});

test('a host on meshvpc 0.4.0 in a VPC with fdb=control: deployed, containers ping in every direction, the new hosts keep flooding to it and hold no entries for its guests', { timeout: 600_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_4_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_4_0}, the 0.4.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_4_0, checkout);
  try {
    await withLab(3, 'v4', async (lab) => {
      await runHostOn(lab, 3, old);
      assert.equal((await ok(lab, 3, 'version')).trim(), '0.4.0');
      const ours = (await ok(lab, 1, 'version')).trim();
      assert.notEqual(ours, '0.4.0');
      // The lab made host3's database with this release; 0.4.0 rightly refuses a newer one, so it makes its own.
      const refused = await mv(lab, 3, 'node', 'mode=list');
      assert.equal(refused.code, 5);
      assert.match(refused.stderr, /made by a newer meshvpc \(schema version \d+; this meshvpc knows up to 8\)/);
      await sh(lab, 3, 'rm', '-f', '/var/db/meshvpc/meshvpc.sqlite', '/var/db/meshvpc/meshvpc.sqlite-wal', '/var/db/meshvpc/meshvpc.sqlite-shm');
      await ok(lab, 3, 'initenv', 'nodename=host3', 'nodeip=192.0.2.3');
      await joinAll(lab);

      // fdb=control is the default for a new VPC; the 0.4.0 host takes the definition (it ignores fdb).
      const deployed = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=mixed', 'node_member=all', 'peer_network=198.51.100.0/26');
      assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
      assert.match(deployed.stdout, /mixed: 3 of 3 hosts converged/);
      const listed = JSON.parse(await ok(lab, 1, 'vpc', 'mode=list', '--json')) as { name: string; fdb: string }[];
      assert.deepEqual(listed.map((v) => [v.name, v.fdb]), [['mixed', 'control']]);

      for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=m${h}`, 'interface=mixed', `ip4_addr=10.80.0.${h}/24`, 'runasap=1');
      for (const [from, to] of [[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]] as const) {
        const r = await jailPing(lab, from, `m${from}`, `10.80.0.${to}`);
        assert.equal(r.code, 0, `m${from} -> m${to}: ${r.stdout}${r.stderr}`);
      }

      // host2 reported its guests (control: ARP answered here, no unknown unicast sent); host3 never
      // did, so host1 still floods to it (suppress).
      const status = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=mixed', '--json')) as { node: string; peer: string; fdb?: string }[];
      const fdbTo = (peer: string): string | undefined => status.find((s) => s.node === 'host1' && s.peer === peer)?.fdb;
      assert.equal(fdbTo('host2'), 'control', JSON.stringify(status));
      assert.equal(fdbTo('host3'), 'suppress', JSON.stringify(status));

      const neighbours = JSON.parse(await shOk(lab, 1, 'ip', '-j', 'neigh', 'show', 'dev', 'mixed', 'nud', 'permanent')) as { dst: string; lladdr: string }[];
      const m2mac = (await shOk(lab, 2, 'ip', 'netns', 'exec', 'm2', 'cat', '/sys/class/net/eth0/address')).trim();
      assert.deepEqual(neighbours.filter((n) => n.dst === '10.80.0.2').map((n) => n.lladdr), [m2mac], `host1 knows host2's container: ${JSON.stringify(neighbours)}`);
      assert.deepEqual(neighbours.filter((n) => n.dst === '10.80.0.3'), [], `host1 holds no entry for host3's container: ${JSON.stringify(neighbours)}`);
    });
  } finally {
    old.remove();
  }
});

/**
 * A host upgraded from 0.4.0 in place: its copy of the VPC has no fdb mode until a member's
 * definition names one (migration 9 leaves it unset, so a deploy is not refused), it takes no
 * guest report meanwhile (members keep flooding to it), and its container, started by 0.4.0 at
 * a MAC derived from the host, is told as not running, so nobody points its address at the MAC
 * the VPC's mode would derive: it is found by ARP and learning until it restarts.
 */
test('a host upgraded from meshvpc 0.4.0 in a VPC with fdb=control: a deploy from another member converges, containers ping in every direction', { timeout: 600_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_4_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_4_0}, the 0.4.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_4_0, checkout);
  try {
    await withLab(3, 'v4', async (lab) => {
      await runHostOn(lab, 3, old);
      await sh(lab, 3, 'rm', '-f', '/var/db/meshvpc/meshvpc.sqlite', '/var/db/meshvpc/meshvpc.sqlite-wal', '/var/db/meshvpc/meshvpc.sqlite-shm');
      await ok(lab, 3, 'initenv', 'nodename=host3', 'nodeip=192.0.2.3');
      await joinAll(lab);
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=mixed', 'node_member=all', 'peer_network=198.51.100.0/26');
      for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=m${h}`, 'interface=mixed', `ip4_addr=10.80.0.${h}/24`, 'runasap=1');

      // host3 is upgraded in place: this release, its 0.4.0 database (migrated on first use), its running container.
      await upgradeHost(lab, 3, old);
      assert.equal((await ok(lab, 3, 'version')).trim(), (await ok(lab, 1, 'version')).trim());
      // A guest change on host1 tells every member its guests, host3 included now, and hears theirs;
      // an apply on host1 then puts what it heard on its bridge.
      await ok(lab, 1, 'jcreate', 'jname=m4', 'interface=mixed', 'ip4_addr=10.80.0.4/24', 'runasap=1');
      await ok(lab, 1, 'vpc', 'mode=apply', 'vpc_name=mixed');

      // Both checks run, so a failure names every problem at once.
      const problems: string[] = [];
      const guests = [[1, 'm1', 1], [1, 'm4', 4], [2, 'm2', 2], [3, 'm3', 3]] as const;
      for (const [h, g] of guests) {
        await sh(lab, h, 'ip', 'netns', 'exec', g, 'ip', 'neigh', 'flush', 'all');
        for (const [, to, n] of guests) if (to !== g && (await jailPing(lab, h, g, `10.80.0.${n}`)).code !== 0) problems.push(`${g} does not reach ${to}`);
      }
      const m3mac = (await shOk(lab, 3, 'ip', 'netns', 'exec', 'm3', 'cat', '/sys/class/net/eth0/address')).trim();
      const at = (JSON.parse(await shOk(lab, 1, 'ip', '-j', 'neigh', 'show', 'dev', 'mixed', 'nud', 'permanent')) as { dst: string; lladdr: string }[]).find((n) => n.dst === '10.80.0.3')?.lladdr;
      if (at !== undefined && at !== m3mac) problems.push(`host1 puts m3 (10.80.0.3) at ${at}, its eth0 is ${m3mac}`);
      const again = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=mixed');
      if (again.code !== 0 || !/mixed: 3 of 3 hosts converged/.test(again.stdout)) problems.push(`deploy from host1 exited ${again.code}: ${again.stdout}${again.stderr}`);
      assert.deepEqual(problems, []);
    });
  } finally {
    old.remove();
  }
});
