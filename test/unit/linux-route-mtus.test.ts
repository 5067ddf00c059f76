/**
 * The Linux driver asks for the MTU of every peer's route in one `ip -json
 * -batch` (a 64-member VPC plans 63 tunnels per host: one process instead of
 * 63), reads a device's MTU once, and falls back to one address at a time
 * when the batch does not answer line for line (a missing route stops it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import type { Executor, ExecResult } from '../../src/platform/exec.js';

const ROUTES: Record<string, string> = {
  '192.0.2.2': '{"dst":"192.0.2.2","dev":"eth0","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[]}',
  '192.0.2.3': '{"dst":"192.0.2.3","dev":"eth0","prefsrc":"192.0.2.1","flags":[],"uid":0,"cache":[]}',
  '192.0.2.4': '{"dst":"192.0.2.4","dev":"eth1","prefsrc":"192.0.2.1","metrics":[{"mtu":1400}],"flags":[],"uid":0,"cache":[]}',
};

function fake(batchWorks: boolean): { exec: Executor; calls: string[] } {
  const calls: string[] = [];
  const exec: Executor = {
    async run(argv, input): Promise<ExecResult> {
      calls.push(argv.join(' '));
      const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });
      if (argv.join(' ') === 'ip -json -batch -') {
        if (!batchWorks) return { code: 1, stdout: '', stderr: 'Command failed -:2' };
        const lines = (input ?? '').split('\n').filter((l) => l !== '');
        return ok(lines.map((l) => `[${ROUTES[l.replace('route get ', '')] ?? ''}]\n`).join(''));
      }
      if (argv.slice(0, 4).join(' ') === 'ip -json route get') return ok(`[${ROUTES[argv[4] as string] ?? ''}]`);
      if (argv.slice(0, 5).join(' ') === 'ip -json link show dev') return ok(`[{"ifindex":2,"ifname":"${argv[5]}","mtu":1500,"flags":["UP"],"operstate":"UP"}]`);
      return { code: 1, stdout: '', stderr: `unexpected ${argv.join(' ')}` };
    },
  };
  return { exec, calls };
}

test('one batch answers every route; a device MTU is read once', async () => {
  const { exec, calls } = fake(true);
  const d = linuxDriver(exec);
  const mtus = await d.underlayMtus?.(['192.0.2.2', '192.0.2.3', '192.0.2.4']);
  assert.deepEqual(mtus && Object.fromEntries(mtus), { '192.0.2.2': 1500, '192.0.2.3': 1500, '192.0.2.4': 1400 });
  assert.deepEqual(calls, ['ip -json -batch -', 'ip -json link show dev eth0']);
  // Asked again within the same command: nothing more is run.
  assert.equal(await d.underlayMtu('192.0.2.3'), 1500);
  assert.equal(calls.length, 2);
});

test('a batch that does not answer line for line falls back to one route at a time', async () => {
  const { exec, calls } = fake(false);
  const mtus = await linuxDriver(exec).underlayMtus?.(['192.0.2.2', '192.0.2.4']);
  assert.deepEqual(mtus && Object.fromEntries(mtus), { '192.0.2.2': 1500, '192.0.2.4': 1400 });
  assert.deepEqual(calls, ['ip -json -batch -', 'ip -json route get 192.0.2.2', 'ip -json link show dev eth0', 'ip -json route get 192.0.2.4']);
});
