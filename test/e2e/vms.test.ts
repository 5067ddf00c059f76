/**
 * VMs on a VPC: a QEMU guest (TCG here; see docs lab-facts) on host1 and
 * containers on host2 and host3 share one segment with cluster-allocated
 * addresses; bls, jwhereis and bconsole show it; bstop/bstart work; an
 * astart=1 VM comes back when the boot unit's commands run after the host
 * lost its VPC interfaces and guest processes. A tap someone else made
 * under a VM's name is refused and left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventuallyReaches, joinAll, links, mv, ok, sh, shOk, snapshot, withLab } from './lab-helpers.js';
import type { LabState } from '../../src/lab/lab.js';
import { tapFor } from '../../src/app/vm.js';

interface VmRow {
  jname: string;
  status: string;
  interface: string;
  ip4_addr: string;
  mac: string;
  ram: string;
  cpus: number;
  pid: number | null;
  host_if: string;
}

const bls = async (lab: LabState, host: number): Promise<VmRow[]> =>
  JSON.parse(await ok(lab, host, 'bls', '--json', 'display=jname,status,interface,ip4_addr,mac,ram,cpus,pid,host_if')) as VmRow[];

/** The guest's /init prints this once eth0 has its address (scripts/guest-image.sh). */
async function booted(lab: LabState, host: number, vm: string, seconds = 120): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  let text = '';
  while (Date.now() < deadline) {
    const r = await mv(lab, host, 'bconsole', `jname=${vm}`);
    text = r.stdout;
    if (new RegExp(`meshvpc-guest ${vm} ready`).test(text)) return text;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`${vm} did not boot within ${seconds}s; console:\n${text.slice(-2000)}`);
}

const addr = (cidr: string): string => cidr.split('/')[0] as string;

/** A process that exited, or exited and waits to be reaped (a zombie: whether it is reaped is up to the host's init). */
async function gone(lab: LabState, pid: number): Promise<boolean> {
  const stat = await sh(lab, 1, 'cat', `/proc/${pid}/stat`);
  return stat.code !== 0 || / Z /.test(stat.stdout.slice(stat.stdout.lastIndexOf(')')));
}

