/**
 * A remote call that loses its peer mid-way returns: kill -9 of the peer's
 * sshd session while its `meshvpc remote` runs (frozen first, so the call is
 * surely in flight) is reported naming the host, well within the deadline,
 * and leaves no lock behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshvpc, type LabState } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { cmdline, joinAll, ok, pidsOnHost, ppid, withLab } from './lab-helpers.js';

/** Wait for a `meshvpc remote` on a lab host, freeze it, kill -9 its sshd session; returns the frozen pid. */
async function killSessionOfNextRemote(lab: LabState, host: number): Promise<string> {
  const h = lab.hosts[host - 1];
  if (!h) throw new Error('no such host');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const pids = await pidsOnHost(lab, host);
    const remote = pids.find((p) => / remote caller=/.test(cmdline(p)) && /meshvpc/.test(cmdline(p)));
    if (remote) {
      await systemExecutor.run(['kill', '-STOP', remote]);
      // Its ancestors up to (not including) the host's listening sshd are the session.
      const session: string[] = [];
      for (let p = ppid(remote); p !== '0' && p !== '1' && p !== String(h.pid); p = ppid(p)) session.push(p);
      assert.ok(session.length > 0, `no sshd session above ${remote}`);
      await systemExecutor.run(['kill', '-KILL', ...session]);
      return remote;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no meshvpc remote appeared on host${host}`);
}

const DEADLINE_MS = 60_000;

for (const mode of ['status', 'deploy'] as const) {
  test(`kill -9 of a peer's sshd session during ${mode}: the caller returns naming the host, and the lock is free`, { timeout: 180_000 }, async () => {
    await withLab(3, 'v4', async (lab) => {
      await joinAll(lab);
      await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
      const started = Date.now();
      const call = meshvpc(lab, 1, ['vpc', `mode=${mode}`, 'vpc_name=vpc1'], { MESHVPC_CALL_DEADLINE_MS: String(DEADLINE_MS) });
      let frozen = '';
      try {
        frozen = await killSessionOfNextRemote(lab, 2);
        const r = await call;
        const took = Date.now() - started;
        assert.ok(took < DEADLINE_MS / 2, `returned after ${took} ms; the session's death must be noticed, not waited out`);
        assert.notEqual(r.code, 0, `${mode} must report the lost host: ${r.stdout}${r.stderr}`);
        assert.match(`${r.stdout}${r.stderr}`, /host2: (UNREACHABLE: )?(lost host2|cannot reach host2)/);
      } finally {
        if (frozen) await systemExecutor.run(['kill', '-KILL', frozen]);
      }
      // No lock left behind: the next deploy runs at once and converges all three hosts.
      const again = await meshvpc(lab, 1, ['vpc', 'mode=deploy', 'vpc_name=vpc1'], { MESHVPC_LOCK_TIMEOUT_MS: '1000' });
      assert.equal(again.code, 0, again.stderr + again.stdout);
      assert.match(again.stdout, /vpc1: 3 of 3 hosts converged/);
    });
  });
}
