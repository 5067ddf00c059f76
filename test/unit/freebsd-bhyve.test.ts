import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/core/errors.js';
import type { VmSpec } from '../../src/platform/driver.js';
import {
  bhyveRunningCommand,
  bhyveStartCommands,
  bhyveStopCommands,
  consolePidFile,
  nmdmOtherSide,
  parseBhyveVms,
  ramMib,
} from '../../src/platform/freebsd/bhyve.js';
import { argvLine } from '../../src/platform/recording.js';
import { fixture } from './freebsd-helpers.js';

const lines = (cmds: string[][]): string[] => cmds.map(argvLine);

/** A disk VM on vpc1: 2 vCPUs, 1 GiB, the VPC's 1430-byte MTU. */
const VM: VmSpec = {
  name: 'web1',
  bridge: 'vpc1',
  mtu: 1430,
  hostIf: 'tapweb1',
  mac: '02:5E:11:A0:3C:7D',
  ramBytes: 1024 * 1024 * 1024,
  cpus: 2,
  accel: 'kvm',
  kernel: null,
  initrd: null,
  disk: '/var/db/meshvpc/vm/web1/disk.img',
  cmdline: '',
  consoleLog: '/var/log/meshvpc/vm-web1.console.log',
  pidFile: '/var/run/meshvpc/vm-web1.pid',
};
const CONSOLE = '/dev/nmdm-web1-A';

test('golden: a disk VM on vpc1 (golden-bhyve-disk-vm.txt)', () => {
  const generated = lines(bhyveStartCommands(VM, CONSOLE)).join('\n') + '\n';
  assert.equal(generated, fixture('golden-bhyve-disk-vm.txt'));
});

test('start: argv, never a shell line with values in it', () => {
  const cmds = bhyveStartCommands(VM, CONSOLE);
  const copier = cmds.find((c) => c.includes('sh'));
  assert.ok(copier);
  // The script is a constant; the device is its own argument ($1).
  assert.equal(copier.at(-1), '/dev/nmdm-web1-B');
  assert.ok(!copier.some((a) => a.includes('nmdm') && a.includes('exec')));
  const bhyve = cmds.at(-1) ?? [];
  assert.deepEqual(bhyve.slice(0, 7), ['daemon', '-f', '-p', VM.pidFile, '-o', VM.consoleLog, 'bhyve']);
  assert.equal(bhyve.at(-1), 'web1');
  assert.ok(bhyve.includes('2,virtio-net,tapweb1,mac=02:5e:11:a0:3c:7d,mtu=1430'), 'MAC in lower case, VPC MTU for the guest');
  // The tap carries the same mark as a container's host port, so one stop check serves both.
  assert.deepEqual(cmds[1], ['ifconfig', 'tap', 'create', 'name', 'tapweb1', 'description', 'guest-web1', 'mtu', '1430', 'up']);
});

test('RAM is whole MiB, rounded up; less than 32 MiB is refused', () => {
  assert.equal(ramMib(512 * 1024 * 1024), 512);
  assert.equal(ramMib(512 * 1024 * 1024 + 1), 513);
  assert.equal(ramMib(32 * 1024 * 1024), 32);
  assert.throws(() => ramMib(32 * 1024 * 1024 - 1), /at least 32M/);
  assert.throws(() => ramMib(Number.NaN), UserError);
  const shown = lines(bhyveStartCommands({ ...VM, ramBytes: 1536 * 1024 * 1024 + 100 }, CONSOLE)).at(-1) ?? '';
  assert.match(shown, / -m 1537M /);
});

test('a direct kernel boot is refused: bhyve cannot load a Linux kernel', () => {
  const kernelOnly: VmSpec = { ...VM, kernel: '/var/db/meshvpc/vm/web1/vmlinuz', initrd: '/var/db/meshvpc/vm/web1/initrd.img', disk: null, accel: 'tcg', cmdline: 'console=ttyS0 ip4=10.10.11.5/24' };
  const refusal = /FreeBSD boots VMs from vm_disk= with UEFI firmware.*direct kernel boot.*needs QEMU on Linux/;
  assert.throws(() => bhyveStartCommands(kernelOnly, CONSOLE), (e: unknown) => e instanceof UserError && refusal.test(e.message));
  // A kernel beside a disk is refused too: rendering only the disk boot would not be what was asked.
  assert.throws(() => bhyveStartCommands({ ...VM, kernel: '/boot/vmlinuz' }, CONSOLE), refusal);
  assert.throws(() => bhyveStartCommands({ ...VM, initrd: '/boot/initrd.img' }, CONSOLE), refusal);
  assert.throws(() => bhyveStartCommands({ ...VM, disk: null }, CONSOLE), /no vm_disk=/);
  assert.throws(() => bhyveStartCommands({ ...VM, accel: 'tcg' }, CONSOLE), /hardware virtualization.*QEMU on Linux/);
});

