/**
 * Faults: a host that does not answer during deploy, meshvpc killed with
 * SIGKILL in the middle of its work, and two deploys of one VPC at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { onHost, type LabState } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { links, mv, ok, withLab } from './lab-helpers.js';

const FAST_SSH = { MESHVPC_SSH_TIMEOUT_MS: '2000' };

/** Start meshvpc on a lab host in its own process group and SIGKILL the group after `ms`. */
function killAfter(lab: LabState, host: number, args: string[], ms: number): Promise<string> {
  const [cmd, ...rest] = onHost(lab, host, ['meshvpc', ...args]);
  return new Promise((resolve) => {
    const child = spawn(cmd as string, rest, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already finished
      }
    }, ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(`${signal ?? code}: ${out}`);
    });
  });
}

test('an unreachable host is named, the others converge, and a later deploy heals', { timeout: 180_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    const sshd3 = String(lab.hosts[2]?.pid);
    await systemExecutor.run(['kill', '-STOP', sshd3]);
    try {
      const d = await systemExecutor.run(onHost(lab, 1, ['meshvpc', 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26'], FAST_SSH));
      assert.notEqual(d.code, 0, 'exit status says not everything converged');
      assert.match(d.stdout, /host3: UNREACHABLE: cannot reach host3 \(192\.0\.2\.3/);
      assert.match(d.stdout, /host2: converged,/);
      assert.match(d.stdout, /vpc1: 2 of 3 hosts converged/);
      assert.equal((await links(lab, 1, 'type', 'vxlan')).length, 2);
      assert.equal((await links(lab, 2, 'type', 'vxlan')).length, 2);
      assert.equal((await links(lab, 3, 'type', 'vxlan')).length, 0);
    } finally {
      await systemExecutor.run(['kill', '-CONT', sshd3]);
    }
    const healed = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    assert.match(healed, /vpc1: 3 of 3 hosts converged/);
    assert.equal((await links(lab, 3, 'type', 'vxlan')).length, 2);
    const status = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json')) as { up: boolean; rtt_ms: number | null }[];
    assert.equal(status.length, 6);
    for (const s of status) assert.ok(s.up && s.rtt_ms !== null, JSON.stringify(s));
  });
});

test('SIGKILL at any point of init_peers, sync or deploy leaves a state the next run converges from', { timeout: 300_000 }, async (t) => {
  await withLab(3, 'v4', async (lab) => {
    for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    await ok(lab, 1, 'vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    const outcomes: string[] = [];
    for (const [i, ms] of [20, 60, 120, 200, 300, 450, 700].entries()) {
      const mode = i % 3 === 0 ? 'init_peers' : i % 3 === 1 ? 'sync' : 'deploy';
      outcomes.push(`${mode}@${ms}ms -> ${(await killAfter(lab, 1, ['vpc', `mode=${mode}`, 'vpc_name=vpc1'], ms)).split('\n')[0]}`);
      // After each kill, a normal deploy converges everything.
      const r = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
      assert.equal(r.code, 0, `after ${outcomes.at(-1)}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /vpc1: 3 of 3 hosts converged/);
      for (const h of [1, 2, 3]) {
        const tunnels = await links(lab, h, 'type', 'vxlan');
        assert.equal(tunnels.length, 2, `host${h} after ${outcomes.at(-1)}`);
        for (const t of tunnels) assert.equal(t.master, 'vpc1');
      }
      // The map never changed: kills cannot renumber.
      const map = JSON.parse(await ok(lab, 2, 'vpc', 'mode=init_peers', 'vpc_name=vpc1', 'dryrun=1', '--json')) as { vni: number }[];
      assert.deepEqual(map.map((p) => p.vni), [100, 101, 102]);
    }
    for (const o of outcomes) t.diagnostic(o.replace(/\s+/g, ' ').slice(0, 160));
    // A deploy killed half way on a fresh VPC, then run again.
    await killAfter(lab, 1, ['vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26'], 250);
    const again = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=all', 'peer_network=198.51.100.64/26');
    assert.match(again, /vpc2: 3 of 3 hosts converged/);
    for (const h of [1, 2, 3]) assert.equal((await links(lab, h, 'type', 'vxlan')).length, 4);
  });
});

test('two deploys of one VPC at once never interleave; both report clearly', { timeout: 180_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    for (const o of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=192.0.2.${o}`);
    const args = ['vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26'];
    const [a, b] = await Promise.all([mv(lab, 1, ...args), mv(lab, 1, ...args)]);
    for (const r of [a, b]) {
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /vpc1: 3 of 3 hosts converged/);
    }
    const changed = [a, b].map((r) => Number(/converged, (\d+) change/.exec(r.stdout)?.[1]));
    // One did the work, the other waited for the lock and found nothing to do.
    assert.equal(changed.filter((n) => n === 0).length, 1, `changes: ${changed.join(', ')}`);
    assert.equal(changed.filter((n) => n > 0).length, 1, `changes: ${changed.join(', ')}`);

    // A deploy that cannot get the lock in time fails clearly, naming the holder.
    const [cmd, ...rest] = onHost(lab, 1, ['meshvpc', 'vpc', 'mode=deploy', 'vpc_name=vpc1']);
    const first = spawn(cmd as string, rest, { detached: true, stdio: 'ignore' });
    const db = new Database(join(lab.hosts[0]?.dir ?? '', 'db', 'meshvpc.sqlite'), { readonly: true });
    try {
      let held = false;
      for (let i = 0; i < 200 && !held; i++) {
        held = db.prepare("SELECT 1 FROM lock WHERE name = 'op:vpc1'").get() !== undefined;
        if (!held) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(held, 'the first deploy took the lock');
      process.kill(-(first.pid as number), 'SIGSTOP');
      const second = await systemExecutor.run(onHost(lab, 1, ['meshvpc', ...args], { MESHVPC_LOCK_TIMEOUT_MS: '1500' }));
      assert.equal(second.code, 4);
      assert.match(second.stderr, /^meshvpc: op:vpc1 is busy: pid \d+ \(vpc mode=deploy\) has held it since .* UTC; try again later\n$/);
    } finally {
      process.kill(-(first.pid as number), 'SIGCONT');
      db.close();
    }
    await new Promise((r) => first.on('close', r));
    assert.match(await ok(lab, 1, ...args), /vpc1: 3 of 3 hosts converged, 0 changes/);
  });
});
