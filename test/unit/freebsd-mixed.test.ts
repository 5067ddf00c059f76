/**
 * One VPC over two Linux hosts and one FreeBSD host: the two ends of every
 * tunnel, read back from the commands each platform would run, must agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../src/core/planner.js';
import { freebsdBatchCommands } from '../../src/platform/freebsd/commands.js';
import { linuxCommands } from '../../src/platform/linux/commands.js';
import { MEMBERS, threeHostSpec } from './freebsd-helpers.js';

interface End {
  readonly host: string;
  readonly name: string;
  readonly vni: number;
  readonly local: string;
  readonly remote: string;
  readonly ports: readonly number[];
  readonly learning: boolean;
  readonly mtu: number;
  readonly zeroCsumRx: boolean;
}

const after = (argv: readonly string[], key: string): string => {
  const i = argv.indexOf(key);
  assert.ok(i >= 0 && i + 1 < argv.length, `${key} missing from ${argv.join(' ')}`);
  return argv[i + 1] as string;
};

/** Tunnel ends from `ip link add ... type vxlan` and the `ip link set ... mtu` that follows. */
function linuxEnds(host: string, cmds: string[][]): End[] {
  return cmds
    .filter((a) => a[1] === 'link' && a[2] === 'add' && a.includes('vxlan'))
    .map((a) => {
      const name = a[3] as string;
      const mtu = cmds.find((c) => c[2] === 'set' && c[4] === name && c.includes('mtu'));
      assert.ok(mtu, `no MTU set for ${name} on ${host}`);
      return {
        host,
        name,
        vni: Number(after(a, 'id')),
        local: after(a, 'local'),
        remote: after(a, 'remote'),
        // Linux listens on and sends to the same dstport.
        ports: [Number(after(a, 'dstport'))],
        learning: !a.includes('nolearning'),
        mtu: Number(after(mtu, 'mtu')),
        zeroCsumRx: a.includes('udp6zerocsumrx'),
      };
    });
}

/** Tunnel ends from `ifconfig vxlanN create ...`. */
function freebsdEnds(host: string, cmds: string[][]): End[] {
  return cmds
    .filter((a) => a[0] === 'ifconfig' && a[2] === 'create' && a.includes('vxlanid'))
    .map((a) => ({
      host,
      name: a[1] as string,
      vni: Number(after(a, 'vxlanid')),
      local: after(a, 'vxlanlocal'),
      remote: after(a, 'vxlanremote'),
      ports: [Number(after(a, 'vxlanlocalport')), Number(after(a, 'vxlanremoteport'))],
      learning: !a.includes('-vxlanlearn'),
      mtu: Number(after(a, 'mtu')),
      // FreeBSD accepts zero UDP checksums without being told.
      zeroCsumRx: true,
    }));
}

const PLATFORM: Record<string, 'linux' | 'freebsd'> = { node1: 'linux', node2: 'linux', node3: 'freebsd' };

for (const family of [6, 4] as const) {
  test(`mixed Linux/FreeBSD VPC over IPv${family}: both ends of every tunnel agree`, () => {
    const ends = MEMBERS.flatMap((host) => {
      const ops = plan(threeHostSpec(host, family), new Map());
      return PLATFORM[host] === 'linux' ? linuxEnds(host, ops.flatMap(linuxCommands)) : freebsdEnds(host, freebsdBatchCommands(ops));
    });
    // Three hosts, three pairs, two ends each.
    assert.equal(ends.length, 6);
    const byVni = new Map<number, End[]>();
    for (const e of ends) byVni.set(e.vni, [...(byVni.get(e.vni) ?? []), e]);
    assert.equal(byVni.size, 3);
    for (const [vni, pair] of byVni) {
      assert.equal(pair.length, 2, `VNI ${vni} has ${pair.length} ends`);
      const [a, b] = pair as [End, End];
      assert.notEqual(a.host, b.host);
      assert.equal(a.name, b.name);
      assert.equal(a.local, b.remote, `VNI ${vni}: ${a.host} sends from ${a.local}, ${b.host} expects ${b.remote}`);
      assert.equal(a.remote, b.local);
      for (const e of pair) {
        assert.deepEqual(new Set(e.ports), new Set([4789]), `${e.host} ${e.name} ports ${e.ports.join('/')}`);
        assert.equal(e.learning, false);
        if (family === 6) assert.equal(e.zeroCsumRx, true, `${e.host} ${e.name} drops FreeBSD's zero-checksum packets`);
        assert.equal(e.local.includes(':'), family === 6);
      }
      assert.equal(a.mtu, b.mtu);
      assert.equal(a.mtu, family === 6 ? 1430 : 1450);
    }
    // Every FreeBSD end meets a Linux end.
    const freebsd = ends.filter((e) => PLATFORM[e.host] === 'freebsd');
    assert.equal(freebsd.length, 2);
    for (const e of freebsd) assert.equal(PLATFORM[(byVni.get(e.vni) ?? []).find((x) => x !== e)?.host ?? ''], 'linux');
  });
}