test('stop: destroy the VM, end a stray console copier, destroy the tap', () => {
  assert.deepEqual(lines(bhyveStopCommands(VM)), [
    'bhyvectl --destroy --vm=web1',
    'pkill -L -F /var/run/meshvpc/vm-web1.console.pid',
    'ifconfig tapweb1 destroy',
  ]);
  // Stopping needs only what names things: a kernel VmSpec can still be cleaned up.
  assert.equal(bhyveStopCommands({ ...VM, kernel: '/boot/vmlinuz', disk: null }).length, 3);
  assert.throws(() => bhyveStopCommands({ ...VM, hostIf: 'em0' }), /tap name/);
});

test('console: nmdm A side in, B side for the copier; the copier pid file sits by the VM one', () => {
  assert.equal(nmdmOtherSide('/dev/nmdm-web1-A'), '/dev/nmdm-web1-B');
  assert.equal(nmdmOtherSide('/dev/nmdm0A'), '/dev/nmdm0B');
  for (const bad of ['/dev/nmdm-web1-B', '/dev/nmdmA', 'nmdm0A', '/dev/ttyu0', '/dev/nmdm web1A', '/dev/nmdm,x-A']) {
    assert.throws(() => nmdmOtherSide(bad), /nmdm\(4\) pair/, bad);
  }
  assert.equal(consolePidFile('/var/run/meshvpc/vm-web1.pid'), '/var/run/meshvpc/vm-web1.console.pid');
  assert.equal(consolePidFile('/var/run/meshvpc/web1'), '/var/run/meshvpc/web1.console');
});

test('ls /dev/vmm: one VM name a line', () => {
  assert.deepEqual(bhyveRunningCommand(), ['ls', '-1', '/dev/vmm']);
  // As a FreeBSD 14 host with two meshvpc VMs and one of vm-bhyve's prints it (sorted, one a line).
  assert.deepEqual(parseBhyveVms('debian12\nweb-2\nweb1\n'), ['debian12', 'web-2', 'web1']);
  assert.deepEqual(parseBhyveVms(''), []);
  assert.deepEqual(parseBhyveVms('web1\r\n\n'), ['web1']);
  assert.throws(() => parseBhyveVms('/dev/vmm/web1\n'), /not a listing of \/dev\/vmm/);
});

test('bad input that could break a command line is refused', () => {
  const refused: [Partial<VmSpec>, RegExp][] = [
    [{ name: 'a'.repeat(32) }, /vm name/],
    [{ name: '-web1' }, /vm name/],
    [{ name: 'web 1' }, /vm name/],
    [{ name: 'web.1' }, /vm name/],
    [{ name: '' }, /vm name/],
    [{ hostIf: 'vjweb1' }, /tap name/],
    [{ hostIf: 'tap0' }, /not tapN/],
    [{ hostIf: 'tap' }, /tap name/],
    [{ hostIf: 'tapabcdefghijklm' }, /tap name/],
    [{ hostIf: 'tap,x' }, /tap name/],
    [{ bridge: 'vpc 1' }, /bridge/],
    [{ mac: '02:5e:11:a0:3c' }, /mac/],
    [{ mac: '02-5e-11-a0-3c-7d' }, /mac/],
    [{ mac: '03:5e:11:a0:3c:7d' }, /unicast/],
    [{ mac: '00:00:00:00:00:00' }, /mac/],
    [{ mac: '02:5e:11:a0:3c:7d,mtu=9000' }, /mac/],
    [{ cpus: 0 }, /vm_cpus/],
    [{ cpus: 17 }, /1-16/],
    [{ cpus: 1.5 }, /vm_cpus/],
    [{ ramBytes: 16 * 1024 * 1024 }, /at least 32M/],
    [{ mtu: 1430.5 }, /mtu/],
    [{ disk: 'disk.img' }, /absolute path/],
    [{ disk: '/var/db/my disk.img' }, /absolute path/],
    [{ disk: '/var/db/disk.img,ro' }, /commas/],
    [{ disk: '/var/db/disk.img\n' }, /absolute path/],
    [{ pidFile: 'vm.pid' }, /pid file/],
    [{ consoleLog: '/var/log/a b.log' }, /console log/],
  ];
  for (const [change, why] of refused) {
    assert.throws(() => bhyveStartCommands({ ...VM, ...change }, CONSOLE), (e: unknown) => e instanceof UserError && why.test(e.message), JSON.stringify(change));
  }
  assert.throws(() => bhyveStartCommands(VM, '/dev/nmdm-web1-A,x'), /nmdm\(4\) pair/);
  // Within the bounds, and the tap's name kept to 15 characters.
  assert.doesNotThrow(() => bhyveStartCommands({ ...VM, name: 'a'.repeat(31), hostIf: 'tapv0123456789a', cpus: 16 }, CONSOLE));
});
