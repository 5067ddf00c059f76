import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkQuota, formatSize, NO_QUOTA, parseSize, usage, type GuestUse, type Quota } from '../../src/core/quota.js';
import { UserError } from '../../src/core/errors.js';

const jail = (name: string, node: string): GuestUse => ({ name, node, kind: 'jail', vcpus: 0, ramBytes: 0, diskBytes: 0 });
const vm = (name: string, node: string, vcpus: number, ram: string, disk = '0'): GuestUse => ({ name, node, kind: 'vm', vcpus, ramBytes: parseSize(ram, 'vm_ram', 0), diskBytes: parseSize(disk, 'vm_disk', 0) });
const q = (over: Partial<Quota>): Quota => ({ ...NO_QUOTA, ...over });
const refusedWith = (fn: () => unknown, message: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof UserError && e.kind === 'quota' && e.message === message);
};

describe('sizes', () => {
  test('whole numbers with binary units, written back the same way', () => {
    assert.equal(parseSize('256m', 'vm_ram'), 256 * 2 ** 20);
    assert.equal(parseSize('4G', 'ram_max'), 4 * 2 ** 30);
    assert.equal(parseSize('1024t', 'disk_max'), 2 ** 50);
    assert.equal(formatSize(parseSize('1536m', 'x')), '1536m');
    assert.equal(formatSize(4 * 2 ** 30), '4g');
  });

  test('absurd sizes are refused in one line', () => {
    for (const bad of ['0', '9999t', '-1', '1.5g', '4 g', 'g', '', '4gb', '1e9', '99999999999999']) {
      assert.throws(() => parseSize(bad, 'vm_ram'), (e: unknown) => e instanceof UserError && e.message.startsWith(`invalid vm_ram "${bad}": use a size such as 512m or 4g`), bad);
    }
  });
});

describe('quota', () => {
  test('jail_max: the refusal names the limit, the usage and where the guests are', () => {
    const existing = [jail('jail1', 'host1'), jail('jail2', 'host2')];
    refusedWith(() => checkQuota('vpc1', q({ jail_max: 2 }), existing, jail('jail3', 'host3')), 'vpc1: jail_max=2 reached (2 containers: jail1@host1, jail2@host2)');
    assert.doesNotThrow(() => checkQuota('vpc1', q({ jail_max: 3 }), existing, jail('jail3', 'host3')));
    refusedWith(() => checkQuota('vpc1', q({ jail_max: 0 }), [], jail('j', 'h')), 'vpc1: jail_max=0 reached (0 containers)');
  });

  test('VMs and containers are counted apart; a guest started again is not counted twice', () => {
    const existing = [jail('jail1', 'host1'), vm('vm1', 'host2', 1, '256m')];
    assert.doesNotThrow(() => checkQuota('vpc1', q({ jail_max: 1, vm_max: 2 }), existing, vm('vm2', 'host1', 1, '256m')));
    refusedWith(() => checkQuota('vpc1', q({ vm_max: 1 }), existing, vm('vm2', 'host1', 1, '256m')), 'vpc1: vm_max=1 reached (1 VM: vm1@host2)');
    assert.doesNotThrow(() => checkQuota('vpc1', q({ vm_max: 1 }), existing, vm('vm1', 'host2', 1, '256m')), 'the same VM, started again');
    // The same name on another host is another guest.
    refusedWith(() => checkQuota('vpc1', q({ vm_max: 1 }), existing, vm('vm1', 'host3', 1, '256m')), 'vpc1: vm_max=1 reached (1 VM: vm1@host2)');
  });

  test('vCPU, RAM and disk are counted from the VMs\' sizes', () => {
    const existing = [vm('vm1', 'host1', 2, '1g', '10g'), vm('vm2', 'host2', 1, '512m', '5g'), jail('jail1', 'host3')];
    assert.deepEqual(usage(existing), { jails: 1, vms: 2, vcpus: 3, ramBytes: 1536 * 2 ** 20, diskBytes: 15 * 2 ** 30 });
    refusedWith(() => checkQuota('vpc1', q({ vcpu_max: 4 }), existing, vm('vm3', 'host3', 2, '256m')), 'vpc1: vcpu_max=4 reached (3 vCPUs in use, 2 asked: vm1@host1, vm2@host2)');
    refusedWith(() => checkQuota('vpc1', q({ ram_max: parseSize('2g', 'ram_max') }), existing, vm('vm3', 'host3', 1, '1g')), 'vpc1: ram_max=2g reached (1536m in use, 1g asked: vm1@host1, vm2@host2)');
    assert.doesNotThrow(() => checkQuota('vpc1', q({ ram_max: parseSize('2g', 'ram_max') }), existing, vm('vm3', 'host3', 1, '512m')), 'exactly at the limit fits');
    refusedWith(() => checkQuota('vpc1', q({ disk_max: parseSize('20g', 'disk_max') }), existing, vm('vm3', 'host3', 1, '256m', '6g')), 'vpc1: disk_max=20g reached (15g in use, 6g asked: vm1@host1, vm2@host2)');
    assert.doesNotThrow(() => checkQuota('vpc1', q({ vcpu_max: 3 }), existing, jail('jail2', 'host1')), 'a container takes no vCPU of the quota');
  });

  test('no quota, no limit', () => {
    const many = Array.from({ length: 500 }, (_, i) => jail(`j${i}`, `h${i % 7}`));
    assert.doesNotThrow(() => checkQuota('vpc1', NO_QUOTA, many, vm('v', 'h', 64, '1t', '1t')));
  });
});
