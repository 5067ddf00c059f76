/**
 * Reconcile repairs drift and survives a "reboot"; the firewall keeps VXLAN
 * from non-members off the VPC's bridge, and goes with the VPC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabState } from '../../src/lab/lab.js';
import { eventuallyReaches, jailPing, links, ok, sh, shOk, withLab } from './lab-helpers.js';

const guest = (h: number): string => `203.0.113.${h}`;
const INTRUDER_MAC = '02:00:00:00:00:99';

async function fdbHasIntruder(lab: LabState, host: number): Promise<boolean> {
  return (await shOk(lab, host, 'bridge', 'fdb', 'show', 'br', 'vpc1')).includes(INTRUDER_MAC);
}

test('apply repairs drift, restores a rebooted host, and changes nothing when all is right', { timeout: 300_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=j${h}`, `ip4_addr=${guest(h)}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
    const [t1, t2] = (await links(lab, 2, 'type', 'vxlan')).map((l) => l.ifname) as [string, string];
    const bridgeIndex = (await links(lab, 2, 'dev', 'vpc1'))[0]?.ifindex;
    const keptIndex = (await links(lab, 2, 'dev', t2))[0]?.ifindex;

    // Drift: a tunnel deleted, another's MTU changed and its split horizon cleared.
    await shOk(lab, 2, 'ip', 'link', 'del', 'dev', t1);
    await shOk(lab, 2, 'ip', 'link', 'set', 'dev', t2, 'mtu', '1400');
    await shOk(lab, 2, 'bridge', 'link', 'set', 'dev', t2, 'isolated', 'off');
    const plan = await ok(lab, 2, 'vpc', 'mode=apply', 'vpc_name=vpc1', 'dryrun=1');
    assert.match(plan, new RegExp(`\\[dryrun\\] ip link add ${t1} type vxlan`));
    assert.match(plan, new RegExp(`\\[dryrun\\] ip link set dev ${t2} mtu 1450`));
    assert.match(plan, new RegExp(`\\[dryrun\\] ip link set dev ${t2} type bridge_slave isolated on`));
    await ok(lab, 2, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    const repaired = await links(lab, 2, 'type', 'vxlan');
    assert.deepEqual(repaired.map((l) => l.ifname).sort(), [t1, t2].sort());
    for (const l of repaired) {
      assert.equal(l.mtu, 1450);
      assert.equal(l.master, 'vpc1');
      assert.equal(l.linkinfo?.info_slave_data?.isolated, true);
    }
    assert.equal((await links(lab, 2, 'dev', 'vpc1'))[0]?.ifindex, bridgeIndex, 'the bridge was not recreated');
    assert.equal((await links(lab, 2, 'dev', t2))[0]?.ifindex, keptIndex, 'a repaired tunnel keeps its interface');
    assert.match(await ok(lab, 2, 'vpc', 'mode=apply', 'vpc_name=vpc1'), /host2: nothing to change/);
    for (const o of [1, 3]) assert.equal((await jailPing(lab, 2, 'j2', guest(o))).code, 0);

    // "Reboot": every VPC interface of host3 gone; the boot unit's command brings them back.
    const unit = await ok(lab, 3, 'vpc', 'mode=init_rc', 'vpc_name=vpc1', 'dryrun=1');
    assert.match(unit, /ExecStart=\/usr\/bin\/env meshvpc vpc mode=apply vpc_name=vpc1/);
    for (const l of await links(lab, 3, 'type', 'vxlan')) await shOk(lab, 3, 'ip', 'link', 'del', 'dev', l.ifname);
    await shOk(lab, 3, 'ip', 'link', 'del', 'dev', 'vpc1');
    assert.notEqual((await jailPing(lab, 3, 'j3', guest(1))).code, 0, 'host3 is cut off');
    await ok(lab, 3, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    for (const o of [1, 2]) {
      const r = await eventuallyReaches(lab, 3, 'j3', guest(o));
      assert.equal(r.code, 0, `j3 reaches j${o} after the reboot: ${r.stdout}${r.stderr}`);
    }
  });
});

test('VXLAN from a non-member never reaches the bridge; firewall=0 lets it; rules go with the VPC', { timeout: 300_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    await ok(lab, 1, 'node', 'mode=add', 'node=192.0.2.2');
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2', 'peer_network=198.51.100.0/26');
    await ok(lab, 1, 'jcreate', 'jname=j1', `ip4_addr=${guest(1)}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
    const rules = await shOk(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc');
    assert.match(rules, /elements = \{ 192\.0\.2\.2 \. 0x[0-9a-f]+ \}/);
    const vni = (await links(lab, 1, 'type', 'vxlan'))[0]?.linkinfo?.info_data?.id;

    // host3 is no member: it forges VXLAN with vpc1's VNI towards host1.
    const inject = async (): Promise<void> => {
      await sh(lab, 3, 'ip', 'link', 'del', 'dev', 'inj');
      await shOk(lab, 3, 'ip', 'link', 'add', 'inj', 'address', INTRUDER_MAC, 'type', 'vxlan', 'id', String(vni), 'local', '192.0.2.3', 'remote', '192.0.2.1', 'dstport', '4789');
      await shOk(lab, 3, 'ip', 'addr', 'add', '203.0.113.99/24', 'dev', 'inj');
      await shOk(lab, 3, 'ip', 'link', 'set', 'dev', 'inj', 'up');
      await sh(lab, 3, 'ping', '-c', '3', '-i', '0.2', '-W', '1', guest(1));
    };
    await inject();
    assert.equal(await fdbHasIntruder(lab, 1), false, 'forged frames were dropped before the bridge');
    assert.match(await shOk(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc'), /counter packets [1-9]\d* bytes \d+ drop/);

    // A VPC with firewall=0 on host1 turns the filter off: the same frames now arrive.
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=open', 'node_member=host1,host2', 'peer_network=198.51.100.64/26', 'firewall=0');
    assert.equal((await sh(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc')).code, 1, 'no table while a VPC is open');
    await inject();
    assert.equal(await fdbHasIntruder(lab, 1), true, 'without the firewall forged frames reach the bridge');

    // Destroying the VPCs removes the rules too.
    await ok(lab, 1, 'vpc', 'mode=destroy', 'vpc_name=open');
    assert.match(await shOk(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc'), /192\.0\.2\.2/);
    await ok(lab, 1, 'vpc', 'mode=destroy', 'vpc_name=vpc1');
    assert.equal((await sh(lab, 1, 'nft', 'list', 'table', 'inet', 'meshvpc')).code, 1, 'rules removed with the last VPC');
    assert.equal((await sh(lab, 2, 'nft', 'list', 'table', 'inet', 'meshvpc')).code, 1);
  });
});
