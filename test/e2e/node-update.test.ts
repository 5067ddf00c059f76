/**
 * node mode=update: a member's underlay address moves. Every host knows every
 * other (as the article joins them), so the third host must check the new
 * address with the moved host itself before it accepts definitions showing
 * it. The tunnels follow in place (same ifindex), containers keep talking
 * after the old address is gone, and bad values change nothing anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshvpc, type LabState } from '../../src/lab/lab.js';
import { eventuallyReaches, joinAll, links, mv, ok, shOk, snapshot, withLab } from './lab-helpers.js';

const guest = (h: number): string => `203.0.113.${h}`;
const OLD = '192.0.2.2';
const NEW = '192.0.2.102';

interface Tunnel {
  readonly ifindex: number;
  readonly vni: number;
  readonly local: string;
  readonly remote: string;
  readonly alias: string;
}

async function tunnels(lab: LabState, host: number): Promise<Map<string, Tunnel>> {
  const list = await links(lab, host, 'type', 'vxlan');
  return new Map(
    list.map((l) => {
      const d = l.linkinfo?.info_data ?? {};
      return [l.ifname, { ifindex: l.ifindex, vni: Number(d.id), local: String(d.local), remote: String(d.remote), alias: l.ifalias ?? '' }];
    }),
  );
}

/** Everything a refused command must leave alone on every host (minus the sshd sessions that come and go). */
async function state(lab: LabState): Promise<unknown[]> {
  const all = [];
  for (const h of lab.hosts) {
    const snap = await snapshot(lab, h.index);
    delete snap.pids;
    all.push(snap);
  }
  return all;
}

