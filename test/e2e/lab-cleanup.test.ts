/** The lab leaves nothing behind, even when the test inside it fails. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { systemExecutor } from '../../src/platform/exec.js';
import type { LabState } from '../../src/lab/lab.js';
import { ok, shOk, withLab } from './lab-helpers.js';

test('a failing test still tears its lab down', { timeout: 120_000 }, async () => {
  let seen: LabState | null = null;
  let pids: number[] = [];
  await assert.rejects(
    withLab(2, 'v4', async (lab) => {
      seen = lab;
      pids = lab.hosts.map((h) => h.pid);
      await ok(lab, 1, 'node', 'mode=add', 'node=192.0.2.2');
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
      await ok(lab, 1, 'jcreate', 'jname=j1', 'interface=vpc1', 'vnet=1', 'runasap=1', 'ip4_addr=203.0.113.1/24');
      // A process left running inside a container must not keep anything alive.
      await ok(lab, 1, 'jexec', 'jname=j1', 'sh', '-c', 'sleep 600 >/dev/null 2>&1 &');
      throw new Error('deliberate failure');
    }),
    /deliberate failure/,
  );
  const lab = seen as LabState | null;
  assert.ok(lab);
  const netns = (await systemExecutor.run(['ip', 'netns', 'list'])).stdout;
  assert.equal(netns.includes(`mvl${lab.id}`), false, `namespaces left: ${netns}`);
  for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `sshd ${pid} still running`);
  const sleepers = (await systemExecutor.run(['pgrep', '-f', 'sleep 600'])).stdout.trim();
  assert.equal(sleepers, '', 'processes started inside a container are gone');
  assert.equal(existsSync(lab.dir), false, 'lab directory removed');
});

test('a 64-host lab fits the shared neighbour tables and leaves nothing behind', { timeout: 300_000 }, async () => {
  let seen: LabState | null = null;
  let pids: number[] = [];
  await withLab(64, 'v4', async (lab) => {
    seen = lab;
    pids = lab.hosts.map((h) => h.pid);
    // Every host knows every other host's underlay address by a permanent entry (not counted by gc_thresh3).
    for (const h of [1, 33, 64]) {
      const neigh = JSON.parse(await shOk(lab, h, 'ip', '-json', 'neigh', 'show', 'dev', 'eth0', 'nud', 'permanent')) as { dst: string }[];
      assert.equal(neigh.length, 63, `host${h}`);
      assert.ok(!neigh.some((n) => n.dst === `192.0.2.${h}`), 'none for itself');
    }
    await shOk(lab, 1, 'ping', '-c', '1', '-W', '2', '192.0.2.64');
    await ok(lab, 64, 'node', 'mode=list');
  });
  const lab = seen as LabState | null;
  assert.ok(lab);
  const netns = (await systemExecutor.run(['ip', 'netns', 'list'])).stdout;
  assert.equal(netns.includes(`mvl${lab.id}`), false, `namespaces left: ${netns}`);
  for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `sshd ${pid} still running`);
  const mounts = (await systemExecutor.run(['sh', '-c', 'cat /proc/[0-9]*/mountinfo 2>/dev/null'])).stdout;
  assert.equal(mounts.includes(lab.dir), false, 'no mount of the lab directory is left in any process');
  assert.equal(existsSync(lab.dir), false, 'lab directory removed');
});
