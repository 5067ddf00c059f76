/**
 * cluster mode=add_member|remove_member on a 4-host lab (etcd on host1-3,
 * an agent on every host):
 * - refused, with nothing changed on any host's configuration or in etcd:
 *   from a host without the CA key (naming the holder), a member already, an
 *   unknown node, a host that is no member, a member list sent by a host
 *   without the CA, the last quorum;
 * - host4 added: its etcd joins the running cluster as a learner and makes
 *   itself a voting member; every host's configuration lists 4 members, all
 *   healthy;
 * - host3's etcd dies and host3 is removed: etcd lists 3 members, every host
 *   (host3 too, now a client) reaches the cluster, host3's server
 *   certificate (which also authenticates as a client) no longer reads the
 *   store, a deploy goes through the agents and the guests of vpc1 keep
 *   reaching each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, killLabProcess, startLabProcess, type LabProcess, type LabState } from '../../src/lab/lab.js';
import { etcdctlVia, eventually, eventuallyReaches, LAB_PKI as PKI, mv, ok, rawRemote, sh } from './lab-helpers.js';

interface Shown {
  members: { name: string; healthy: boolean }[];
  healthy: boolean;
}

const shown = async (lab: LabState, h: number): Promise<Shown> => JSON.parse((await sh(lab, h, 'meshvpc', 'cluster', 'mode=show', '--json')).stdout) as Shown;

/** The members etcd itself lists (name, and whether a learner), asked through `through` with host `h`'s own certificate. */
async function memberList(lab: LabState, h: number, through: string): Promise<{ name?: string; isLearner?: boolean }[]> {
  const r = await etcdctlVia(lab, h, through, 'member', 'list', '-w', 'json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { members: { name?: string; isLearner?: boolean }[] }).members;
}

const etcdMembers = async (lab: LabState, h: number, through: string): Promise<string[]> => (await memberList(lab, h, through)).map((m) => m.name ?? '').sort();

/** The members etcd lists as learners (added, not yet voting). */
const learners = async (lab: LabState, h: number, through: string): Promise<string[]> => (await memberList(lab, h, through)).filter((m) => m.isLearner === true).map((m) => m.name ?? '');

test('backend=etcd: an etcd member added and one removed, with refusals that change nothing', { timeout: 600_000 }, async () => {
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const ip = (h: number): string => lab.hosts[h - 1]?.ip4 ?? '';
  const agents = new Map<number, LabProcess>();
  try {
    for (const h of [1, 2, 3, 4]) agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3,host4', 'peer_network=198.51.100.0/26'), /vpc1: 4 of 4 hosts converged/);
    for (const h of [1, 4]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    assert.equal((await eventuallyReaches(lab, 1, 'c1', '203.0.113.4', 20)).code, 0);

    // Refusals: nothing changes on any host or in etcd.
    const configs = async (): Promise<string[]> => Promise.all([1, 2, 3, 4].map(async (h) => (await shown(lab, h)).members.map((m) => m.name).join(',')));
    const before = await configs();
    assert.deepEqual(before, ['host1,host2,host3', 'host1,host2,host3', 'host1,host2,host3', 'host1,host2,host3']);
    const refused = async (h: number, args: string[], said: RegExp): Promise<void> => {
      const r = await mv(lab, h, 'cluster', ...args);
      assert.notEqual(r.code, 0, `${args.join(' ')} on host${h} is refused`);
      assert.match(r.stderr, said);
      assert.deepEqual(await configs(), before, `${args.join(' ')}: every host's configuration is as it was`);
      assert.deepEqual(await etcdMembers(lab, 1, ip(1)), ['host1', 'host2', 'host3'], `${args.join(' ')}: etcd's members are as they were`);
    };
    await refused(2, ['mode=add_member', 'node=host4'], /refused: host2 does not hold the etcd cluster's CA key; run cluster mode=add_member on host1, which holds it/);
    await refused(1, ['mode=add_member', 'node=host2'], /host2 is an etcd member already \(members: host1, host2, host3\)/);
    await refused(1, ['mode=add_member', 'node=nosuch'], /invalid etcd_members "?nosuch"?: not this host \(host1\) nor a known node/);
    await refused(1, ['mode=add_member', 'node=host;reboot'], /invalid node/);
    await refused(1, ['mode=remove_member', 'node=host4'], /host4 is not an etcd member \(members: host1, host2, host3\)/);
    // A member list sent by a host that does not hold the CA (host2 dropping host1 and host3): refused.
    const ca = (await sh(lab, 2, 'cat', `${PKI}/ca.crt`)).stdout;
    const forged = { op: 'etcd_members', ca, config: { clusterToken: 'meshvpc-000000000000', members: [{ name: 'host2', clientUrls: [`https://${ip(2)}:2379`], peerUrls: [`https://${ip(2)}:2380`] }] } };
    const answer = JSON.parse((await rawRemote(lab, 2, 1, forged)).stdout) as { ok: boolean; error?: string };
    assert.equal(answer.ok, false);
    assert.match(answer.error ?? '', /refused: only the host that holds the etcd cluster's CA \(host1\) changes its members, not host2/);
    assert.deepEqual(await configs(), before, 'a forged member list: every host\'s configuration is as it was');

    // host4 added: its etcd joins the running cluster.
    const added = await ok(lab, 1, 'cluster', 'mode=add_member', `node=${ip(4)}`);
    assert.match(added, /host4: added to the etcd cluster; members host1, host2, host3, host4/);
    for (const h of [1, 2, 3, 4]) assert.match(added, new RegExp(`host${h}: has the new member list`));
    assert.match(added, /start its etcd: meshvpc etcd mode=run .* on host4/);
    startLabProcess(lab, 4, 'etcd', ['meshvpc', 'etcd', 'mode=run']);
    for (const h of [1, 2, 3, 4]) {
      await eventually(`host${h} sees 4 healthy members`, async () => {
        const s = await shown(lab, h);
        return s.healthy && s.members.length === 4;
      }, 60, 500);
    }
    assert.deepEqual(await etcdMembers(lab, 2, ip(4)), ['host1', 'host2', 'host3', 'host4'], 'etcd answers through host4 and lists it');
    // Added as a learner (no vote while it catches up), it made itself a voting member.
    await eventually('host4 is a voting member', async () => (await learners(lab, 1, ip(1))).length === 0, 60, 500);

    // host3's etcd dies for good, and host3 is taken out.
    const etcd3 = lab.processes?.find((p) => p.what === 'etcd' && p.host === 3);
    assert.ok(etcd3);
    await killLabProcess(lab, etcd3);
    // Its server certificate also authenticates as a client: it reads the store, until removed.
    const asServer = (): Promise<{ code: number; stderr: string }> =>
      sh(lab, 3, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=https://${ip(1)}:2379`, `--cacert=${PKI}/ca.crt`, `--cert=${PKI}/server.crt`, `--key=${PKI}/server.key`, '--dial-timeout=3s', '--command-timeout=5s', 'get', '--prefix', '--keys-only', '/meshvpc/v1/vpc/');
    assert.equal((await asServer()).code, 0, 'host3\'s server certificate reads the store while host3 is a member');
    const removed = await ok(lab, 1, 'cluster', 'mode=remove_member', 'node=host3');
    assert.match(removed, /host3: removed from the etcd cluster; members host1, host2, host4/);
    assert.match(removed, /host3's server and peer certificates revoked \(serials [0-9A-F]+,[0-9A-F]+\); the CRL on 3 of 3 etcd members/);
    assert.notEqual((await asServer()).code, 0, 'host3\'s server certificate no longer reads the store');
    assert.deepEqual(await etcdMembers(lab, 1, ip(1)), ['host1', 'host2', 'host4']);
    for (const h of [1, 2, 3, 4]) {
      const s = await shown(lab, h);
      assert.deepEqual(s.members.map((m) => m.name), ['host1', 'host2', 'host4'], `host${h}'s configuration`);
      assert.equal(s.healthy, true, `host${h} reaches every member`);
    }
    // The control plane goes on: a deploy from host3 (a client now) through the agents.
    assert.match(await ok(lab, 3, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host3', 'peer_network=198.51.100.64/26'), /vpc2: 2 of 2 hosts converged/);
    assert.equal((await eventuallyReaches(lab, 4, 'c4', '203.0.113.1', 10)).code, 0, 'vpc1 still carries traffic');
    // host3 is no member: it has no member to run.
    const run3 = await mv(lab, 3, 'etcd', 'mode=run');
    assert.notEqual(run3.code, 0);
    assert.match(run3.stderr, /host3 is not an etcd member \(members: host1, host2, host4\)/);

    // With host2's etcd down, taking host4 out would leave 1 healthy of 2: refused.
    const etcd2 = lab.processes?.find((p) => p.what === 'etcd' && p.host === 2);
    assert.ok(etcd2);
    await killLabProcess(lab, etcd2);
    const lost = await mv(lab, 1, 'cluster', 'mode=remove_member', 'node=host4');
    assert.notEqual(lost.code, 0);
    assert.match(lost.stderr, /refused: only 1 of the 2 members that would stay is healthy, and they need 2; nothing was changed/);
    assert.deepEqual(await etcdMembers(lab, 1, ip(1)), ['host1', 'host2', 'host4']);
  } catch (e) {
    for (const [h, a] of agents) console.log(`--- host${h}'s agent:\n${readFileSync(a.log, 'utf8').split('\n').slice(-15).join('\n')}`);
    for (const p of lab.processes ?? []) if (p.what === 'etcd') console.log(`--- host${p.host}'s etcd:\n${readFileSync(p.log, 'utf8').split('\n').slice(-10).join('\n')}`);
    throw e;
  } finally {
    await destroyLab(lab);
  }
});
