/**
 * Path MTU verified, not assumed: `vpc mode=status` reports whether a
 * don't-fragment ping of each tunnel's full MTU crosses (pmtu_ok), and
 * `vpc mode=check_mtu` finds the largest size that does where a path is
 * smaller than the tunnel claims (here: host3's underlay link lowered to
 * 1400 after the VPC was built, which host1's routes cannot see).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinAll, links, mv, ok, shOk, withLab } from './lab-helpers.js';

interface Row {
  node: string;
  peer: string;
  mtu: number;
  pmtu_ok: boolean | null;
  largest: number | null;
  verdict: string;
}

test('pmtu_ok in status; check_mtu names the path that is smaller than it claims', { timeout: 300_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    const status = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json', 'display=node,peer,mtu,pmtu_ok')) as Row[];
    assert.equal(status.length, 6);
    assert.ok(status.every((r) => r.mtu === 1450 && r.pmtu_ok === true), JSON.stringify(status));

    await shOk(lab, 3, 'ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1400');
    const r = await mv(lab, 1, 'vpc', 'mode=check_mtu', 'vpc_name=vpc1', '--json', 'display=node,peer,mtu,pmtu_ok,largest,verdict');
    assert.equal(r.code, 1, 'a path smaller than it claims is a failure');
    const rows = JSON.parse(r.stdout) as Row[];
    const to3 = rows.find((x) => x.peer === 'host3');
    const to2 = rows.find((x) => x.peer === 'host2');
    assert.deepEqual([to2?.pmtu_ok, to2?.verdict], [true, 'ok']);
    assert.equal(to3?.pmtu_ok, false);
    // 1400 on host3's link, less VXLAN's 50 bytes: 1350 crosses. A veth lets 4 bytes more in (room for a
    // VLAN tag), so the measured figure is 1350 to 1354: the kernel's slack, measured rather than assumed.
    const largest = to3?.largest ?? 0;
    assert.ok(largest >= 1350 && largest <= 1354, `largest ${largest}`);
    assert.equal(to3?.verdict, `the path to host3 carries ${largest} bytes, not the 1450 this tunnel claims: set mtu=${largest} (or fix the underlay MTU)`);

    // fix=1: measured again and kept at what crosses, here; host3 re-applies from its own lower route MTU.
    const fixed = await mv(lab, 1, 'vpc', 'mode=check_mtu', 'vpc_name=vpc1', 'fix=1', '--json', 'display=peer,largest,capped,verdict');
    assert.equal(fixed.code, 0, fixed.stderr);
    const capped = (JSON.parse(fixed.stdout) as (Row & { capped: boolean })[]).find((x) => x.peer === 'host3');
    assert.equal(capped?.capped, true);
    // Each host measures its own side: host2 too (its tunnel to host3 is just as oversized).
    await ok(lab, 2, 'vpc', 'mode=check_mtu', 'vpc_name=vpc1', 'fix=1');
    await ok(lab, 3, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    const [bridge1] = await links(lab, 1, 'dev', 'vpc1');
    const [bridge3] = await links(lab, 3, 'dev', 'vpc1');
    assert.ok((bridge1?.mtu ?? 0) <= 1354, `host1's bridge at ${bridge1?.mtu}`);
    assert.equal(bridge3?.mtu, 1350, "host3's tunnels follow its own route MTU (1400 - 50)");
    const after = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json', 'display=node,peer,mtu,pmtu_ok')) as Row[];
    assert.ok(after.every((x) => x.pmtu_ok === true), `pmtu_ok everywhere after the fix: ${JSON.stringify(after)}`);
    // The cap survives a re-apply.
    await ok(lab, 1, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    assert.equal((await links(lab, 1, 'dev', 'vpc1'))[0]?.mtu, bridge1?.mtu);
  });
});
