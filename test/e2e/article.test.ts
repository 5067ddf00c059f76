/**
 * The CBSD article, command by command, on three lab hosts, over an IPv6 and
 * an IPv4 underlay. Documentation ranges replace the article's 10.x networks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabState, Underlay } from '../../src/lab/lab.js';
import { joinAll, jailPing, links, mv, ok, sh, shOk, withLab } from './lab-helpers.js';

const HOSTS = [1, 2, 3];
const PEER_NET = '198.51.100.0/26';
const guest = (h: number): string => `203.0.113.${h}`;
const guest2 = (h: number): string => `203.0.113.${128 + h}`;

interface MapRow {
  vni: number;
  node_a: string;
  addr_a: string;
  node_b: string;
  addr_b: string;
}

async function rxPackets(lab: LabState, host: number, jail: string): Promise<number> {
  const r = await mv(lab, host, 'jexec', `jname=${jail}`, 'cat', '/sys/class/net/eth0/statistics/rx_packets');
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

async function walkthrough(underlay: Underlay): Promise<void> {
  const mtu = underlay === 'v6' ? 1430 : 1450;
  await withLab(3, underlay, async (lab) => {
    // Join: every host adds the others, as the article does on each node.
    await joinAll(lab);
    for (const h of HOSTS) {
      const nodes = JSON.parse(await ok(lab, h, 'node', 'mode=list', '--json')) as { name: string }[];
      assert.deepEqual(nodes.map((n) => n.name).sort(), HOSTS.filter((o) => o !== h).map((o) => `host${o}`));
    }

    for (const h of HOSTS) await ok(lab, h, 'vpc', 'mode=init', 'node_member=all', `peer_network=${PEER_NET}`, 'vpc_name=vpc1');
    const map = JSON.parse(await ok(lab, 1, 'vpc', 'vpc_name=vpc1', 'mode=init_peers', '--json')) as MapRow[];
    assert.equal(map.length, 3, 'three pairs for three hosts');
    assert.equal(new Set(map.map((p) => p.vni)).size, 3, 'a VXLAN id per pair');
    assert.match(await ok(lab, 1, 'vpc', 'vpc_name=vpc1', 'mode=sync'), /synced to 2 of 2 peers/);
    // The same, as data: every peer already holds this definition now.
    const resync = JSON.parse(await ok(lab, 1, 'vpc', 'vpc_name=vpc1', 'mode=sync', '--json')) as { ok: boolean; synced: number; hosts: { host: string; result: string }[] };
    assert.deepEqual([resync.ok, resync.synced, resync.hosts.map((h) => h.result)], [true, 2, ['unchanged', 'unchanged']]);
    // Every member now holds the same map.
    for (const h of [2, 3]) {
      const theirs = JSON.parse(await ok(lab, h, 'vpc', 'mode=list', '--json')) as { name: string; pairs: number }[];
      assert.equal(theirs.find((x) => x.name === 'vpc1')?.pairs, 3);
    }

    for (const h of HOSTS) await ok(lab, h, 'vpc', 'vpc_name=vpc1', 'mode=init_vxlan');
    for (const h of HOSTS) {
      const tunnels = await links(lab, h, 'type', 'vxlan');
      assert.equal(tunnels.length, 2, `host${h} has N-1 tunnels`);
      for (const t of tunnels) {
        assert.equal(t.mtu, mtu, `${t.ifname} MTU`);
        assert.equal(t.linkinfo?.info_data?.port, 4789);
        assert.equal(t.linkinfo?.info_data?.learning, false);
        assert.match(t.ifalias ?? '', /^tunnel-to-host[123]$/);
        if (underlay === 'v6') assert.equal(t.linkinfo?.info_data?.udp_zero_csum6_rx, true);
      }
    }
    // Each tunnel's far end answers ping, before and after bridging.
    const farEnds = (): [number, string][] =>
      map.flatMap((p): [number, string][] => [
        [Number(p.node_a.slice(4)), p.addr_b.split('/')[0] as string],
        [Number(p.node_b.slice(4)), p.addr_a.split('/')[0] as string],
      ]);
    for (const [h, addr] of farEnds()) await shOk(lab, h, 'ping', '-c', '1', '-W', '2', addr);

    for (const h of HOSTS) await ok(lab, h, 'vpc', 'vpc_name=vpc1', 'mode=init_bridge');
    for (const h of HOSTS) {
      const [bridge] = await links(lab, h, 'dev', 'vpc1');
      assert.equal(bridge?.linkinfo?.info_kind, 'bridge');
      assert.equal(bridge?.mtu, mtu);
      const ports = (await links(lab, h, 'type', 'vxlan')).filter((l) => l.master === 'vpc1');
      assert.equal(ports.length, 2);
      for (const port of ports) assert.equal(port.linkinfo?.info_slave_data?.isolated, true, `${port.ifname} split horizon`);
    }
    for (const [h, addr] of farEnds()) await shOk(lab, h, 'ping', '-c', '1', '-W', '2', addr);

    // One container per host, addressed from inside as the article does.
    for (const h of HOSTS) await ok(lab, h, 'jcreate', `jname=jail${h}`, 'ip4_addr=0', 'interface=vpc1', 'vnet=1', 'runasap=1');
    for (const h of HOSTS) await ok(lab, h, 'jexec', `jname=jail${h}`, 'ip', 'addr', 'add', `${guest(h)}/24`, 'dev', 'eth0');
    const jails = JSON.parse(await ok(lab, 2, 'jls', '--json')) as { jname: string; status: string }[];
    assert.deepEqual(jails.map((j) => [j.jname, j.status]), [['jail2', 'On']]);
    assert.equal((await ok(lab, 1, 'jwhereis', 'jail3')).trim(), 'host3');
    const inside = JSON.parse((await mv(lab, 1, 'jexec', 'jname=jail1', 'ip', '-json', 'link', 'show', 'dev', 'eth0')).stdout) as { mtu: number; flags: string[] }[];
    assert.equal(inside[0]?.mtu, mtu, 'container eth0 MTU follows the VPC');
    assert.ok(inside[0]?.flags.includes('UP'));

    for (const h of HOSTS) {
      for (const o of HOSTS) {
        if (o === h) continue;
        const r = await jailPing(lab, h, `jail${h}`, guest(o));
        assert.equal(r.code, 0, `jail${h} -> jail${o}: ${r.stdout}${r.stderr}`);
      }
    }
    // A full-size frame crosses with DF set; one byte more does not fit.
    const payload = mtu - 28;
    const df = await jailPing(lab, 1, 'jail1', guest(3), '-M', 'do', '-s', String(payload));
    assert.equal(df.code, 0, `DF ping of ${payload} bytes: ${df.stdout}${df.stderr}`);
    const tooBig = await jailPing(lab, 1, 'jail1', guest(3), '-M', 'do', '-s', String(payload + 1));
    assert.notEqual(tooBig.code, 0, 'a frame over the MTU must not pass with DF');

    // Broadcasts reach each container once: no loop through the mesh. A loop
    // would deliver every broadcast at least twice; allow a little background
    // traffic (neighbour discovery) on top of the 50.
    const before = await rxPackets(lab, 2, 'jail2');
    await mv(lab, 1, 'jexec', 'jname=jail1', 'ping', '-b', '-c', '50', '-i', '0.02', '-W', '1', '203.0.113.255');
    await new Promise((r) => setTimeout(r, 300));
    const received = (await rxPackets(lab, 2, 'jail2')) - before;
    assert.ok(received >= 50 && received < 75, `jail2 saw ${received} packets for 50 broadcasts`);

    // Status: every tunnel present, up, isolated, with a round trip.
    const status = JSON.parse(await ok(lab, 3, 'vpc', 'vpc_name=vpc1', 'mode=status', '--json')) as { present: boolean; up: boolean; isolated: boolean; rtt_ms: number | null }[];
    assert.equal(status.length, 6);
    for (const s of status) assert.ok(s.present && s.up && s.isolated && s.rtt_ms !== null, JSON.stringify(s));

    // A second VPC, deployed from one host, coexists with the first.
    const deploy = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26');
    assert.match(deploy, /vpc2: 3 of 3 hosts converged/);
    const vnis = (await links(lab, 2, 'type', 'vxlan')).map((l) => Number(l.linkinfo?.info_data?.id));
    assert.equal(vnis.length, 4, 'two tunnels per VPC');
    assert.equal(new Set(vnis).size, 4, 'VXLAN ids are unique across VPCs');
    for (const h of HOSTS) await ok(lab, h, 'jcreate', `jname=web${h}`, `ip4_addr=${guest2(h)}/25`, 'interface=vpc2', 'vnet=1', 'runasap=1');
    for (const o of [2, 3]) {
      const r = await jailPing(lab, 1, 'web1', guest2(o));
      assert.equal(r.code, 0, `web1 -> web${o}: ${r.stdout}${r.stderr}`);
    }
    const still = await jailPing(lab, 3, 'jail3', guest(1));
    assert.equal(still.code, 0, 'vpc1 still works next to vpc2');
    const again = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2');
    assert.match(again, /vpc2: 3 of 3 hosts converged, 0 changes/);

    // destroy removes vpc2 everywhere and leaves vpc1 alone.
    await ok(lab, 1, 'vpc', 'mode=destroy', 'vpc_name=vpc2');
    for (const h of HOSTS) {
      assert.equal((await sh(lab, h, 'ip', 'link', 'show', 'dev', 'vpc2')).code, 1, `vpc2 bridge gone from host${h}`);
      assert.equal((await links(lab, h, 'type', 'vxlan')).length, 2, `only vpc1 tunnels left on host${h}`);
      const vpcs = JSON.parse(await ok(lab, h, 'vpc', 'mode=list', '--json')) as { name: string }[];
      assert.deepEqual(vpcs.map((x) => x.name), ['vpc1']);
    }
    const last = await jailPing(lab, 2, 'jail2', guest(3));
    assert.equal(last.code, 0, 'vpc1 survives the destruction of vpc2');
  });
}

test('the article walkthrough over an IPv6 underlay', { timeout: 300_000 }, () => walkthrough('v6'));
test('the article walkthrough over an IPv4 underlay', { timeout: 300_000 }, () => walkthrough('v4'));
