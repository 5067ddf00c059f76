/**
 * The guest model's pure parts: a VPC's policy (quotas, guest network) as
 * init/set take it, a peer's guests and policy as the wire carries them, the
 * guest lease, and the QEMU command line a VM becomes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyFrom } from '../../src/app/vpc-policy.js';
import { describeQuota, NO_QUOTA } from '../../src/core/quota.js';
import { guestsFromWire, requestFromWire, vpcFromWire } from '../../src/cluster/wire.js';
import { qemuArgv, startTimeOf, stateOf, tapCommands } from '../../src/platform/linux/vm.js';
import { tapFor } from '../../src/app/vm.js';
import { arbiterOf } from '../../src/app/guest-guard.js';
import { openDb } from '../../src/store/db.js';
import * as repo from '../../src/store/repo.js';
import type { VmSpec } from '../../src/platform/driver.js';

const NONE = { quota: NO_QUOTA, guestNetwork: null };

describe('policyFrom: quotas and guest network as init and set take them', () => {
  test('values not given keep the base; none removes a limit', () => {
    const a = policyFrom({ jail_max: 2, ram_max: 4 * 2 ** 30 }, NONE, '10.99.0.0/24');
    assert.equal(describeQuota(a.quota), 'jail_max=2 ram_max=4g');
    const b = policyFrom({ jail_max: null, vm_max: 3 }, a, '10.99.0.0/24');
    assert.deepEqual(b.quota, { jail_max: null, vm_max: 3, vcpu_max: null, ram_max: 4 * 2 ** 30, disk_max: null });
    assert.equal(describeQuota(NO_QUOTA), 'none');
  });

  test('bhyve_max is vm_max; the two disagreeing is refused', () => {
    assert.equal(policyFrom({ bhyve_max: 5 }, NONE, '10.99.0.0/24').quota.vm_max, 5);
    assert.throws(() => policyFrom({ bhyve_max: 5, vm_max: 4 }, NONE, '10.99.0.0/24'), /vm_max=4 and bhyve_max=5 disagree/);
  });

  test('a guest network overlapping the peer network, a gateway outside it or of the other family are refused', () => {
    assert.throws(() => policyFrom({ guest_network: '10.99.0.0/16' }, NONE, '10.99.0.0/24'), /overlaps the peer network 10.99.0.0\/24/);
    assert.throws(() => policyFrom({ guest_network: '10.20.0.0/24', guest_gateway: '10.21.0.1' }, NONE, '10.99.0.0/24'), /not inside 10.20.0.0\/24/);
    assert.throws(() => policyFrom({ guest_network: '10.20.0.0/24', guest_gateway: '2001:db8::1' }, NONE, '10.99.0.0/24'), /is IPv4/);
    assert.throws(() => policyFrom({ guest_gateway: '10.20.0.1' }, NONE, '10.99.0.0/24'), /needs a guest_network/);
  });

  test('a new network drops the old gateway; none removes the network', () => {
    const a = policyFrom({ guest_network: '10.20.0.0/24', guest_gateway: '10.20.0.1' }, NONE, '10.99.0.0/24');
    assert.deepEqual(a.guestNetwork, { network: '10.20.0.0/24', gateway: '10.20.0.1' });
    assert.deepEqual(policyFrom({ jail_max: 1 }, a, '10.99.0.0/24').guestNetwork, a.guestNetwork, 'kept when not given');
    assert.deepEqual(policyFrom({ guest_network: '10.30.0.0/24' }, a, '10.99.0.0/24').guestNetwork, { network: '10.30.0.0/24', gateway: null });
    assert.equal(policyFrom({ guest_network: null }, a, '10.99.0.0/24').guestNetwork, null);
  });
});

const WIRE_VPC = { name: 'vpc1', peerNetwork: '10.99.0.0/24', family: 4, mtu: null, firewall: true, members: [{ node: 'a', underlay: '192.0.2.1' }], pairs: [] };

describe('the wire: policy and guests from a peer are checked like typed input', () => {
  test('a definition without policy (a 0.2 peer) carries none, so the receiver keeps its own', () => {
    const d = vpcFromWire(WIRE_VPC);
    assert.equal(d.quota, undefined);
    assert.equal(d.guestNetwork, undefined);
  });

  test('quota values out of range and a guest network over the peer network are refused', () => {
    assert.deepEqual(vpcFromWire({ ...WIRE_VPC, quota: { jail_max: 2 } }).quota, { jail_max: 2, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null });
    assert.throws(() => vpcFromWire({ ...WIRE_VPC, quota: { jail_max: -1 } }), /jail_max out of range/);
    assert.throws(() => vpcFromWire({ ...WIRE_VPC, quota: { ram_max: 2 ** 60 } }), /ram_max out of range/);
    assert.throws(() => vpcFromWire({ ...WIRE_VPC, quota: { jail_max: '2' } }), /jail_max out of range/);
    assert.throws(() => vpcFromWire({ ...WIRE_VPC, guestNetwork: { network: '10.99.0.0/25', gateway: null } }), /overlaps the peer network/);
    assert.throws(() => vpcFromWire({ ...WIRE_VPC, guestNetwork: { network: '10.20.0.0/24', gateway: '10.20.0.1; reboot' } }), /guest_gateway/);
  });

  test('a peer speaks for its own guests, on the VPC asked about, once each, with sane sizes', () => {
    const g = { name: 'vm1', node: 'b', kind: 'vm', interface: 'vpc1', ip4Addr: '10.20.0.2/24', ip6Addr: null, running: true, vcpus: 2, ramBytes: 2 ** 28, diskBytes: 0 };
    const list = (...guests: unknown[]) => ({ guests, bridgeIps: ['10.20.0.254'] });
    const ok = guestsFromWire(list(g), 'b', 'vpc1');
    assert.equal(ok.guests[0]?.ramBytes, 2 ** 28);
    assert.deepEqual(ok.bridgeIps, ['10.20.0.254']);
    assert.throws(() => guestsFromWire(list(g), 'c'), /c reported a guest of "b"/);
    assert.throws(() => guestsFromWire(list(g), 'b', 'vpc2'), /when asked about vpc2/);
    assert.throws(() => guestsFromWire(list({ ...g, kind: 'lxc' }), 'b'), /guest kind "lxc"/);
    assert.throws(() => guestsFromWire(list({ ...g, vcpus: -1 }), 'b'), /vcpus out of range/);
    assert.throws(() => guestsFromWire(list({ ...g, name: '../etc' }), 'b'), /invalid jname/);
    assert.throws(() => guestsFromWire(list({ ...g, ip4Addr: '10.20.0.2' }), 'b'), /ip4_addr/);
    assert.throws(() => guestsFromWire(list(g, g), 'b'), /reported guest vm1 twice/);
    assert.throws(() => guestsFromWire({ guests: [], bridgeIps: ['10.0.0.1; reboot'] }, 'b'), /bridge address/);
    assert.throws(() => guestsFromWire([g], 'b'), /guest list is not an object/);
  });

  test('lease requests carry a 32-hex token and bounded times', () => {
    const ok = { op: 'guest_hold', vpc: 'vpc1', token: 'a'.repeat(32), ttl_ms: 60000, wait_ms: 1000 };
    assert.deepEqual(requestFromWire(JSON.stringify(ok)), ok);
    assert.throws(() => requestFromWire(JSON.stringify({ ...ok, token: 'x' })), /lease token/);
    assert.throws(() => requestFromWire(JSON.stringify({ ...ok, ttl_ms: 10 ** 9 })), /ttl_ms out of range/);
    assert.throws(() => requestFromWire(JSON.stringify({ ...ok, vpc: 'Bad!' })), /vpc_name/);
  });
});

describe('the guest lease (on the arbiter)', () => {
  test('one holder at a time; the same token renews; an expired lease passes on; only the token releases', () => {
    const home = mkdtempSync(join(tmpdir(), 'mvlease-'));
    try {
      const db = openDb(home, 'create');
      const [t1, t2] = ['1'.repeat(32), '2'.repeat(32)];
      assert.equal(repo.tryLease(db, 'vpc1', 'host1', t1, 1000, 0), null);
      assert.deepEqual(repo.tryLease(db, 'vpc1', 'host2', t2, 1000, 500), { holder: 'host1', expiresMs: 1000 });
      assert.equal(repo.tryLease(db, 'vpc1', 'host1', t1, 1000, 600), null, 'renewed by its holder');
      assert.equal(repo.tryLease(db, 'vpc2', 'host2', t2, 1000, 600), null, 'another VPC is another lease');
      assert.equal(repo.releaseLease(db, 'vpc1', t2), false, "a token that does not hold it cannot release it");
      assert.equal(repo.tryLease(db, 'vpc1', 'host2', t2, 1000, 1601), null, 'taken over once expired');
      assert.equal(repo.releaseLease(db, 'vpc1', t2), true);
      db.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('the arbiter is the first member by name, whatever order the members are listed in', () => {
    const members = (names: string[]) => ({ ...vpcFromWire(WIRE_VPC), members: names.map((node, i) => ({ node, underlay: `192.0.2.${i + 1}` })) });
    assert.equal(arbiterOf(members(['host3', 'host1', 'host2'])), 'host1');
    assert.equal(arbiterOf(members([])), null);
  });
});

const VM: VmSpec = {
  name: 'vm1',
  bridge: 'vpc1',
  mtu: 1450,
  hostIf: tapFor('vm1'),
  mac: '02:aa:bb:cc:dd:ee',
  ramBytes: 256 * 2 ** 20,
  cpus: 2,
  accel: 'tcg',
  kernel: '/var/lib/meshvpc/guest/vmlinuz',
  initrd: '/var/lib/meshvpc/guest/initrd.img',
  disk: null,
  cmdline: 'console=ttyS0 panic=-1 meshvpc.name=vm1 meshvpc.ip4=10.20.0.2/24 meshvpc.mtu=1450',
  consoleLog: '/var/db/meshvpc/vm/vm1/console.log',
  pidFile: '/var/db/meshvpc/vm/vm1/vm.pid',
};

describe('a VM on Linux: its tap and its QEMU command line', () => {
  test('the tap is marked, has the VPC MTU and joins the bridge before QEMU opens it', () => {
    assert.match(VM.hostIf, /^tapv[0-9a-f]{10}$/);
    assert.deepEqual(tapCommands(VM), [
      ['ip', 'tuntap', 'add', 'dev', VM.hostIf, 'mode', 'tap'],
      ['ip', 'link', 'set', 'dev', VM.hostIf, 'alias', 'guest-vm1'],
      ['ip', 'link', 'set', 'dev', VM.hostIf, 'mtu', '1450', 'master', 'vpc1', 'up'],
    ]);
  });

  test('QEMU gets the size, the accelerator, the tap with the stable MAC, the console log and a pid file', () => {
    const argv = qemuArgv(VM);
    const after = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    assert.equal(argv[0], 'qemu-system-x86_64');
    assert.equal(after('-machine'), 'q35,accel=tcg');
    assert.equal(after('-m'), '256M');
    assert.equal(after('-smp'), '2');
    assert.equal(after('-netdev'), `tap,id=n0,ifname=${VM.hostIf},script=no,downscript=no`);
    assert.equal(after('-device'), 'virtio-net-pci,netdev=n0,mac=02:aa:bb:cc:dd:ee');
    assert.equal(after('-serial'), 'file:/var/db/meshvpc/vm/vm1/console.log');
    assert.equal(after('-append'), VM.cmdline);
    assert.equal(after('-pidfile'), VM.pidFile);
    assert.ok(argv.includes('-daemonize'));
    assert.deepEqual(qemuArgv({ ...VM, kernel: null, initrd: null, disk: '/srv/vm/disk.qcow2' }).filter((a) => a.startsWith('file=/srv')), ['file=/srv/vm/disk.qcow2,if=virtio,format=qcow2']);
  });

  test('values that would change what QEMU reads are refused even if they got this far', () => {
    assert.throws(() => qemuArgv({ ...VM, disk: '/srv/a,b.img' }), /not a plain absolute path/);
    assert.throws(() => qemuArgv({ ...VM, kernel: 'vmlinuz' }), /not a plain absolute path/);
    assert.throws(() => qemuArgv({ ...VM, mac: '02:aa:bb:cc:dd' }), /bad MAC/);
    assert.throws(() => qemuArgv({ ...VM, cmdline: 'a "b"' }), /quote, backslash or line break/);
    assert.throws(() => qemuArgv({ ...VM, kernel: null, disk: null }), /needs a kernel or a disk/);
  });

  test('the start time is read after the process name, which may hold spaces and parentheses', () => {
    const stat = '4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 123456 789';
    assert.equal(startTimeOf(stat), '987654');
    assert.equal(startTimeOf('garbage'), null);
    assert.equal(stateOf(stat), 'S');
    assert.equal(stateOf('4242 (qemu) Z 1 4242'), 'Z', 'a zombie is no running VM');
  });
});

describe('a container with a second interface on Linux', () => {
  test("eth1 is its own pair on the second VPC's bridge, marked like eth0, with only its own addresses", async () => {
    const { linuxGuestSetup } = await import('../../src/platform/linux/commands.js');
    const cmds = linuxGuestSetup({
      name: 'both',
      bridge: 'vpc1',
      mtu: 1450,
      hostIf: 'vjaaaa',
      addresses: ['10.60.0.1/24'],
      extra: [{ bridge: 'vpc2', mtu: 1400, hostIf: 'vjbbbb', addresses: ['10.61.0.1/24'] }],
    }).map((c) => c.join(' '));
    assert.ok(cmds.includes('ip link add vjbbbb mtu 1400 type veth peer name eth1 mtu 1400 netns both'));
    assert.ok(cmds.includes('ip link set dev vjbbbb alias guest-both'));
    assert.ok(cmds.includes('ip link set dev vjbbbb master vpc2'));
    assert.ok(cmds.includes('ip -n both addr add 10.61.0.1/24 dev eth1'));
    assert.ok(cmds.includes('ip -n both addr add 10.60.0.1/24 dev eth0'));
    assert.equal(cmds.filter((c) => c.includes('10.61.0.1/24')).length, 1, 'eth0 does not get eth1 address');
  });
});
