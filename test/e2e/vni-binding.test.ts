/**
 * Each VXLAN id is bound to its peer: a member of one VPC forging frames with
 * another VPC's id, from its own real address, gets none delivered; the same
 * frame with its own pair's id arrives (the rule is not "drop all").
 *
 * vpc1 = host1, host2; vpc2 = host1, host3. host3 is a member of vpc2, not
 * of vpc1, so its address is a legitimate VXLAN source on host1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabState, Underlay } from '../../src/lab/lab.js';
import { forgeVxlan, links, ok, sh, shOk, underlayOf, withLab } from './lab-helpers.js';

const FORGER_MAC = '02:00:00:00:00:98';

const forge = (lab: LabState, from: number, to: number, vni: number): Promise<void> => forgeVxlan(lab, from, to, vni, FORGER_MAC);
const address = underlayOf;

async function fdbHasForger(lab: LabState, host: number, bridge: string): Promise<boolean> {
  return (await shOk(lab, host, 'bridge', 'fdb', 'show', 'br', bridge)).includes(FORGER_MAC);
}

async function dropped(lab: LabState, host: number): Promise<number> {
  const m = /counter packets (\d+) bytes \d+ drop/.exec(await shOk(lab, host, 'nft', 'list', 'table', 'inet', 'meshvpc'));
  assert.ok(m, 'the drop rule has a counter');
  return Number(m[1]);
}

async function until(what: string, check: () => Promise<boolean>, seconds = 5): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${seconds}s: ${what}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function vniOf(lab: LabState, host: number, bridge: string): Promise<number> {
  const tunnels = (await links(lab, host, 'type', 'vxlan')).filter((l) => l.master === bridge);
  assert.equal(tunnels.length, 1, `host${host} has one tunnel on ${bridge}`);
  return Number(tunnels[0]?.linkinfo?.info_data?.id);
}

for (const underlay of ['v4', 'v6'] as Underlay[]) {
  test(`IPv${underlay.slice(1)} underlay: a member of vpc2 forging vpc1's VXLAN id from its own address delivers nothing; its own pair's id arrives`, { timeout: 300_000 }, async () => {
    await withLab(3, underlay, async (lab) => {
      for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=${address(lab, o)}`);
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2', 'peer_network=198.51.100.0/26');
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host3', 'peer_network=198.51.100.64/26');
      const vni1 = await vniOf(lab, 1, 'vpc1');
      const vni2 = await vniOf(lab, 1, 'vpc2');
      assert.notEqual(vni1, vni2);

      // host1's table holds exactly its two tunnels: (host2, vpc1's id) and (host3, vpc2's id).
      const rules = await shOk(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc');
      // nft lists the id in hex (a raw payload field has no decimal type): 192.0.2.2 . 0x64
      const elem = (host: number, vni: number): RegExp => new RegExp(`${address(lab, host).replace(/\./g, '\\.')} \\. 0x0*${vni.toString(16)}\\b`);
      assert.match(rules, elem(2, vni1));
      assert.match(rules, elem(3, vni2));
      assert.doesNotMatch(rules, elem(3, vni1));
      assert.doesNotMatch(rules, elem(2, vni2));
      const before = await dropped(lab, 1);

      // host3 forges vpc1's id (the host1-host2 pair) from its own, legitimate, address.
      await forge(lab, 3, 1, vni1);
      await until('the drop counter counts the 3 forged packets', async () => (await dropped(lab, 1)) >= before + 3);
      assert.equal(await fdbHasForger(lab, 1, 'vpc1'), false, 'delivered 0 times: vpc1\'s bridge never learns the forged MAC');
      assert.equal(await fdbHasForger(lab, 1, 'vpc2'), false);
      const afterForgery = await dropped(lab, 1);

      // The same frames under host1-host3's own id, from the same address: they arrive.
      await forge(lab, 3, 1, vni2);
      await until('vpc2\'s bridge learns the frame\'s MAC', () => fdbHasForger(lab, 1, 'vpc2'));
      assert.equal(await dropped(lab, 1), afterForgery, 'none of them was dropped');
      assert.equal(await fdbHasForger(lab, 1, 'vpc1'), false);

      // Real traffic through both tunnels passes the filter (host1 is the pairs' a end: .1 and .65; host2, host3 .2 and .66).
      assert.equal((await sh(lab, 1, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.51.100.2')).code, 0, 'host1 reaches host2 over vpc1');
      assert.equal((await sh(lab, 1, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.51.100.66')).code, 0, 'host1 reaches host3 over vpc2');
      assert.equal(await dropped(lab, 1), afterForgery, 'and none of it was dropped');
    });
  });
}
