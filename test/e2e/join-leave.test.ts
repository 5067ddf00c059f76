/**
 * A living VPC: with containers on three hosts pinging each other without
 * pause, a fourth host joins and leaves. No echo may be lost and the old
 * tunnels must keep their interfaces (same ifindex, same VXLAN id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabState } from '../../src/lab/lab.js';
import { jailPing, links, mv, ok, sh, withLab } from './lab-helpers.js';

const guest = (h: number): string => `203.0.113.${h}`;

async function tunnelIds(lab: LabState, host: number): Promise<Map<string, [number, number]>> {
  const list = await links(lab, host, 'type', 'vxlan');
  return new Map(list.map((l) => [l.ifname, [l.ifindex, Number(l.linkinfo?.info_data?.id)]]));
}

/** A long ping inside a container, started now, summarised when it ends. */
function pingFor(lab: LabState, host: number, target: string, count: number): Promise<{ sent: number; received: number; out: string }> {
  return mv(lab, host, 'jexec', `jname=j${host}`, 'ping', '-n', '-i', '0.05', '-c', String(count), '-W', '1', target).then((r) => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out: r.stdout.split('\n').slice(-3).join(' ') };
  });
}

test('a host joins and leaves a running VPC without dropping a packet', { timeout: 300_000 }, async () => {
  await withLab(4, 'v4', async (lab) => {
    for (const o of [2, 3, 4]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26');
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=j${h}`, `ip4_addr=${guest(h)}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
    for (const h of [1, 2, 3]) assert.equal((await jailPing(lab, h, `j${h}`, guest((h % 3) + 1))).code, 0);
    const before = new Map<number, Map<string, [number, number]>>();
    for (const h of [1, 2, 3]) before.set(h, await tunnelIds(lab, h));

    // 400 echoes at 50 ms: 20 s of traffic around the join and the leave.
    const pings = [pingFor(lab, 1, guest(2), 400), pingFor(lab, 2, guest(3), 400), pingFor(lab, 3, guest(1), 400)];
    await new Promise((r) => setTimeout(r, 1000));

    const joined = await ok(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc1', 'node=host4');
    assert.match(joined, /vpc1: 4 of 4 hosts converged/);
    await ok(lab, 4, 'jcreate', 'jname=j4', `ip4_addr=${guest(4)}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
    for (const o of [1, 2, 3]) {
      const r = await jailPing(lab, 4, 'j4', guest(o));
      assert.equal(r.code, 0, `the new container reaches j${o}: ${r.stdout}`);
    }
    for (const h of [1, 2, 3]) {
      const now = await tunnelIds(lab, h);
      assert.equal(now.size, 3, `host${h} has a tunnel to each of the 3 others`);
      for (const [name, id] of before.get(h) ?? []) assert.deepEqual(now.get(name), id, `host${h} ${name} untouched by the join`);
    }
    assert.equal((await tunnelIds(lab, 4)).size, 3);
    // The map grew by exactly the new pairs; the old ones kept ids and addresses.
    const map = JSON.parse(await ok(lab, 2, 'vpc', 'mode=list', '--json')) as { pairs: number; members: string }[];
    assert.equal(map[0]?.pairs, 6);
    assert.equal(map[0]?.members, 'host1,host2,host3,host4');

    const left = await ok(lab, 1, 'vpc', 'mode=leave', 'vpc_name=vpc1', 'node=host4');
    assert.match(left, /host4: left/);
    assert.match(left, /vpc1: 3 of 3 hosts converged, 1 of 1 leaving hosts cleaned up/);
    for (const h of [1, 2, 3]) {
      const now = await tunnelIds(lab, h);
      assert.equal(now.size, 2, `host${h}: the tunnel to host4 is gone`);
      for (const [name, id] of before.get(h) ?? []) assert.deepEqual(now.get(name), id, `host${h} ${name} untouched by the leave`);
    }
    assert.equal((await tunnelIds(lab, 4)).size, 0, 'host4 has no tunnel left');
    assert.equal((await sh(lab, 4, 'ip', 'link', 'show', 'dev', 'vpc1')).code, 1, 'host4 has no vpc1 bridge');
    assert.deepEqual(JSON.parse(await ok(lab, 4, 'vpc', 'mode=list', '--json')), []);

    const results = await Promise.all(pings);
    for (const r of results) {
      assert.equal(r.sent, 400, r.out);
      assert.equal(r.received, 400, `lost ${r.sent - r.received} of ${r.sent}: ${r.out}`);
    }

    // node mode=remove takes a member out of its VPCs first, then forgets it on both sides.
    const removed = await ok(lab, 1, 'node', 'mode=remove', 'node=host3');
    assert.match(removed, /host3: leaving vpc1/);
    assert.match(removed, /host3: removed/);
    assert.equal((await tunnelIds(lab, 1)).size, 1);
    assert.equal((await tunnelIds(lab, 2)).size, 1);
    assert.equal((await tunnelIds(lab, 3)).size, 0);
    assert.doesNotMatch(await ok(lab, 3, 'node', 'mode=list'), /host1/);
    assert.equal((await jailPing(lab, 1, 'j1', guest(2))).code, 0, 'the remaining two still talk');
  });
});
