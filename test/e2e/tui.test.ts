/**
 * `meshvpc tui` in a real terminal: tmux runs it on lab host 1 (80x24), the
 * test types with send-keys and reads the screen with capture-pane. A VPC is
 * created from the form and deployed under the gauge, a refused container
 * name shows the CLI's words and the form comes back with what was typed,
 * and the container made from the form pings one on host 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventuallyReaches, joinAll, ok, withLab } from './lab-helpers.js';
import { onHost, type LabState } from '../../src/lab/lab.js';

const tmux = (socket: string, ...args: string[]): string => {
  const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

class Terminal {
  readonly socket = `mvtui${randomBytes(4).toString('hex')}`;
  constructor(lab: LabState, host: number) {
    const argv = onHost(lab, host, ['meshvpc', 'tui'], { TERM: 'xterm', MESHVPC_PASSWORD: lab.password });
    // A script of its own, so no word of argv is read by a shell on the way.
    const script = join(lab.dir, `tui-${this.socket}.sh`);
    writeFileSync(script, `exec ${argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}\n`);
    tmux(this.socket, 'new-session', '-d', '-s', 'tui', '-x', '80', '-y', '24', `sh ${script}; sleep 600`);
  }

  keys(...keys: string[]): void {
    tmux(this.socket, 'send-keys', '-t', 'tui', ...keys);
  }

  /** Type text literally (no key names). */
  type(text: string): void {
    tmux(this.socket, 'send-keys', '-t', 'tui', '-l', text);
  }

  screen(): string {
    return tmux(this.socket, 'capture-pane', '-p', '-t', 'tui');
  }

  /** Wait until the screen shows `what`; returns the screen. */
  async see(what: RegExp, seconds = 20): Promise<string> {
    const deadline = Date.now() + seconds * 1000;
    let s = '';
    while (Date.now() < deadline) {
      s = this.screen();
      if (what.test(s)) {
        // Drawn; a moment more for dialog to be reading keys.
        await new Promise((r) => setTimeout(r, 150));
        return s;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the screen never showed ${what}:\n${s}`);
  }

  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

/** Screens as the README shows them. */
const shots: Record<string, string> = {};

test('meshvpc tui: a VPC from the form, deployed under the gauge; a container from the form pings across hosts; a refused name keeps the form', { timeout: 600_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);
    // host2 has its own identical definition already; the form defines it on host1.
    await ok(lab, 2, 'vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    const t = new Terminal(lab, 1);
    try {
      shots.main = await t.see(/Choose what to work on/);
      assert.match(shots.main, /nodes\s+Nodes: the hosts of the cluster/);
      assert.match(shots.main, /vms\s+VMs on a VPC/);
      for (const line of shots.main.split('\n')) assert.ok(line.length <= 80);

      t.keys('n', 'Enter');
      shots.nodes = await t.see(/Hosts this one knows:/);
      t.keys('Escape');
      await t.see(/Choose what to work on/);
      t.keys('Down', 'Down', 'Down', 'Enter');
      shots.vms = await t.see(/This host's VMs:/);
      t.keys('Escape');
      await t.see(/Choose what to work on/);

      // VPCs > Create: the form, then the members checklist with both hosts ticked.
      t.keys('v', 'Enter');
      shots.vpcs = await t.see(/Private networks across hosts/);
      t.keys('c', 'Enter');
      await t.see(/Peer network/);
      t.type('vpc1');
      t.keys('Down');
      t.type('198.51.100.0/26');
      shots.vpcForm = t.screen();
      t.keys('Enter');
      const members = await t.see(/Hosts in the VPC/);
      shots.members = members;
      assert.match(members, /\[\*\] host1/);
      assert.match(members, /\[\*\] host2/);
      assert.match(members, /\[\*\] host3/);
      t.keys('Enter');
      // host1 had no vpc1 yet (host2 defined its own): defined here now.
      await t.see(/vpc1: defined with members host1, host2, host3/);
      t.keys('Enter');
      await t.see(/Private networks across hosts/);

      // Deploy with the gauge: one line per host, then the outcome.
      t.keys('d', 'Enter');
      await t.see(/Choose the VPC/);
      t.keys('Enter');
      shots.deploy = await t.see(/vpc1: deploy done/, 60);
      assert.match(shots.deploy, /host1: converged/);
      assert.match(shots.deploy, /host2: converged/);
      assert.match(shots.deploy, /host3: converged/);
      t.keys('Enter');
      await t.see(/Private networks across hosts/);
      t.keys('Escape');

      // Containers > Create: a refused name shows the CLI's words and the form comes back as typed.
      await t.see(/Choose what to work on/);
      t.keys('c', 'Enter');
      shots.containers = await t.see(/Containers on a VPC:/);
      t.keys('c', 'Enter');
      await t.see(/ip4_addr: A\/N, auto/);
      t.type('a;b');
      t.keys('Down', 'C-u');
      t.type('203.0.113.1/24');
      t.keys('Enter');
      await t.see(/vnet=1/);
      t.keys('Enter');
      await t.see(/The VPC its eth0 joins/);
      t.keys('Enter');
      shots.refused = await t.see(/Refused: invalid jname "a;b": use 1-32 letters/);
      t.keys('Enter');
      const again = await t.see(/ip4_addr: A\/N, auto/);
      assert.match(again, /jname\s+a;b/, 'the form keeps what was typed');
      assert.match(again, /ip4_addr\s+203\.0\.113\.1\/24/);
      t.keys('C-u');
      t.type('web1');
      shots.container = t.screen();
      t.keys('Enter');
      await t.see(/vnet=1/);
      t.keys('Enter');
      await t.see(/The VPC its eth0 joins/);
      t.keys('Enter');
      await t.see(/web1: created on host1 and started, interface vpc1, eth0 203\.0\.113\.1\/24/);
      t.keys('Enter');
    } finally {
      t.close();
    }
    await ok(lab, 2, 'jcreate', 'jname=db', 'interface=vpc1', 'ip4_addr=203.0.113.2/24', 'runasap=1');
    const ping = await eventuallyReaches(lab, 1, 'web1', '203.0.113.2');
    assert.equal(ping.code, 0, `the container made in the TUI reaches host2's: ${ping.stdout}${ping.stderr}`);
    if (process.env.MESHVPC_TUI_SHOTS) writeFileSync(process.env.MESHVPC_TUI_SHOTS, JSON.stringify(shots, null, 2));
  });
});
