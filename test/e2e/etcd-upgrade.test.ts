/**
 * backend=etcd across an upgrade from meshvpc 0.5.0, whose store values are
 * not signed: a cluster made and running on 0.5.0 upgrades one host at a
 * time without losing a ping; an upgraded agent does not believe the unsigned
 * definition (it says so and leaves its network as it is) until `cluster
 * mode=migrate` on a member signs it again; a 0.6 deploy that reaches a 0.5
 * agent names both versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, killLabProcess, startLabProcess, type LabProcess } from '../../src/lab/lab.js';
import { buildRelease, hasCommit, RELEASE_0_5_0, runHostOn, sourceCheckout, upgradeHost } from '../../src/lab/release.js';
import { jailPing, ok, sh } from './lab-helpers.js';

test('backend=etcd: a cluster on meshvpc 0.5.0 upgrades host by host, no ping lost; migrate signs its definitions; a 0.5 agent is named with both versions', { timeout: 900_000 }, async (t) => {
  const checkout = sourceCheckout(import.meta.url);
  if (checkout === null || !(await hasCommit(checkout, RELEASE_0_5_0))) {
    t.skip(`this checkout (${checkout ?? 'none: not run from a git checkout'}) has no git history of ${RELEASE_0_5_0}, the 0.5.0 release`);
    return;
  }
  const old = await buildRelease(RELEASE_0_5_0, checkout);
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const agents = new Map<number, LabProcess>();
  const startAgent = (h: number): void => void agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
  /** Upgrade a host as a user would: stop its agent (its files are replaced), upgrade, start it again. */
  const upgrade = async (h: number): Promise<void> => {
    const a = agents.get(h);
    if (a) await killLabProcess(lab, a);
    await upgradeHost(lab, h, old);
    startAgent(h);
  };
  const pingAll = async (what: string): Promise<void> => {
    for (const [from, to] of [[1, 2], [2, 3], [3, 4], [4, 1]] as const) {
      const r = await jailPing(lab, from, `c${from}`, `203.0.113.${to}`);
      assert.equal(r.code, 0, `${what}: c${from} -> c${to}: ${r.stdout}${r.stderr}`);
    }
  };
  try {
    // The whole cluster on 0.5.0 (the lab's schema-12 databases and etcd are 0.5.0's too).
    for (const h of [1, 2, 3, 4]) await runHostOn(lab, h, old);
    assert.equal((await ok(lab, 2, 'version')).trim(), '0.5.0');
    for (const h of [1, 2, 3, 4]) startAgent(h);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3,host4', 'peer_network=198.51.100.0/26'), /vpc1: 4 of 4 hosts converged/);
    for (const h of [1, 2, 3, 4]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    await pingAll('all on 0.5.0');

    // host2 upgraded: its agent does not believe the unsigned definition and leaves its network alone.
    const log2 = agents.get(2)?.log ?? '';
    const from = readFileSync(log2, 'utf8').length;
    await upgrade(2);
    assert.notEqual((await ok(lab, 2, 'version')).trim(), '0.5.0');
    const deadline = Date.now() + 30_000;
    while (!/vpc1: revision \d+ FAILED: the definition of vpc1 in the store is not believed: not signed/.test(readFileSync(log2, 'utf8').slice(from))) {
      if (Date.now() > deadline) assert.fail(`host2's agent did not say why: ${readFileSync(log2, 'utf8').slice(from)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await pingAll('host2 upgraded');

    // A deploy from the upgraded host reaches 0.5 agents: they are named with both versions.
    await ok(lab, 2, 'node', 'mode=add', `node=${lab.hosts[2]?.ip4 ?? ''}`);
    const mixed = await sh(lab, 2, 'env', 'MESHVPC_CONVERGE_TIMEOUT_MS=8000', 'meshvpc', 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host2,host3', 'peer_network=198.51.100.64/26', 'fdb=learn');
    assert.equal(mixed.code, 1, mixed.stdout + mixed.stderr);
    assert.match(mixed.stdout, /host3: FAILED: its agent did not report revision \d+: it runs meshvpc 0\.5\.0 \(this host \d+\.\d+\.\d+\), which cannot read a signed definition: upgrade it/);

    // The others upgraded one at a time: nothing is lost meanwhile.
    for (const h of [1, 3, 4]) {
      await upgrade(h);
      await pingAll(`host${h} upgraded`);
    }

    // migrate on a member signs vpc1 again; every agent applies it with nothing to change.
    const migrated = await ok(lab, 1, 'cluster', 'mode=migrate');
    assert.match(migrated, /vpc1: signed again in the store \(it was written by meshvpc 0\.5\); 4 of 4 agents applied it/);
    await pingAll('after migrate');
    // And the cluster works as before: vpc2 (written by a 0.6 host) converges now, and a leave goes through.
    assert.match(await ok(lab, 2, 'vpc', 'mode=deploy', 'vpc_name=vpc2'), /vpc2: 2 of 2 hosts converged/);
    await ok(lab, 4, 'jremove', 'jname=c4');
    assert.match(await ok(lab, 1, 'vpc', 'mode=leave', 'vpc_name=vpc1', 'node=host4'), /vpc1: 3 of 3 hosts converged/);
    assert.equal((await jailPing(lab, 1, 'c1', '203.0.113.3')).code, 0);
  } finally {
    await destroyLab(lab);
    old.remove();
  }
});
