/** Container lifecycle: jcreate, jstop, jstart, jremove, jls, jwhereis across hosts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jailPing, mv, ok, sh, withLab } from './lab-helpers.js';

test('containers stop, start, move between states and are found across the cluster', { timeout: 120_000 }, async () => {
  await withLab(2, 'v6', async (lab) => {
    await ok(lab, 1, 'node', 'mode=add', 'node=2001:db8:0:1::2');
    await ok(lab, 1, 'vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=2001:db8:ffff::/120');
    // No bridge yet: a container cannot start, and nothing is recorded.
    const early = await mv(lab, 1, 'jcreate', 'jname=web', 'interface=vpc1', 'vnet=1', 'runasap=1');
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /vpc1 has no bridge on host1/);
    assert.deepEqual(JSON.parse(await ok(lab, 1, 'jls', '--json')), []);

    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    await ok(lab, 1, 'jcreate', 'jname=web', 'ip4_addr=203.0.113.1/24', 'interface=vpc1', 'vnet=1', 'runasap=1');
    await ok(lab, 2, 'jcreate', 'jname=db', 'ip4_addr=203.0.113.2/24', 'interface=vpc1', 'vnet=1');
    assert.match(await ok(lab, 2, 'jls', 'header=0', 'display=jname,status'), /^db\s+Off$/m);
    await ok(lab, 2, 'jstart', 'jname=db');
    assert.match(await ok(lab, 2, 'jls', 'header=0', 'display=jname,status'), /^db\s+On$/m);
    assert.equal((await jailPing(lab, 1, 'web', '203.0.113.2')).code, 0, 'web reaches db over an IPv6 underlay with an IPv6 peer network');

    assert.equal((await ok(lab, 2, 'jwhereis', 'web')).trim(), 'host1');
    assert.deepEqual(JSON.parse(await ok(lab, 1, 'jwhereis', 'jname=db', '--json')), ['host2']);
    const nowhere = await mv(lab, 1, 'jwhereis', 'ghost');
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /no guest named ghost on any reachable host/);

    await ok(lab, 2, 'jstop', 'jname=db');
    assert.match(await ok(lab, 2, 'jls', 'header=0', 'display=jname,status'), /^db\s+Off$/m);
    assert.equal((await sh(lab, 2, 'ip', 'netns', 'list')).stdout.trim(), '', 'the stopped container has no namespace');
    assert.notEqual((await jailPing(lab, 1, 'web', '203.0.113.2')).code, 0);
    const notRunning = await mv(lab, 2, 'jexec', 'jname=db', 'true');
    assert.notEqual(notRunning.code, 0);
    assert.match(notRunning.stderr, /db is not running/);
    await ok(lab, 2, 'jstart', 'jname=db');
    // Same MAC after the restart (core/mac.ts): web's ARP entry stays valid.
    assert.equal((await jailPing(lab, 1, 'web', '203.0.113.2')).code, 0, 'reachable again at once after jstart');
    const exit = await mv(lab, 2, 'jexec', 'jname=db', 'sh', '-c', 'exit 7');
    assert.equal(exit.code, 7, "jexec passes the command's exit status through");

    await ok(lab, 2, 'jremove', 'jname=db');
    assert.deepEqual(JSON.parse(await ok(lab, 2, 'jls', '--json')), []);
    assert.doesNotMatch((await sh(lab, 2, 'ip', '-o', 'link', 'show', 'type', 'veth')).stdout, / vj[0-9a-f]+@/, 'its pair is gone');
    assert.equal((await mv(lab, 1, 'jwhereis', 'db')).code, 1);
  });
});