test('a VM and containers on one VPC across 3 hosts: ping, bls, jwhereis, console, stop/start, astart after a reboot', { timeout: 900_000 }, async (t) => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26', 'guest_network=10.40.0.0/24');
    const started = Date.now();
    const created = await ok(lab, 1, 'bcreate', 'jname=vm1', 'interface=vpc1', 'ip4_addr=auto', 'vm_accel=tcg', 'vm_ram=192m', 'runasap=1');
    assert.match(created, /^vm1: VM created on host1, interface vpc1, eth0 10\.40\.0\.1\/24$/m);
    assert.match(created, /^vm1: started \(tcg\)$/m);
    await ok(lab, 2, 'jcreate', 'jname=j2', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    await ok(lab, 3, 'jcreate', 'jname=j3', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    const console1 = await booted(lab, 1, 'vm1');
    t.diagnostic(`vm1 (TCG, 192 MiB) booted to its ready line in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(console1, /Linux version/, 'the console log shows the kernel booting');
    assert.match(console1, /meshvpc-guest vm1 up: eth0 mtu \d+ ip4 10\.40\.0\.1\/24/);

    const [row] = await bls(lab, 1);
    assert.ok(row);
    assert.equal(row.jname, 'vm1');
    assert.equal(row.status, 'On');
    assert.equal(row.interface, 'vpc1');
    assert.equal(row.ip4_addr, '10.40.0.1/24');
    assert.equal(row.ram, '192m');
    assert.equal(row.cpus, 1);
    assert.ok(typeof row.pid === 'number' && row.pid > 1);
    assert.match(row.mac, /^02(:[0-9a-f]{2}){5}$/);
    const [tap] = await links(lab, 1, 'dev', row.host_if);
    const [bridge] = await links(lab, 1, 'dev', 'vpc1');
    assert.equal(tap?.master, 'vpc1', 'the tap is on the VPC bridge');
    assert.equal(tap?.mtu, bridge?.mtu, "the tap has the VPC's MTU");
    assert.match(console1, new RegExp(`eth0 mtu ${bridge?.mtu}`), "the guest's eth0 took the VPC's MTU");

    const j2 = JSON.parse(await ok(lab, 2, 'jls', '--json')) as { ip4_addr: string }[];
    const j3 = JSON.parse(await ok(lab, 3, 'jls', '--json')) as { ip4_addr: string }[];
    assert.deepEqual([j2[0]?.ip4_addr, j3[0]?.ip4_addr], ['10.40.0.2/24', '10.40.0.3/24'], 'addresses come from the guest network in order, cluster-wide');
    for (const [h, j] of [[2, 'j2'], [3, 'j3']] as const) {
      const r = await eventuallyReaches(lab, h, j, '10.40.0.1', 30);
      assert.equal(r.code, 0, `${j} on host${h} reaches vm1 on host1: ${r.stdout}${r.stderr}`);
    }
    assert.equal((await eventuallyReaches(lab, 2, 'j2', '10.40.0.3')).code, 0, 'the containers reach each other too');
    assert.deepEqual(JSON.parse(await ok(lab, 3, 'jwhereis', 'jname=vm1', '--json')), ['host1']);
    assert.deepEqual(JSON.parse(await ok(lab, 3, 'jwhereis', 'jname=vm1', 'emulator=bhyve', '--json')), ['host1']);

    // The bridge rebuilt under a running VM (vpc mode=apply repairs drift): its tap rejoins it.
    await shOk(lab, 1, 'ip', 'link', 'del', 'dev', 'vpc1');
    await ok(lab, 1, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    assert.equal((await links(lab, 1, 'dev', row.host_if))[0]?.master, 'vpc1', "the running VM's tap is back on the rebuilt bridge");
    assert.equal((await eventuallyReaches(lab, 2, 'j2', '10.40.0.1', 30)).code, 0, 'vm1 reachable again after the repair');

    // bstop: the process and the tap go; bstart: it comes back at the same address and MAC.
    await ok(lab, 1, 'bstop', 'jname=vm1');
    const [off] = await bls(lab, 1);
    assert.equal(off?.status, 'Off');
    assert.equal(off?.pid, null);
    assert.deepEqual(await links(lab, 1, 'dev', row.host_if).catch(() => []), [], 'no tap left');
    assert.ok(await gone(lab, row.pid as number), 'QEMU is gone');
    await ok(lab, 1, 'bstart', 'jname=vm1');
    await booted(lab, 1, 'vm1');
    assert.equal((await eventuallyReaches(lab, 2, 'j2', '10.40.0.1', 30)).code, 0, 'reachable again after bstart');
    assert.equal((await bls(lab, 1))[0]?.mac, row.mac, 'same MAC after a restart');

    // A crashed VM is reported as stopped.
    const crashed = (await bls(lab, 1))[0]?.pid;
    await sh(lab, 1, 'kill', '-KILL', String(crashed));
    await new Promise((res) => setTimeout(res, 500));
    assert.equal((await bls(lab, 1))[0]?.status, 'Off', 'a killed QEMU shows as Off');

    // astart=1 VM: "reboot" host1 (its VPC interfaces, taps and QEMU processes deleted), then the boot unit's commands.
    await ok(lab, 1, 'bcreate', 'jname=vm2', 'interface=vpc1', 'ip4_addr=auto', 'vm_accel=tcg', 'vm_ram=192m', 'astart=1', 'runasap=1');
    await booted(lab, 1, 'vm2');
    const vm2 = (await bls(lab, 1)).find((v) => v.jname === 'vm2') as VmRow;
    await sh(lab, 1, 'kill', '-KILL', String(vm2.pid));
    for (const l of await links(lab, 1, 'type', 'vxlan')) await shOk(lab, 1, 'ip', 'link', 'del', 'dev', l.ifname);
    for (const l of [vm2.host_if, row.host_if, 'vpc1']) await sh(lab, 1, 'ip', 'link', 'del', 'dev', l);
    const unit = await ok(lab, 1, 'vpc', 'mode=init_rc', 'vpc_name=vpc1', 'dryrun=1');
    const commands = [...unit.matchAll(/^ExecStart(?:Post)?=-?(.+)$/gm)].map((m) => (m[1] as string).trim());
    assert.deepEqual(commands, ['/usr/bin/env meshvpc vpc mode=apply vpc_name=vpc1', '/usr/bin/env meshvpc guests mode=start_all vpc_name=vpc1']);
    for (const c of commands) await shOk(lab, 1, ...c.split(' '));
    const after = await bls(lab, 1);
    assert.equal(after.find((v) => v.jname === 'vm2')?.status, 'On', 'the astart=1 VM came back');
    assert.equal(after.find((v) => v.jname === 'vm1')?.status, 'Off', 'a VM without astart stays down');
    await booted(lab, 1, 'vm2');
    assert.equal((await eventuallyReaches(lab, 3, 'j3', addr(vm2.ip4_addr), 30)).code, 0, 'j3 reaches vm2 after the reboot');

    // A tap someone else made under a VM's tap name: refused before anything is stored, and left alone.
    await shOk(lab, 1, 'ip', 'tuntap', 'add', 'dev', tapFor('vm3'), 'mode', 'tap');
    const before = await snapshot(lab, 1);
    const taken = await mv(lab, 1, 'bcreate', 'jname=vm3', 'interface=vpc1', 'vm_accel=tcg', 'runasap=1');
    assert.equal(taken.code, 2);
    assert.equal(taken.stderr.trim(), `meshvpc: interface ${tapFor('vm3')} already exists on host1 and is not meshvpc's: meshvpc will not take it over; choose another jname`);
    assert.deepEqual(await snapshot(lab, 1), before);

    for (const v of ['vm1', 'vm2']) await ok(lab, 1, 'bremove', `jname=${v}`);
    assert.deepEqual(await bls(lab, 1), []);
    assert.equal((await links(lab, 1, 'type', 'tun')).filter((l) => l.ifname.startsWith('tapv') && l.ifname !== tapFor('vm3')).length, 0, "no tap of meshvpc's left");
    assert.ok((await links(lab, 1, 'dev', tapFor('vm3'))).length === 1, 'the foreign tap is still there');
  });
});
