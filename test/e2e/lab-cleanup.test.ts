/** The lab leaves nothing behind, even when the test inside it fails. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { systemExecutor } from '../../src/platform/exec.js';
import type { LabState } from '../../src/lab/lab.js';
import { ok, withLab } from './lab-helpers.js';

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
