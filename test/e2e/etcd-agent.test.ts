/**
 * backend=etcd end to end: a 4-host lab with a 3-member etcd on hosts 1-3 and
 * an agent on every host. deploy, join, leave, destroy and container
 * creation work through the store and the agents (no host calls another);
 * one etcd member down changes nothing for users; an agent that is down
 * during a change is reported by name, and converges once it runs again, as
 * does one killed in the middle of applying a change; quotas and guest
 * addresses are decided through the store, racing creations included;
 * two VPCs defined at the same moment from two hosts never share a VXLAN id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, killLabProcess, meshvpc, startLabProcess, type LabProcess, type LabState } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { eventually, jailPing, mv, ok, sh, shOk } from './lab-helpers.js';

interface Shown {
  pairs: { a: string; b: string; vni: number }[];
  members: { node: string }[];
  fdb?: string;
}

const tunnels = async (lab: LabState, host: number): Promise<string[]> =>
  (JSON.parse(await shOk(lab, host, 'ip', '-j', '-d', 'link', 'show', 'type', 'vxlan')) as { ifname: string }[]).map((l) => l.ifname).sort();

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
    // Signed by the host that wrote it (its client certificate), the definition as its body.
    const envelope = JSON.parse(inStore.stdout) as { signed: number; by: string; body: string };
    assert.equal(envelope.by, 'host1');
    assert.equal((JSON.parse(envelope.body) as Shown).pairs.length, 3);
    assert.match(readFileSync(agents.get(2)?.log ?? '', 'utf8'), /vpc1: applied revision \d+, \d+ changes/);
    const shown = JSON.parse(await ok(lab, 2, 'vpc', 'mode=show', 'vpc_name=vpc1')) as Shown;
    assert.equal(shown.pairs.length, 3);
    assert.equal(shown.fdb, 'control');

    // Guests: each host writes its own; the agents put them on every bridge.
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    await eventually('host1 holds permanent neighbours for c2 and c3', async () => {
      const n = JSON.parse(await shOk(lab, 1, 'ip', '-j', 'neigh', 'show', 'dev', 'vpc1', 'nud', 'permanent')) as { dst: string }[];
      return ['203.0.113.2', '203.0.113.3'].every((ip) => n.some((x) => x.dst === ip));
    });
    for (const [h, to] of [[1, 2], [2, 3], [3, 1]] as const) assert.equal((await jailPing(lab, h, `c${h}`, `203.0.113.${to}`)).code, 0, `c${h} reaches c${to}`);

    // Quotas and guest addresses through the store: vpc mode=set writes them into the definition;
    // each admission takes the VPC's lease lock and writes its claim in a transaction (no member is called).
    assert.match(await ok(lab, 2, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=4', 'guest_network=203.0.113.0/24'), /vpc1: quota none -> jail_max=4; guest_network none -> 203\.0\.113\.0\/24.*\n.*vpc1: set on 3 of 3 members/);
    await eventually('host3 has taken the quota from the store', async () => /jail_max=4/.test(await ok(lab, 3, 'vpc', 'mode=list')));
    assert.match(await ok(lab, 3, 'vpc', 'mode=list'), /jails=3 vms=0/, 'counted from the store: the three containers of three hosts');
    for (let i = 0; i < 5; i++) {
      // The last slot, asked for from two hosts at the same moment: one gets it.
      const [x, y] = await Promise.all([
        mv(lab, 1, 'jcreate', `jname=q${i}a`, 'interface=vpc1', 'ip4_addr=auto'),
        mv(lab, 3, 'jcreate', `jname=q${i}b`, 'interface=vpc1', 'ip4_addr=auto'),
      ]);
      const won = [x, y].filter((r) => r.code === 0);
      assert.equal(won.length, 1, `round ${i}: exactly one creation takes the last slot: ${x.stdout}${x.stderr} / ${y.stdout}${y.stderr}`);
      const lost = x.code === 0 ? y : x;
      assert.match(lost.stderr, /vpc1: jail_max=4 reached \(4 containers: /);
      assert.match(won[0]?.stdout ?? '', /eth0 203\.0\.113\.4\/24/, 'the lowest free address: .1-.3 are the others\'');
      await ok(lab, x.code === 0 ? 1 : 3, 'jremove', `jname=${x.code === 0 ? `q${i}a` : `q${i}b`}`);
    }
    // Room for both: two addresses at once from two hosts are never the same.
    await ok(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=10');
    const both = await Promise.all([mv(lab, 1, 'jcreate', 'jname=d1', 'interface=vpc1', 'ip4_addr=auto'), mv(lab, 2, 'jcreate', 'jname=d2', 'interface=vpc1', 'ip4_addr=auto')]);
    const addrs = both.map((r) => {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return /eth0 (\S+)/.exec(r.stdout)?.[1];
    });
    assert.deepEqual([...addrs].sort(), ['203.0.113.4/24', '203.0.113.5/24']);
    // A given address another host's guest holds is refused, naming it.
    const taken = await mv(lab, 3, 'jcreate', 'jname=d3', 'interface=vpc1', `ip4_addr=${addrs[0] ?? ''}`);
    assert.equal(taken.code, 2, taken.stdout + taken.stderr);
    assert.match(taken.stderr, /already used by another guest of this VPC/);
    await ok(lab, 1, 'jremove', 'jname=d1');
    await ok(lab, 2, 'jremove', 'jname=d2');

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

    // An agent killed in the middle of applying a change (as soon as it says it applies it):
    // started again, it completes the half-made change (its own objects, not foreign ones).
    const log2 = agents.get(2)?.log ?? '';
    const from = readFileSync(log2, 'utf8').length;
    const deploying = mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc3', 'node_member=host1,host2,host3,host4', 'peer_network=198.51.100.192/26', 'fdb=learn');
    await eventually('host2 starts applying vpc3', async () => /vpc3: applying revision/.test(readFileSync(log2, 'utf8').slice(from)), 60);
    // Then at its first object in the kernel (polled without a pause: the apply takes a fraction of a second).
    for (const end = Date.now() + 10_000; Date.now() < end && (await sh(lab, 2, 'ip', 'link', 'show', 'dev', 'vpc3')).code !== 0; );
    const a2again = agents.get(2);
    assert.ok(a2again);
    // At once (the lab's careful kill looks the group up first, by when the apply is over): the
    // group is the agent this test started a moment ago, still running.
    process.kill(-a2again.pid, 'SIGKILL');
    await killLabProcess(lab, a2again);
    const half = await deploying;
    assert.match(half.stdout + half.stderr, /vpc3: [34] of 4 hosts converged/);
    const tunnelsAtKill = (await tunnels(lab, 2)).length;
    const reportedAtKill = /vpc3: applied/.test(readFileSync(log2, 'utf8').slice(from));
    startAgent(2);
    await eventually('host2 completes vpc3 after its restart', async () => (await tunnels(lab, 2)).length === 8, 60);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc3'), /vpc3: 4 of 4 hosts converged/);
    assert.doesNotMatch(readFileSync(log2, 'utf8').slice(from), /FAILED/, 'the restarted agent took its half-made objects as its own');
    console.log(`# killed with ${tunnelsAtKill - 5} of vpc3's 3 tunnels made on host2, ${reportedAtKill ? 'after' : 'before'} it reported; the deploy said: ${/vpc3: \d of 4 hosts converged/.exec(half.stdout)?.[0] ?? '?'}`);

    // collapse: every member takes its vpc3 network down and keeps the definition; a deploy brings it back.
    assert.match(await ok(lab, 3, 'vpc', 'mode=collapse', 'vpc_name=vpc3'), /vpc3: collapsed on 4 of 4 hosts/);
    for (const h of [1, 2, 3, 4]) assert.equal((await sh(lab, h, 'ip', 'link', 'show', 'dev', 'vpc3')).code, 1, `host${h} has no vpc3 bridge`);
    assert.equal((await tunnels(lab, 2)).length, 5, "host2 keeps vpc1's and vpc2's tunnels");
    assert.equal((JSON.parse(await ok(lab, 4, 'vpc', 'mode=show', 'vpc_name=vpc3')) as Shown).pairs.length, 6, 'host4 still holds the definition');
    const onCollapsed = await mv(lab, 2, 'jcreate', 'jname=late', 'interface=vpc3', 'runasap=1');
    assert.notEqual(onCollapsed.code, 0, 'no container on a collapsed VPC');
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc3'), /vpc3: 4 of 4 hosts converged/);
    assert.equal((await tunnels(lab, 2)).length, 8, 'vpc3 is back on host2');

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
    await ok(lab, 1, 'vpc', 'mode=destroy', 'vpc_name=vpc3');
    for (const h of [1, 2, 3, 4]) {
      assert.equal((await sh(lab, h, 'ip', 'link', 'show', 'dev', 'vpc2')).code, 1, `host${h} has no vpc2 bridge`);
    }
    assert.equal((await tunnels(lab, 1)).length, 2, 'only vpc1 is left on host1');
  } finally {
    await destroyLab(lab);
  }
});

test('backend=etcd: a host cut off from the underlay for 30 s changes nothing for the others, keeps its own network, and catches up when it is back', { timeout: 600_000 }, async () => {
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  try {
    for (const h of [1, 2, 3, 4]) startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']);
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3,host4', 'peer_network=198.51.100.0/26'), /4 of 4 hosts converged/);
    for (const h of [1, 2, 3, 4]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    const before3 = await tunnels(lab, 3);

    // host3 (an etcd member, a VPC member) loses its link to the lab's internet: nothing on host3 is touched.
    const cut = (how: 'down' | 'up') => systemExecutor.run(['ip', '-n', lab.netNs, 'link', 'set', 'dev', 'p3', how]);
    assert.equal((await cut('down')).code, 0);
    const cutAt = Date.now();
    // 30 s of echoes between the hosts that can still reach each other, while the cluster changes.
    const flows = [
      sh(lab, 1, 'ip', 'netns', 'exec', 'c1', 'ping', '-q', '-c', '1200', '-i', '0.025', '-W', '1', '203.0.113.2'),
      sh(lab, 4, 'ip', 'netns', 'exec', 'c4', 'ping', '-q', '-c', '1200', '-i', '0.025', '-W', '1', '203.0.113.1'),
    ];
    await ok(lab, 2, 'jcreate', 'jname=c5', 'interface=vpc1', 'ip4_addr=203.0.113.5/24', 'runasap=1');
    const vpc2 = await meshvpc(lab, 1, ['vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host2,host3', 'peer_network=198.51.100.64/26'], { MESHVPC_CONVERGE_TIMEOUT_MS: '10000' });
    assert.notEqual(vpc2.code, 0, 'host3 cannot apply it now');
    assert.match(vpc2.stdout + vpc2.stderr, /host3: .*agent did not report/);
    assert.match(vpc2.stdout, /vpc2: 2 of 3 hosts converged/);
    for (const f of await Promise.all(flows)) assert.match(f.stdout, / 1200 received, 0% packet loss/, f.stdout);
    // host3 itself kept everything it had: its agent lost the store, not the network.
    assert.deepEqual(await tunnels(lab, 3), before3);
    assert.match(readFileSync(lab.processes?.find((p) => p.what === 'agent' && p.host === 3)?.log ?? '', 'utf8'), /control plane unreachable/);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - cutAt))));

    assert.equal((await cut('up')).code, 0);
    // Back: its guest reaches the others at once, and its agent catches up with what changed.
    // (the underlay's own neighbour entries failed during the cut and are resolved again first)
    const back = Date.now();
    await eventually('c3 reaches c1 once the link is back', async () => (await sh(lab, 3, 'ip', 'netns', 'exec', 'c3', 'ping', '-c', '1', '-W', '1', '203.0.113.1')).code === 0, 20);
    console.log(`c3 reached c1 ${Date.now() - back} ms after the link came back`);
    await eventually('host3 applies vpc2', async () => (await tunnels(lab, 3)).length === before3.length + 2, 60);
    await eventually('host3 holds c5 (created while it was cut off) on its bridge', async () => {
      const n = JSON.parse(await shOk(lab, 3, 'ip', '-j', 'neigh', 'show', 'dev', 'vpc1', 'nud', 'permanent')) as { dst: string }[];
      return n.some((x) => x.dst === '203.0.113.5');
    }, 60);
    assert.equal((await jailPing(lab, 3, 'c3', '203.0.113.5')).code, 0, 'c3 reaches c5');
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2'), /vpc2: 3 of 3 hosts converged/);
  } finally {
    await destroyLab(lab);
  }
});
