/**
 * A deploy that would change nothing leaves current members alone (issue 13,
 * item 5; core/applied.ts): each member says in its hello what it last
 * applied and whether its links are still as that apply left them. A member
 * whose tunnel was deleted by hand is applied (and repaired) while the others
 * stay untouched; a local reconcile, full=1 and a join all apply again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConvergeResult } from '../../src/app/vpc-cluster.js';
import type { LabState } from '../../src/lab/lab.js';
import { links, ok, shOk, withLab } from './lab-helpers.js';

async function deploy(lab: LabState, ...extra: string[]): Promise<ConvergeResult> {
  return JSON.parse(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', '--json', ...extra)) as ConvergeResult;
}

const applied = (r: ConvergeResult): string[] => r.hosts.filter((h) => h.current !== true).map((h) => h.host).sort();

test('a no-op deploy skips current members and still repairs one whose tunnel was deleted by hand', { timeout: 300_000 }, async () => {
  await withLab(4, 'v4', async (lab) => {
    for (const o of [2, 3, 4]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    const first = JSON.parse(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26', 'fdb=learn', '--json')) as ConvergeResult;
    assert.equal(first.ok, true);
    assert.deepEqual(first.current, [], 'a new VPC: every member applies');

    // Nothing changed: every member, this one too, is left alone.
    const again = await deploy(lab);
    assert.equal(again.ok, true);
    assert.equal(again.converged, 3);
    assert.equal(again.changes, 0);
    assert.deepEqual([...again.current].sort(), ['host1', 'host2', 'host3']);
    assert.ok(again.hosts.every((h) => h.current === true && h.ok && h.changes === 0));
    const text = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    assert.match(text, /^ {2}host2: current, left alone \(/m);
    assert.match(text, /vpc1: 3 of 3 hosts converged, 0 changes, 3 left alone as current \(/);

    // A tunnel deleted by hand on host2: its links no longer match its record, so host2 is applied.
    const [gone] = await links(lab, 2, 'type', 'vxlan');
    assert.ok(gone);
    await shOk(lab, 2, 'ip', 'link', 'del', 'dev', gone.ifname);
    const repaired = await deploy(lab);
    assert.equal(repaired.ok, true);
    assert.deepEqual(applied(repaired), ['host2']);
    assert.ok((repaired.hosts.find((h) => h.host === 'host2')?.changes ?? 0) > 0, 'host2 made its tunnel again');
    const back = await links(lab, 2, 'type', 'vxlan');
    assert.equal(back.length, 2);
    assert.ok(back.some((l) => l.ifname === gone.ifname && l.master === 'vpc1'));
    const status = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json')) as { present: boolean; up: boolean }[];
    assert.equal(status.length, 6);
    assert.ok(status.every((t) => t.present && t.up));

    // A local reconcile rewrites host3's own record: what was applied is forgotten, host3 is applied again.
    await ok(lab, 3, 'vpc', 'mode=apply', 'vpc_name=vpc1');
    assert.deepEqual(applied(await deploy(lab)), ['host3']);
    assert.equal((await deploy(lab)).current.length, 3);

    // full=1 applies every member anyway.
    const full = await deploy(lab, 'full=1');
    assert.deepEqual(full.current, []);
    assert.equal(full.changes, 0);

    // A join changes every member's definition: none is current.
    const joined = JSON.parse(await ok(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc1', 'node=host4', '--json')) as ConvergeResult;
    assert.equal(joined.ok, true);
    assert.deepEqual(joined.current, []);
    assert.equal((await deploy(lab)).current.length, 4);

    // fdb=control (the default): its FDB entries and guest reports are not in the fingerprint, so every member is applied.
    const control = (): Promise<string> => ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host2', 'peer_network=198.51.100.64/26', '--json');
    await control();
    assert.deepEqual((JSON.parse(await control()) as ConvergeResult).current, []);
  });
});
