/**
 * Quotas and guest addresses across a 3-host VPC: counted on every member,
 * decided one creation at a time through the arbiter's lease, refused with
 * the limit, the usage and where the guests are; addresses unique
 * cluster-wide and given back on remove; an unreachable member fails closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventuallyReaches, jailPing, joinAll, links, mv, ok, sh, shOk, snapshot, withLab } from './lab-helpers.js';
import type { LabState } from '../../src/lab/lab.js';

const DEPLOY = ['vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26'];

async function everyHost(lab: LabState): Promise<Record<string, unknown>[]> {
  return Promise.all([1, 2, 3].map((h) => snapshot(lab, h)));
}

const count = async (lab: LabState): Promise<number> => (JSON.parse(await ok(lab, 1, 'jls', 'cluster=1', '--json')) as unknown[]).length;

test('jail_max is enforced across the cluster; two hosts racing for the last slot never both win', { timeout: 600_000 }, async (t) => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, ...DEPLOY, 'jail_max=2', 'guest_network=10.20.0.0/24', 'guest_gateway=10.20.0.1');
    await ok(lab, 1, 'jcreate', 'jname=jail1', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    await ok(lab, 2, 'jcreate', 'jname=jail2', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');

    const before = await everyHost(lab);
    const refused = await mv(lab, 3, 'jcreate', 'jname=jail3', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stderr.trim(), 'meshvpc: vpc1: jail_max=2 reached (2 containers: jail1@host1, jail2@host2)');
    assert.deepEqual(await everyHost(lab), before, 'a refusal changes nothing on any host');

    // Raising the quota on one member reaches every member; the third goes through.
    const set = await ok(lab, 2, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=3');
    assert.match(set, /vpc1: set on 3 of 3 members/);
    assert.match(await ok(lab, 3, 'vpc', 'mode=list', 'header=0', 'display=name,quota'), /^vpc1\s+jail_max=3$/m);
    await ok(lab, 3, 'jcreate', 'jname=jail3', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    assert.equal((await jailPing(lab, 3, 'jail3', '10.20.0.2')).code, 0, 'jail3 reaches jail1 at its allocated address');

    // Races: each round leaves exactly one free slot and lets two hosts go for it at once.
    const ROUNDS = 10;
    let wins = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const have = await count(lab);
      await ok(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc1', `jail_max=${have + 1}`);
      const [a, b] = round % 2 === 0 ? [2, 3] : [3, 1];
      const results = await Promise.all([
        mv(lab, a, 'jcreate', `jname=r${round}a`, 'interface=vpc1', 'ip4_addr=auto'),
        mv(lab, b, 'jcreate', `jname=r${round}b`, 'interface=vpc1', 'ip4_addr=auto'),
      ]);
      const won = results.filter((r) => r.code === 0).length;
      assert.equal(won, 1, `round ${round}: exactly one of host${a} and host${b} gets the last slot (${results.map((r) => r.stderr.trim()).join(' | ')})`);
      const lost = results.find((r) => r.code !== 0);
      assert.match(lost?.stderr ?? '', new RegExp(`^meshvpc: vpc1: jail_max=${have + 1} reached \\(${have + 1} containers: `));
      assert.equal(await count(lab), have + 1);
      wins += won;
    }
    t.diagnostic(`${ROUNDS} race rounds ran; each had exactly one winner (${wins} wins)`);
    const addrs = (JSON.parse(await ok(lab, 1, 'jls', 'cluster=1', '--json')) as { ip4_addr: string }[]).map((j) => j.ip4_addr);
    assert.equal(new Set(addrs).size, addrs.length, `every container has its own address: ${addrs.join(' ')}`);

    // RAM and CPU quotas count VM sizes (VMs created, not booted: a VM counts from creation to removal).
    await ok(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc1', 'vcpu_max=3', 'ram_max=512m');
    await ok(lab, 1, 'bcreate', 'jname=vm1', 'interface=vpc1', 'vm_cpus=2', 'vm_ram=256m');
    const cpus = await mv(lab, 2, 'bcreate', 'jname=vm2', 'interface=vpc1', 'vm_cpus=2', 'vm_ram=128m');
    assert.equal(cpus.stderr.trim(), 'meshvpc: vpc1: vcpu_max=3 reached (2 vCPUs in use, 2 asked: vm1@host1)');
    const ram = await mv(lab, 2, 'bcreate', 'jname=vm2', 'interface=vpc1', 'vm_cpus=1', 'vm_ram=512m');
    assert.equal(ram.stderr.trim(), 'meshvpc: vpc1: ram_max=512m reached (256m in use, 512m asked: vm1@host1)');
    await ok(lab, 2, 'bcreate', 'jname=vm2', 'interface=vpc1', 'vm_cpus=1', 'vm_ram=256m');
    assert.match(await ok(lab, 3, 'vpc', 'mode=list', 'header=0', 'display=name,usage'), /vms=2 vcpus=3 ram=512m/);
    assert.deepEqual(JSON.parse(await ok(lab, 3, 'jwhereis', 'jname=vm2', 'emulator=bhyve', '--json')), ['host2']);
    assert.equal((await mv(lab, 3, 'jwhereis', 'jname=vm2', 'emulator=jail')).code, 1, 'no container named vm2');
  });
});

test('ip4_addr=auto: 30 containers created at once on 3 hosts get 30 distinct addresses that answer; remove frees one; unreachable fails closed', { timeout: 600_000 }, async (t) => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, ...DEPLOY, 'guest_network=10.30.0.0/24', 'guest_gateway=10.30.0.254');
    const started = Date.now();
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) => mv(lab, (i % 3) + 1, 'jcreate', `jname=c${i}`, 'interface=vpc1', 'ip4_addr=auto', 'runasap=1')),
    );
    t.diagnostic(`30 concurrent jcreate ip4_addr=auto on 3 hosts: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const [i, r] of made.entries()) assert.equal(r.code, 0, `c${i}: ${r.stderr}`);
    const rows = JSON.parse(await ok(lab, 1, 'jls', 'cluster=1', '--json')) as { jname: string; node: string; ip4_addr: string }[];
    assert.equal(rows.length, 30);
    const addrs = rows.map((r) => r.ip4_addr);
    assert.equal(new Set(addrs).size, 30, `30 distinct addresses: ${addrs.join(' ')}`);
    for (const a of addrs) assert.match(a, /^10\.30\.0\.\d+\/24$/);
    // Every one answers, from a container on host1 (c0 is on host2; c2 on host1).
    const here = rows.find((r) => r.node === 'host1') as { jname: string };
    for (const r of rows) {
      if (r.jname === here.jname) continue;
      const p = await jailPing(lab, 1, here.jname, r.ip4_addr.split('/')[0] as string);
      assert.equal(p.code, 0, `${here.jname} reaches ${r.jname} (${r.ip4_addr}) on ${r.node}`);
    }

    // A hand-given address that is taken, reserved or of the wrong prefix is refused, changing nothing.
    const before = await snapshot(lab, 2);
    const taken = await mv(lab, 2, 'jcreate', 'jname=dup', 'interface=vpc1', `ip4_addr=${addrs[0]}`);
    assert.equal(taken.stderr.trim(), `meshvpc: invalid ip4_addr "${addrs[0]}": already used by another guest of this VPC`);
    const gw = await mv(lab, 2, 'jcreate', 'jname=dup', 'interface=vpc1', 'ip4_addr=10.30.0.254/24');
    assert.equal(gw.stderr.trim(), 'meshvpc: invalid ip4_addr "10.30.0.254/24": reserved in 10.30.0.0/24 (network, broadcast, gateway or a bridge address)');
    const prefix = await mv(lab, 2, 'jcreate', 'jname=dup', 'interface=vpc1', 'ip4_addr=10.30.0.200/25');
    assert.equal(prefix.stderr.trim(), 'meshvpc: invalid ip4_addr "10.30.0.200/25": inside 10.30.0.0/24 a guest\'s prefix is /24');
    assert.deepEqual(await snapshot(lab, 2), before);

    // Removing one frees its address: the lowest free one is handed out next.
    const lowest = [...rows].sort((a, b) => Number(a.ip4_addr.split('.')[3]?.split('/')[0]) - Number(b.ip4_addr.split('.')[3]?.split('/')[0]))[0] as { jname: string; node: string; ip4_addr: string };
    await ok(lab, Number(lowest.node.slice(4)), 'jremove', `jname=${lowest.jname}`);
    assert.match(await ok(lab, 3, 'jcreate', 'jname=again', 'interface=vpc1', 'ip4_addr=auto'), new RegExp(`eth0 ${lowest.ip4_addr.replace(/\./g, '\\.')}`));

    // host3 unreachable (its sshd stopped): counting fails closed; force=1 counts it by its last report.
    await sh(lab, 3, 'ip', 'link', 'set', 'dev', 'eth0', 'down');
    try {
      const closed = await mv(lab, 1, 'jcreate', 'jname=late', 'interface=vpc1', 'ip4_addr=auto');
      assert.notEqual(closed.code, 0);
      assert.match(closed.stderr, /cannot count vpc1's guests on every member \(.*host3.*\); force=1 counts that member by its last report/);
      const forced = await ok(lab, 1, 'jcreate', 'jname=late', 'interface=vpc1', 'ip4_addr=auto', 'force=1');
      const got = /eth0 (\S+)/.exec(forced)?.[1] ?? '';
      const host3Addrs = rows.filter((r) => r.node === 'host3').map((r) => r.ip4_addr);
      assert.ok(!host3Addrs.includes(got), `${got} is none of unreachable host3's addresses`);
      assert.ok(!addrs.includes(got) || got === lowest.ip4_addr, `${got} is free`);
    } finally {
      await sh(lab, 3, 'ip', 'link', 'set', 'dev', 'eth0', 'up');
    }
  });
});

test('bad guest input is one clear line, exit 2, and nothing changes', { timeout: 300_000 }, async () => {
  await withLab(2, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, ...DEPLOY);
    const before = [await snapshot(lab, 1), await snapshot(lab, 2)];
    const cases: [string[], RegExp][] = [
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_ram=0'], /^meshvpc: invalid vm_ram "0": use a size such as 512m or 4g, at least 32m and at most 1024t$/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_ram=9999t'], /^meshvpc: invalid vm_ram "9999t": use a size such as 512m or 4g/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_ram=2t'], /^meshvpc: invalid vm_ram "2t": at most 1t$/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_cpus=-1'], /^meshvpc: invalid vm_cpus "-1"/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_disk=/nonexistent.img'], /^meshvpc: invalid vm_disk "\/nonexistent.img": no such file on this host$/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_kernel=/a,b'], /^meshvpc: invalid vm_kernel "\/a,b": use an absolute path/],
      [['bcreate', 'jname=v', 'interface=vpc1', 'vm_disk=/var/db/meshvpc/meshvpc.sqlite'], /^meshvpc: invalid vm_disk "\/var\/db\/meshvpc\/meshvpc\.sqlite": it is inside meshvpc's state directory/],
      [['jcreate', 'jname=j', 'interface=vpc1', 'ip4_addr=auto'], /^meshvpc: ip4_addr=auto needs a guest network on vpc1: meshvpc vpc mode=set vpc_name=vpc1 guest_network=CIDR$/],
      [['vpc', 'mode=set', 'vpc_name=vpc1', 'guest_network=198.51.100.0/24'], /^meshvpc: invalid guest_network "198.51.100.0\/24": it overlaps the peer network 198.51.100.0\/26/],
      [['vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=-3'], /^meshvpc: invalid jail_max "-3"/],
      [['vpc', 'mode=set', 'vpc_name=vpc1'], /^meshvpc: vpc mode=set needs something to change: jail_max=, vm_max=/],
    ];
    for (const [args, want] of cases) {
      const r = await mv(lab, 1, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
      assert.match(r.stderr.trim(), want);
    }
    assert.deepEqual([await snapshot(lab, 1), await snapshot(lab, 2)], before);
  });
});

test('a container on two VPCs (interface=vpc1,vpc2): eth0 and eth1, an address from each guest network, counted on both', { timeout: 300_000 }, async () => {
  await withLab(2, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, ...DEPLOY, 'guest_network=10.60.0.0/24');
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26', 'guest_network=10.61.0.0/24', 'jail_max=2');
    const made = await ok(lab, 1, 'jcreate', 'jname=both', 'interface=vpc1,vpc2', 'ip4_addr=auto,auto', 'runasap=1');
    assert.match(made, /^both: created on host1, interface vpc1,vpc2, eth0 10\.60\.0\.1\/24, eth1 10\.61\.0\.1\/24$/m);
    await ok(lab, 2, 'jcreate', 'jname=a', 'interface=vpc1', 'ip4_addr=auto', 'runasap=1');
    await ok(lab, 2, 'jcreate', 'jname=b', 'interface=vpc2', 'ip4_addr=auto', 'runasap=1');
    const inside = await shOk(lab, 1, 'ip', '-n', 'both', '-o', '-4', 'addr', 'show');
    assert.match(inside, /eth0\s+inet 10\.60\.0\.1\/24/);
    assert.match(inside, /eth1\s+inet 10\.61\.0\.1\/24/);
    assert.equal((await eventuallyReaches(lab, 1, 'both', '10.60.0.2')).code, 0, 'eth0 reaches vpc1');
    assert.equal((await eventuallyReaches(lab, 1, 'both', '10.61.0.2')).code, 0, 'eth1 reaches vpc2');
    assert.notEqual((await jailPing(lab, 2, 'a', '10.61.0.2')).code, 0, 'vpc1 and vpc2 stay apart');
    assert.match(await ok(lab, 1, 'jls', 'header=0', 'display=jname,interface,ip4_addr'), /^both\s+vpc1,vpc2\s+10\.60\.0\.1\/24,10\.61\.0\.1\/24$/m);
    // It counts on vpc2's jail_max=2 with b: a third container on vpc2 is refused.
    const full = await mv(lab, 2, 'jcreate', 'jname=c', 'interface=vpc2', 'ip4_addr=auto');
    assert.equal(full.stderr.trim(), 'meshvpc: vpc2: jail_max=2 reached (2 containers: both@host1, b@host2)');
    const twice = await mv(lab, 2, 'jcreate', 'jname=d', 'interface=vpc1,vpc1');
    assert.equal(twice.stderr.trim(), 'meshvpc: interface=vpc1,vpc1 names a VPC twice: a container has one interface per VPC');
    const more = await mv(lab, 2, 'jcreate', 'jname=d', 'interface=vpc1', 'ip4_addr=auto,auto');
    assert.equal(more.stderr.trim(), 'meshvpc: ip4_addr names 2 addresses but interface= names 1 VPC: give one per interface, in the same order');
    await ok(lab, 1, 'jremove', 'jname=both');
    assert.equal((await links(lab, 1, 'type', 'veth')).filter((l) => l.ifname.startsWith('vj')).length, 0, 'both of its pairs are gone');
  });
});

test('ip6_addr=auto from an IPv6 guest network: distinct addresses that answer; ip4_addr=auto there is refused', { timeout: 300_000 }, async () => {
  await withLab(2, 'v6', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc6', 'node_member=all', 'peer_network=198.51.100.0/26', 'guest_network=2001:db8:ab::/64');
    assert.match(await ok(lab, 1, 'jcreate', 'jname=a6', 'interface=vpc6', 'ip6_addr=auto', 'runasap=1'), /eth0 2001:db8:ab::1\/64$/m);
    assert.match(await ok(lab, 2, 'jcreate', 'jname=b6', 'interface=vpc6', 'ip6_addr=auto', 'runasap=1'), /eth0 2001:db8:ab::2\/64$/m);
    const r = await eventuallyReaches(lab, 1, 'a6', '2001:db8:ab::2');
    assert.equal(r.code, 0, `a6 reaches b6 over IPv6: ${r.stdout}${r.stderr}`);
    const v4 = await mv(lab, 1, 'jcreate', 'jname=c4', 'interface=vpc6', 'ip4_addr=auto');
    assert.equal(v4.stderr.trim(), "meshvpc: ip4_addr=auto: vpc6's guest network 2001:db8:ab::/64 is IPv6; use ip6_addr=auto");
  });
});