/** `node mode=update` on host1 must fail with one line matching `message`, the given exit status, and no change. */
async function refused(lab: LabState, args: string[], message: RegExp, code: number, env: Record<string, string> = {}): Promise<void> {
  const before = await state(lab);
  const r = await meshvpc(lab, 1, ['node', 'mode=update', ...args], env);
  const what = `node mode=update ${args.join(' ')}`;
  assert.equal(r.code, code, `${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one-line error, got ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0] ?? '', message, what);
  assert.deepEqual(await state(lab), before, `${what} changed something`);
}

/** A ping inside a container that runs while something else happens; summarised when it ends. */
function pingFor(lab: LabState, host: number, target: string, count: number): Promise<{ sent: number; received: number }> {
  return mv(lab, host, 'jexec', `jname=j${host}`, 'ping', '-n', '-i', '0.05', '-c', String(count), '-W', '1', target).then((r) => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
  });
}

test('a member\'s address moves: node mode=update re-points every tunnel in place', { timeout: 300_000 }, async (t) => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=j${h}`, `ip4_addr=${guest(h)}/24`, 'interface=vpc1', 'vnet=1', 'runasap=1');
    for (const h of [1, 2, 3]) assert.equal((await eventuallyReaches(lab, h, `j${h}`, guest((h % 3) + 1))).code, 0);
    const before = new Map<number, Map<string, Tunnel>>();
    for (const h of [1, 2, 3]) before.set(h, await tunnels(lab, h));

    // Bad values: one line, non-zero exit, nothing changed on any host.
    await refused(lab, ['node=host2', 'ip=999.1.1.1'], /^meshvpc: invalid ip "999\.1\.1\.1": use an IPv4 address such as 192\.0\.2\.10$/, 2);
    await refused(lab, ['node=host2', 'ip=192.0.2.3'], /^meshvpc: ip=192\.0\.2\.3 is already host3's address \(meshvpc node mode=list\); nothing was changed$/, 2);
    await refused(lab, ['node=host2', 'ip=192.0.2.1'], /^meshvpc: ip=192\.0\.2\.1 is already host1's \(this host's own\) address/, 2);
    await refused(lab, ['node=host2', 'ip=198.51.100.9'], /^meshvpc: ip=198\.51\.100\.9 lies in 198\.51\.100\.0\/26, the peer network of vpc1/, 2);
    await refused(lab, ['node=host2', 'ip=127.0.0.2'], /^meshvpc: invalid ip "127\.0\.0\.2": it is a loopback/, 2);
    await refused(lab, ['node=host2'], /^meshvpc: say what changed: node mode=update node=host2 ip=ADDR/, 2);
    await refused(lab, ['node=host9', 'ip=192.0.2.9'], /^meshvpc: unknown node "host9"/, 2);
    await refused(lab, ['node=host1', 'ip=192.0.2.9'], /^meshvpc: host1 is this host: change its own addresses with meshvpc initenv/, 2);
    // Nobody answers there yet.
    await refused(lab, ['node=host2', `ip=${NEW}`], /^meshvpc: host2 did not answer at 192\.0\.2\.102:22: /, 1, { MESHVPC_SSH_TIMEOUT_MS: '3000' });
    // Someone else answers there: the pinned host key says it is not host2.
    await shOk(lab, 3, 'ip', 'addr', 'add', '192.0.2.103/24', 'dev', 'eth0');
    await refused(lab, ['node=host2', 'ip=192.0.2.103'], /^meshvpc: host2 did not answer at 192\.0\.2\.103:22: the host there is not host2: host key of host2 \(192\.0\.2\.103\) has changed: pinned SHA256:\S+, offered SHA256:\S+$/, 3);
    await shOk(lab, 3, 'ip', 'addr', 'del', '192.0.2.103/24', 'dev', 'eth0');

    // host2 moves: a second address on its interface (kept when the first goes: promote_secondaries).
    await shOk(lab, 2, 'sysctl', '-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=1');
    await shOk(lab, 2, 'ip', 'addr', 'add', `${NEW}/24`, 'dev', 'eth0');
    // It answers there, but a host speaks for its own addresses: its own initenv comes first.
    await refused(lab, ['node=host2', `ip=${NEW}`], /^meshvpc: host2 answers at 192\.0\.2\.102:22 but says its own address is IPv4 192\.0\.2\.2: run meshvpc initenv nodename=host2 nodeip=192\.0\.2\.102 on host2 first/, 2);
    await ok(lab, 2, 'initenv', 'nodename=host2', `nodeip=${NEW}`);

    // dryrun: what would change, and nothing does.
    const dryBefore = await state(lab);
    const dry = await ok(lab, 1, 'node', 'mode=update', 'node=host2', `ip=${NEW}`, 'dryrun=1');
    assert.match(dry, /^\[dryrun\] host2: ssh root@192\.0\.2\.2:22 -> root@192\.0\.2\.102:22, ip4 192\.0\.2\.2 -> 192\.0\.2\.102$/m);
    assert.match(dry, /^\[dryrun\] vpc1: host2's underlay 192\.0\.2\.2 -> 192\.0\.2\.102$/m);
    assert.match(dry, /^\[dryrun\] ip link set dev vxlan\d+ type vxlan local 192\.0\.2\.1 remote 192\.0\.2\.102$/m);
    assert.doesNotMatch(dry, /ip link (add|del)/);
    assert.deepEqual(await state(lab), dryBefore, 'dryrun changed something');

    // The update, from host1 only, with containers talking across it.
    const during = pingFor(lab, 1, guest(2), 200);
    await new Promise((r) => setTimeout(r, 500));
    const out = await ok(lab, 1, 'node', 'mode=update', 'node=host2', `ip=${NEW}`);
    assert.match(out, /^host2: answers at 192\.0\.2\.102:22 \(meshvpc \S+\)$/m);
    assert.match(out, /^ {2}host3: record updated/m, 'host3 checked the new address with host2 itself');
    assert.match(out, /^vpc1: 3 of 3 hosts converged/m);
    assert.match(out, /^host2: updated \(ssh root@192\.0\.2\.2:22 -> root@192\.0\.2\.102:22, ip4 192\.0\.2\.2 -> 192\.0\.2\.102\); re-applied vpc1 on 3 of 3 hosts$/m);
    const pinged = await during;
    t.diagnostic(`j1 -> j2 during the update: ${pinged.received} of ${pinged.sent} echoes answered`);
    assert.ok(pinged.received > 0);

    // The old address goes: everything now runs over the new one.
    await shOk(lab, 2, 'ip', 'addr', 'del', `${OLD}/24`, 'dev', 'eth0');
    assert.match(await shOk(lab, 2, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'), /inet 192\.0\.2\.102\/24/);
    for (const h of [1, 2, 3]) {
      for (const o of [1, 2, 3].filter((x) => x !== h)) {
        const r = await eventuallyReaches(lab, h, `j${h}`, guest(o));
        assert.equal(r.code, 0, `j${h} reaches j${o} after the move: ${r.stdout}`);
      }
    }
    // Not re-created: every tunnel kept its interface and VXLAN id; only the endpoints moved.
    for (const h of [1, 2, 3]) {
      const now = await tunnels(lab, h);
      assert.equal(now.size, 2, `host${h} has its 2 tunnels`);
      for (const [name, was] of before.get(h) ?? []) {
        const is = now.get(name);
        assert.ok(is, `host${h} still has ${name}`);
        assert.equal(is.ifindex, was.ifindex, `host${h} ${name} kept its ifindex`);
        assert.equal(is.vni, was.vni, `host${h} ${name} kept its VXLAN id`);
        const toHost2 = was.alias === 'tunnel-to-host2';
        assert.equal(is.remote, toHost2 ? NEW : was.remote, `host${h} ${name} remote`);
        assert.equal(is.local, h === 2 ? NEW : was.local, `host${h} ${name} local`);
      }
    }
    // host3 learned it from host2 itself and holds the new definition.
    const nodes3 = JSON.parse(await ok(lab, 3, 'node', 'mode=list', '--json')) as { name: string; ip4: string; ssh: string }[];
    const host2 = nodes3.find((n) => n.name === 'host2');
    assert.deepEqual([host2?.ip4, host2?.ssh], [NEW, `root@${NEW}:22`]);
    const vpc3 = JSON.parse(await ok(lab, 3, 'vpc', 'mode=show', 'vpc_name=vpc1')) as { members: { node: string; underlay: string }[] };
    assert.equal(vpc3.members.find((m) => m.node === 'host2')?.underlay, NEW);
    assert.match(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1'), /host2/);

    // Running it on the other host too (as one would without the relay) changes nothing more.
    const again = await ok(lab, 3, 'node', 'mode=update', 'node=host2', `ip=${NEW}`);
    assert.match(again, /^host2: unchanged \(its record already says this\); re-applied vpc1 on 3 of 3 hosts$/m);
    for (const h of [1, 2, 3]) {
      const now = await tunnels(lab, h);
      for (const [name, was] of before.get(h) ?? []) assert.equal(now.get(name)?.ifindex, was.ifindex, `host${h} ${name} untouched by the second run`);
    }
  });
});
