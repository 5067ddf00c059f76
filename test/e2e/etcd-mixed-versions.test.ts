/**
 * backend=etcd with one host still on meshvpc 0.6.0 (4-host lab, etcd on
 * host1-3, host3 on 0.6.0): a cleartext VPC over all four works (they
 * interoperate); what 0.6.0 cannot do is refused naming both versions (an
 * encrypted VPC with host3, whose 0.6 agent writes no WireGuard key; the new
 * etcd member list, which host3 cannot take); once host3 is upgraded the
 * encrypted VPC deploys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, destroyLab, killLabProcess, startLabProcess, type LabProcess } from '../../src/lab/lab.js';
import { buildRelease, hasCommit, RELEASE_0_6_0, runHostOn, sourceCheckout, upgradeHost } from '../../src/lab/release.js';
import { VERSION } from '../../src/core/version.js';
import { eventuallyReaches, mv, ok } from './lab-helpers.js';

test('backend=etcd: a 0.6.0 host interoperates, and what it cannot do is refused naming both versions', { timeout: 900_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_6_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_6_0}, the 0.6.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_6_0, checkout);
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const agents = new Map<number, LabProcess>();
  const startAgent = (h: number): void => void agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
  try {
    await runHostOn(lab, 3, old);
    assert.equal((await ok(lab, 3, 'version')).trim(), '0.6.0');
    for (const h of [1, 2, 3, 4]) startAgent(h);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3,host4', 'peer_network=198.51.100.0/26'), /vpc1: 4 of 4 hosts converged/);
    for (const h of [1, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    assert.equal((await eventuallyReaches(lab, 1, 'c1', '203.0.113.3', 20)).code, 0, 'a 0.7 and a 0.6 host on one VPC');

    // An encrypted VPC with host3: its 0.6 agent wrote no WireGuard key.
    const sealed = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sec', 'node_member=host1,host3', 'peer_network=198.51.100.64/26', 'encrypt=wireguard');
    assert.notEqual(sealed.code, 0);
    assert.match(sealed.stderr, new RegExp(`sec is encrypted, and host3 \\(its agent runs meshvpc 0\\.6\\.0, this host ${VERSION.replace(/\./g, '\\.')}: upgrade it\\) has no WireGuard key`));

    // A new etcd member: host3 cannot take the new list, and says which versions.
    const added = await mv(lab, 1, 'cluster', 'mode=add_member', 'node=host4');
    assert.equal(added.code, 1, added.stdout + added.stderr);
    console.log(`add_member with host3 on 0.6.0:\n${added.stdout}${added.stderr}`);
    assert.match(added.stdout, new RegExp(`host3: FAILED: host3 runs meshvpc 0\\.6\\.0 \\(this host ${VERSION.replace(/\./g, '\\.')}\\), which cannot take a new etcd member list: upgrade it`));
    assert.match(added.stdout, /host2: has the new member list/);

    // host3 upgraded (agent stopped, files replaced, agent started): the encrypted VPC deploys.
    const a3 = agents.get(3);
    if (a3) await killLabProcess(lab, a3);
    await upgradeHost(lab, 3, old);
    startAgent(3);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sec', 'node_member=host1,host3', 'peer_network=198.51.100.64/26', 'encrypt=wireguard');
      if (r.code === 0) {
        assert.match(r.stdout, /sec: 2 of 2 hosts converged/);
        break;
      }
      assert.ok(Date.now() < deadline && /has no WireGuard key/.test(r.stderr), r.stdout + r.stderr);
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await destroyLab(lab);
    old.remove();
  }
});
