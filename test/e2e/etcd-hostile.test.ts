/**
 * backend=etcd against a hostile cluster host: host4 holds a valid client
 * certificate (it can write any key etcd has) but is not a member of vpc1.
 * Whatever it writes, the members believe a value only for its signer: a
 * definition of vpc1 only from a member of vpc1, never unsigned, never an old
 * one written back; a guest only in its own host's name (which that host
 * writes again when another writer changes it); a deletion takes nothing down; and
 * even a member cannot point a tunnel at an address its host never gave
 * (host2, which has no record of host3, checks host3's own word in the
 * store). After each attempt, every member's links, addresses,
 * namespaces, firewall, database, neighbours and FDB are what they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLab, destroyLab, startLabProcess, type LabProcess, type LabState } from '../../src/lab/lab.js';
import { etcdctl, jailPing, ok, sh, shOk, signedPut, snapshot } from './lab-helpers.js';

const KEY = '/meshvpc/v1/vpc/vpc1';

/** Everything a member holds, the kernel's neighbours and FDB included. */
async function state(lab: LabState, h: number): Promise<unknown> {
  const neigh = await shOk(lab, h, 'ip', '-j', 'neigh', 'show', 'nud', 'permanent');
  const fdb = await shOk(lab, h, 'bridge', '-j', 'fdb', 'show', 'dynamic');
  return { ...(await snapshot(lab, h)), neigh, fdb: (JSON.parse(fdb) as { state?: string }[]).filter((e) => e.state === 'static') };
}

