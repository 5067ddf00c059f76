/**
 * backend=etcd end to end: a 4-host lab with a 3-member etcd on hosts 1-3 and
 * an agent on every host. deploy, join, leave, destroy and container
 * creation work through the store and the agents (no host calls another);
 * one etcd member down changes nothing for users; an agent that is down
 * during a change is reported by name, and converges once it runs again;
 * two VPCs defined at the same moment from two hosts never share a VXLAN id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, killLabProcess, startLabProcess, type LabProcess, type LabState } from '../../src/lab/lab.js';
import { jailPing, mv, ok, sh, shOk } from './lab-helpers.js';

interface Shown {
  pairs: { a: string; b: string; vni: number }[];
  members: { node: string }[];
  fdb?: string;
}

const tunnels = async (lab: LabState, host: number): Promise<string[]> =>
  (JSON.parse(await shOk(lab, host, 'ip', '-j', '-d', 'link', 'show', 'type', 'vxlan')) as { ifname: string }[]).map((l) => l.ifname).sort();

/** Until `check` holds or `seconds` pass. */
async function eventually(what: string, check: () => Promise<boolean>, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${seconds}s: ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('backend=etcd: deploy, join, leave, guests and destroy through the agents; a member or an agent down; racing definitions', { timeout: 900_000 }, async () => {
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const agents = new Map<number, LabProcess>();
  const startAgent = (h: number): void => void agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
  try {
    for (const h of [1, 2, 3, 4]) startAgent(h);

    // deploy: written to the store by host1, applied by each member's agent.
    const deployed = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26');
    assert.match(deployed, /vpc1: 3 of 3 hosts converged/);
    for (const h of [1, 2, 3]) assert.equal((await tunnels(lab, h)).length, 2, `host${h} has its 2 tunnels`);
    assert.deepEqual(await tunnels(lab, 4), [], 'host4 is not a member');
    // It went through the store: the definition is under its key, and host2's agent applied it.
    const inStore = await sh(lab, 4, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=https://${lab.hosts[0]?.ip4 ?? ''}:2379`, '--cacert=/var/db/meshvpc/etcd/pki/ca.crt', '--cert=/var/db/meshvpc/etcd/pki/client.crt', '--key=/var/db/meshvpc/etcd/pki/client.key', 'get', '--print-value-only', '/meshvpc/v1/vpc/vpc1');
    assert.equal(inStore.code, 0, inStore.stderr);
    assert.equal((JSON.parse(inStore.stdout) as Shown).pairs.length, 3);
    assert.match(readFileSync(agents.get(2)?.log ?? '', 'utf8'), /vpc1: applied revision \d+, \d+ changes/);
    const shown = JSON.parse(await ok(lab, 2, 'vpc', 'mode=show', 'vpc_name=vpc1')) as Shown;
    assert.equal(shown.pairs.length, 3);
    assert.equal(shown.fdb, 'control');

    // What pushes over SSH is refused: the store is the cluster's state.
    const set = await mv(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=5');
    assert.notEqual(set.code, 0);
    assert.match(set.stderr, /vpc mode=set is not available with backend=etcd yet/);
    const enc = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=sealed', 'node_member=host1,host2', 'peer_network=198.51.100.128/26', 'encrypt=wireguard');
    assert.notEqual(enc.code, 0);
    assert.match(enc.stderr, /encrypt=wireguard is not available with backend=etcd yet/);

    // Guests: each host writes its own; the agents put them on every bridge.
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    await eventually('host1 holds permanent neighbours for c2 and c3', async () => {
      const n = JSON.parse(await shOk(lab, 1, 'ip', '-j', 'neigh', 'show', 'dev', 'vpc1', 'nud', 'permanent')) as { dst: string }[];
      return ['203.0.113.2', '203.0.113.3'].every((ip) => n.some((x) => x.dst === ip));
    });
    for (const [h, to] of [[1, 2], [2, 3], [3, 1]] as const) assert.equal((await jailPing(lab, h, `c${h}`, `203.0.113.${to}`)).code, 0, `c${h} reaches c${to}`);
    const status = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json')) as { node: string; fdb?: string }[];
    assert.ok(status.filter((t) => t.node === 'host1').every((t) => t.fdb === 'control'), JSON.stringify(status));

    // join and leave.
    assert.match(await ok(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc1', 'node=host4'), /vpc1: 4 of 4 hosts converged/);
    assert.equal((await tunnels(lab, 4)).length, 3);
    await ok(lab, 4, 'jcreate', 'jname=c4', 'interface=vpc1', 'ip4_addr=203.0.113.4/24', 'runasap=1');
    assert.equal((await jailPing(lab, 4, 'c4', '203.0.113.1')).code, 0, 'c4 on the joined host reaches c1');
    await ok(lab, 4, 'jremove', 'jname=c4');
    const left = await ok(lab, 1, 'vpc', 'mode=leave', 'vpc_name=vpc1', 'node=host4');
    assert.match(left, /vpc1: 3 of 3 hosts converged/);
    assert.deepEqual(await tunnels(lab, 4), [], 'host4 took its tunnels down');
    assert.equal((await sh(lab, 4, 'ip', 'link', 'show', 'dev', 'vpc1')).code, 1, 'and its bridge');
    for (const h of [1, 2, 3]) assert.equal((await tunnels(lab, h)).length, 2, `host${h} is back to 2 tunnels`);

    // One etcd member down (host3's): nothing changes for users.
    const etcd3 = lab.processes?.find((p) => p.what === 'etcd' && p.host === 3);
    assert.ok(etcd3);
    await killLabProcess(lab, etcd3);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host2,host3', 'peer_network=198.51.100.64/26', 'fdb=learn'), /vpc2: 3 of 3 hosts converged/);
    assert.equal((await jailPing(lab, 1, 'c1', '203.0.113.2')).code, 0, 'vpc1 still carries traffic');

    // An agent down during a change: the deploy names it and fails; started again, it converges.
    const a2 = agents.get(2);
    assert.ok(a2);
    await killLabProcess(lab, a2);
    const missed = await mv(lab, 1, 'vpc', 'mode=join', 'vpc_name=vpc2', 'node=host4');
    // (the environment of a lab command is the host's; the timeout is the default 60 s)
    assert.notEqual(missed.code, 0);
    assert.match(missed.stdout + missed.stderr, /host2: .*agent did not report revision/);
    assert.equal((await tunnels(lab, 2)).filter((t) => t.startsWith('vxlan')).length, 4, 'host2 still runs vpc1 and vpc2 as before (2 + 2 tunnels): nothing was torn down');
    startAgent(2);
    await eventually('host2 applies the join after its agent is back', async () => (await tunnels(lab, 2)).length === 5, 30);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2'), /vpc2: 4 of 4 hosts converged/);

    // Two VPCs defined at the same moment from two hosts: never the same VXLAN id (10 rounds).
    await ok(lab, 2, 'node', 'mode=add', `node=${lab.hosts[0]?.ip4 ?? ''}`);
    const seen = new Map<number, string>();
    for (let i = 0; i < 10; i++) {
      const [x, y] = await Promise.all([
        mv(lab, 1, 'vpc', 'mode=deploy', `vpc_name=ra${i}`, 'node_member=host1,host2', `peer_network=10.${100 + i}.0.0/29`, 'fdb=learn'),
        mv(lab, 2, 'vpc', 'mode=deploy', `vpc_name=rb${i}`, 'node_member=host1,host2', `peer_network=10.${120 + i}.0.0/29`, 'fdb=learn'),
      ]);
      assert.equal(x.code, 0, x.stdout + x.stderr);
      assert.equal(y.code, 0, y.stdout + y.stderr);
      for (const name of [`ra${i}`, `rb${i}`]) {
        const v = JSON.parse(await ok(lab, 1, 'vpc', 'mode=show', `vpc_name=${name}`)) as Shown;
        for (const p of v.pairs) {
          assert.equal(seen.get(p.vni), undefined, `VXLAN id ${p.vni} of ${name} is also ${seen.get(p.vni)}'s`);
          seen.set(p.vni, name);
        }
      }
    }
    assert.equal(seen.size, 20 + 0);

    // destroy: every member's agent takes it down.
    for (let i = 0; i < 10; i++) for (const name of [`ra${i}`, `rb${i}`]) await ok(lab, 1, 'vpc', 'mode=destroy', `vpc_name=${name}`);
    await ok(lab, 1, 'vpc', 'mode=destroy', 'vpc_name=vpc2');
    for (const h of [1, 2, 3, 4]) {
      assert.equal((await sh(lab, h, 'ip', 'link', 'show', 'dev', 'vpc2')).code, 1, `host${h} has no vpc2 bridge`);
    }
    assert.equal((await tunnels(lab, 1)).length, 2, 'only vpc1 is left on host1');
  } finally {
    await destroyLab(lab);
  }
});
