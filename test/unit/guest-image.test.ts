import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultGuestDir, defaultGuestImage, guestCmdline } from '../../src/platform/linux/guest-image.js';

const base = { name: 'vm1', ip4: '192.0.2.10/24', ip6: '2001:db8::10/64', gw4: '192.0.2.1', mtu: 1450 };

test('guest command line: serial console first, then every value the guest /init reads', () => {
  assert.equal(
    guestCmdline(base),
    'console=ttyS0 panic=-1 meshvpc.name=vm1 meshvpc.ip4=192.0.2.10/24 meshvpc.ip6=2001:db8::10/64 meshvpc.gw4=192.0.2.1 meshvpc.mtu=1450',
  );
});

test('guest command line: absent addresses and gateway are left out; the MTU is always there', () => {
  assert.equal(guestCmdline({ ...base, ip4: null, ip6: null, gw4: null }), 'console=ttyS0 panic=-1 meshvpc.name=vm1 meshvpc.mtu=1450');
  assert.equal(guestCmdline({ ...base, ip6: null, gw4: null }), 'console=ttyS0 panic=-1 meshvpc.name=vm1 meshvpc.ip4=192.0.2.10/24 meshvpc.mtu=1450');
});

test('guest command line: whitespace, shell syntax, extra parameters and empty values are refused', () => {
  for (const bad of ['vm 1', 'vm1\tx', 'vm1\n', 'a;reboot', '$(x)', 'a"b', "a'b", 'x init=/bin/sh', 'a=b', 'é', '']) {
    assert.throws(() => guestCmdline({ ...base, name: bad }), /meshvpc\.name/, JSON.stringify(bad));
  }
  assert.throws(() => guestCmdline({ ...base, ip4: '192.0.2.10/24 init=/bin/sh' }), /meshvpc\.ip4/);
  assert.throws(() => guestCmdline({ ...base, ip6: '2001:db8::10/64,x' }), /meshvpc\.ip6/);
  assert.throws(() => guestCmdline({ ...base, gw4: '' }), /meshvpc\.gw4/);
  for (const mtu of [0, -1, 1450.5, NaN, Infinity]) assert.throws(() => guestCmdline({ ...base, mtu }), /mtu/, String(mtu));
});

test('default guest image: the environment picks the directory; null until both files exist', () => {
  const saved = process.env.MESHVPC_GUEST_DIR;
  const dir = mkdtempSync(join(tmpdir(), 'meshvpc-guest-test-'));
  try {
    delete process.env.MESHVPC_GUEST_DIR;
    assert.equal(defaultGuestDir(), '/var/lib/meshvpc/guest');
    process.env.MESHVPC_GUEST_DIR = dir;
    assert.equal(defaultGuestDir(), dir);
    assert.equal(defaultGuestImage(), null);
    writeFileSync(join(dir, 'vmlinuz'), 'k');
    assert.equal(defaultGuestImage(dir), null, 'no initrd yet');
    writeFileSync(join(dir, 'initrd.img'), 'i');
    assert.deepEqual(defaultGuestImage(), { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img') });
    rmSync(join(dir, 'vmlinuz'));
    assert.equal(defaultGuestImage(dir), null, 'no kernel');
  } finally {
    if (saved === undefined) delete process.env.MESHVPC_GUEST_DIR;
    else process.env.MESHVPC_GUEST_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