test('backend=etcd: a hostile host with a valid certificate changes nothing on vpc1\'s members, whatever it writes', { timeout: 600_000 }, async () => {
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const agents = new Map<number, LabProcess>();
  try {
    for (const h of [1, 2, 3, 4]) agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26'), /vpc1: 3 of 3 hosts converged/);
    const first = JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', KEY)).stdout) as { body: string; prev: number };
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=203.0.113.${h}/24`, 'runasap=1');
    // A later revision, so the first one is old.
    assert.match(await ok(lab, 2, 'vpc', 'mode=set', 'vpc_name=vpc1', 'jail_max=8'), /vpc1: set on 3 of 3 members/);
    const settled = async (): Promise<void> => {
      for (const [from, to] of [[1, 2], [2, 3], [3, 1]] as const) assert.equal((await jailPing(lab, from, `c${from}`, `203.0.113.${to}`)).code, 0, `c${from} reaches c${to}`);
    };
    await settled();
    const before = await Promise.all([1, 2, 3].map((h) => state(lab, h)));
    const logFrom = [1, 2, 3].map((h) => readFileSync(agents.get(h)?.log ?? '', 'utf8').length);
    /** Until every member's agent log says `said` (since the attack began), then nothing changed. */
    const refused = async (what: string, said: RegExp, saying: readonly number[] = [1, 2, 3]): Promise<void> => {
      const deadline = Date.now() + 20_000;
      for (const [i, h] of [1, 2, 3].entries()) {
        if (!saying.includes(h)) continue;
        for (;;) {
          const log = readFileSync(agents.get(h)?.log ?? '', 'utf8').slice(logFrom[i]);
          if (said.test(log)) break;
          if (Date.now() > deadline) assert.fail(`${what}: host${h}'s agent did not say ${said}: ${log}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const [i, h] of [1, 2, 3].entries()) assert.deepEqual(await state(lab, h), before[i], `${what}: host${h} is as it was`);
      await settled();
    };

    const current = JSON.parse((await etcdctl(lab, 4, 'get', '-w', 'json', KEY)).stdout) as { kvs: { mod_revision: number }[] };
    const rev = current.kvs[0]?.mod_revision ?? 0;
    const def = JSON.parse(first.body) as { members: { node: string; underlay: string }[] };

    // 1. A definition signed by host4, which is not a member: host4 adds itself.
    const widened = { ...def, members: [...def.members, { node: 'host4', underlay: lab.hosts[3]?.ip4 ?? '' }] };
    await signedPut(lab, KEY, JSON.stringify(widened), rev);
    await refused('signed by a non-member', /vpc1: revision \d+ FAILED: the definition of vpc1 in the store is not believed: host4 wrote it, and host4 is not a member of vpc1 here, so it may not change it/);

    // 2. An unsigned one (as by hand with etcdctl).
    assert.equal((await etcdctl(lab, 4, 'put', KEY, JSON.stringify(widened))).code, 0);
    await refused('unsigned', /the definition of vpc1 in the store is not believed: not signed/);

    // 3. The first definition, signed by host1 itself, written back: an old value.
    assert.equal((await etcdctl(lab, 4, 'put', KEY, JSON.stringify(first))).code, 0);
    await refused('replayed', /not believed: host1's value replaces revision \d+, older than revision \d+ this host applied \(an old value written back\)/);

    // 4. A guest in host2's name, signed by host4: nobody points 203.0.113.99 anywhere, and
    // host2's agent deletes it from under its own keys.
    const evil = '/meshvpc/v1/guest/vpc1/host2/evil';
    await signedPut(lab, evil, JSON.stringify({ name: 'evil', node: 'host2', kind: 'jail', interface: 'vpc1', ip4Addr: '203.0.113.99/24', ip6Addr: null, running: true, vcpus: 0, ramBytes: 0, diskBytes: 0 }), 0);
    await refused('a forged guest', /vpc1: this host's guests in the store were changed by another writer: written again/, [2]);
    assert.equal((await etcdctl(lab, 4, 'get', '--print-value-only', evil)).stdout.trim(), '', 'host2 took the forged guest out of its keys');

    // 5. host2's real guest deleted by host4: host2's agent writes it again, signed, and every
    // member ends as it was (c1 still reaches c2).
    const c2 = '/meshvpc/v1/guest/vpc1/host2/c2';
    assert.equal((await etcdctl(lab, 4, 'del', c2)).code, 0);
    const back = Date.now() + 20_000;
    while ((JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', c2)).stdout.trim() || '{}') as { by?: string }).by !== 'host2') {
      if (Date.now() > back) assert.fail('host2 did not write c2 again');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [i, h] of [1, 2, 3].entries()) {
      const until = Date.now() + 20_000;
      while (JSON.stringify(await state(lab, h)) !== JSON.stringify(before[i])) {
        if (Date.now() > until) assert.deepEqual(await state(lab, h), before[i], `a deleted guest key: host${h} is as it was`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    await settled();

    // 6. The definition's key deleted: a deletion cannot be signed, so nothing is taken down.
    assert.equal((await etcdctl(lab, 4, 'del', KEY)).code, 0);
    await refused('deleted', /vpc1: its definition left the store without a member's word/);

    // A member defines it again: believed, applied, and the cluster works as before.
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26'), /vpc1: 3 of 3 hosts converged/);
    await settled();
    assert.equal((await sh(lab, 4, 'ip', 'link', 'show', 'dev', 'vpc1')).code, 1, 'host4 never got vpc1');

    // 7. A member (host1, which may change vpc1) moves host3's tunnel endpoint to an address host3
    // never gave. host2 has no record of host3: it checks host3's own word in the store.
    const now = JSON.parse((await etcdctl(lab, 4, 'get', '-w', 'json', KEY)).stdout) as { kvs: { mod_revision: number; value: string }[] };
    const current7 = now.kvs[0];
    assert.ok(current7);
    const def7 = JSON.parse((JSON.parse(Buffer.from(current7.value, 'base64').toString()) as { body: string }).body) as { members: { node: string; underlay: string }[] };
    const moved = { ...def7, members: def7.members.map((m) => (m.node === 'host3' ? { ...m, underlay: '192.0.2.200' } : m)) };
    // Once the redeploy has settled everywhere (the agents take each other's guests after it).
    let steady = await Promise.all([1, 2, 3].map((h) => state(lab, h)));
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const again = await Promise.all([1, 2, 3].map((h) => state(lab, h)));
      if (JSON.stringify(again) === JSON.stringify(steady)) break;
      steady = again;
    }
    const from7 = [1, 2, 3].map((h) => readFileSync(agents.get(h)?.log ?? '', 'utf8').length);
    await signedPut(lab, KEY, JSON.stringify(moved), current7.mod_revision, 1);
    for (const [i, h] of [1, 2, 3].entries()) {
      const deadline = Date.now() + 20_000;
      while (!/member host3 of vpc1 has underlay 192\.0\.2\.200/.test(readFileSync(agents.get(h)?.log ?? '', 'utf8').slice(from7[i]))) {
        if (Date.now() > deadline) assert.fail(`host${h}'s agent did not refuse host3's moved endpoint: ${readFileSync(agents.get(h)?.log ?? '', 'utf8').slice(from7[i])}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.match(readFileSync(agents.get(2)?.log ?? '', 'utf8').slice(from7[1]), /but host3 says its addresses are 192\.0\.2\.3/);
    await new Promise((r) => setTimeout(r, 500));
    for (const [i, h] of [1, 2, 3].entries()) assert.deepEqual(await state(lab, h), steady[i], `a moved endpoint: host${h} is as it was`);
    await settled();
  } finally {
    await destroyLab(lab);
  }
});
