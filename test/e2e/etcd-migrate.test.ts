/**
 * cluster mode=migrate: a VPC made by SSH push moves into etcd as it is. The
 * agents adopt it without touching a tunnel (same interfaces, same VXLAN
 * ids), a flow of pings across it loses nothing while it moves, and from then
 * on a join goes through the store. An encrypted VPC moves the same way,
 * with its WireGuard peers as they were.
 */
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { startLabProcess, type LabState } from '../../src/lab/lab.js';
import { jailPing, mv, ok, sh, shOk, withLab } from './lab-helpers.js';

interface Link {
  ifname: string;
  ifindex: number;
  linkinfo?: { info_data?: { id?: number } };
}

const vxlans = async (lab: LabState, h: number): Promise<string[]> =>
  (JSON.parse(await shOk(lab, h, 'ip', '-j', '-d', 'link', 'show', 'type', 'vxlan')) as Link[]).map((l) => `${l.ifname}#${l.ifindex}#${l.linkinfo?.info_data?.id ?? ''}`).sort();

test('cluster mode=migrate: an SSH-push VPC moves into etcd with no tunnel touched and no ping lost; then joins go through the store', { timeout: 600_000 }, async () => {
  await withLab(4, 'v4', async (lab) => {
    for (const h of [2, 3, 4]) await ok(lab, 1, 'node', 'mode=add', `node=${lab.hosts[h - 1]?.ip4 ?? ''}`);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26'), /3 of 3 hosts converged/);
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    assert.equal((await jailPing(lab, 1, 'c1', '203.0.113.3')).code, 0);
    // An encrypted one moves too: its members' keys come from each one's own word in the store.
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sec', 'node_member=host1,host2', 'peer_network=198.51.100.64/26', 'encrypt=wireguard'), /2 of 2 hosts converged/);
    for (const h of [1, 2]) await ok(lab, h, 'jcreate', `jname=s${h}`, 'interface=sec', `ip4_addr=203.0.113.${10 + h}/24`, 'runasap=1');
    assert.equal((await jailPing(lab, 1, 's1', '203.0.113.12')).code, 0);
    const peers1 = await shOk(lab, 1, 'wg', 'show', 'meshvpc-wg', 'peers');
    const before = await Promise.all([1, 2, 3].map((h) => vxlans(lab, h)));

    // Without a cluster there is nothing to move into.
    const early = await mv(lab, 1, 'cluster', 'mode=migrate');
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /no etcd backend: meshvpc cluster mode=init backend=etcd/);

    await ok(lab, 1, 'cluster', 'mode=init', 'backend=etcd', 'etcd_members=host1,host2,host3');
    for (const h of [1, 2, 3]) startLabProcess(lab, h, 'etcd', ['meshvpc', 'etcd', 'mode=run']);
    const deadline = Date.now() + 60_000;
    while ((await mv(lab, 1, 'cluster', 'mode=show')).code !== 0) {
      assert.ok(Date.now() < deadline, 'etcd became healthy');
      await new Promise((r) => setTimeout(r, 500));
    }
    const agents = [1, 2, 3, 4].map((h) => startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
    for (const a of agents) {
      while (!/WireGuard key \S+ written to the store/.test(readFileSync(a.log, 'utf8'))) {
        assert.ok(Date.now() < deadline + 30_000, 'each agent wrote its WireGuard key');
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    // 300 echoes c1 -> c2 at 20 ms while the VPC moves.
    const flow = sh(lab, 1, 'ip', 'netns', 'exec', 'c1', 'ping', '-q', '-c', '300', '-i', '0.02', '-W', '1', '203.0.113.2');
    const sealedFlow = sh(lab, 1, 'ip', 'netns', 'exec', 's1', 'ping', '-q', '-c', '300', '-i', '0.02', '-W', '1', '203.0.113.12');
    await new Promise((r) => setTimeout(r, 300));
    const moved = await ok(lab, 1, 'cluster', 'mode=migrate');
    assert.match(moved, /vpc1: moved into the store; 3 of 3 agents applied it/);
    assert.doesNotMatch(moved, /changes\)/, 'the agents adopted it without a change');
    assert.match(moved, /sec: moved into the store; 2 of 2 agents applied it/);
    const pinged = await flow;
    assert.match(pinged.stdout, / 300 received, 0% packet loss/, pinged.stdout);
    const sealedPinged = await sealedFlow;
    assert.match(sealedPinged.stdout, / 300 received, 0% packet loss/, sealedPinged.stdout);
    assert.equal(await shOk(lab, 1, 'wg', 'show', 'meshvpc-wg', 'peers'), peers1, 'host1 keeps the same WireGuard peer');
    assert.deepEqual(await Promise.all([1, 2, 3].map((h) => vxlans(lab, h))), before, 'every tunnel is the same interface with the same id');

    // Twice is nothing new.
    assert.match(await ok(lab, 1, 'cluster', 'mode=migrate'), /vpc1: already in the store, left as the store has it/);

    // From now on the store is the cluster's state: a join from host2 goes through it.
    await ok(lab, 2, 'node', 'mode=add', `node=${lab.hosts[3]?.ip4 ?? ''}`);
    assert.match(await ok(lab, 2, 'vpc', 'mode=join', 'vpc_name=vpc1', 'node=host4'), /4 of 4 hosts converged/);
    await ok(lab, 4, 'jcreate', 'jname=c4', 'interface=vpc1', 'ip4_addr=203.0.113.4/24', 'runasap=1');
    for (const to of [1, 2, 3]) assert.equal((await jailPing(lab, 4, 'c4', `203.0.113.${to}`)).code, 0, `c4 reaches c${to}`);
    const sync = await mv(lab, 1, 'vpc', 'mode=sync', 'vpc_name=vpc1');
    assert.notEqual(sync.code, 0);
    assert.match(sync.stderr, /vpc mode=sync is not available with backend=etcd yet/);
  });
});
