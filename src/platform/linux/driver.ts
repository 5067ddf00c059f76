/** The Linux driver: iproute2 for links and network namespaces as guests. */
import { observedFrom } from '../../core/observed.js';
import type { NetworkDriver, GuestSpec } from '../driver.js';
import { runChecked, type Executor } from '../exec.js';
import { linuxCommands, linuxGuestStart } from './commands.js';
import { parseIpLinks, parsePingRtt, parseRouteGet } from './parse.js';
import { nftScript } from './nft.js';

export function linuxDriver(exec: Executor): NetworkDriver {
  const runAll = async (cmds: string[][]): Promise<void> => {
    for (const argv of cmds) await runChecked(exec, argv);
  };
  return {
    platform: 'linux',
    commandsFor: linuxCommands,
    async apply(ops) {
      for (const op of ops) await runAll(linuxCommands(op));
    },
    async observe() {
      return observedFrom(parseIpLinks(await runChecked(exec, ['ip', '-json', '-details', 'addr', 'show'])));
    },
    async underlayMtu(remote) {
      const route = parseRouteGet(await runChecked(exec, ['ip', '-json', 'route', 'get', remote]));
      if (route.mtu) return route.mtu;
      const [dev] = parseIpLinks(await runChecked(exec, ['ip', '-json', 'link', 'show', 'dev', route.dev]));
      if (!dev) throw new Error(`cannot read the MTU of ${route.dev}`);
      return dev.mtu;
    },
    guestStartCommands: linuxGuestStart,
    async guestStart(g: GuestSpec) {
      try {
        await runAll(linuxGuestStart(g));
      } catch (e) {
        await this.guestStop(g);
        throw e;
      }
    },
    async guestStop(g: GuestSpec) {
      // Processes left inside keep a namespace alive after its name is gone.
      const pids = await exec.run(['ip', 'netns', 'pids', g.name]);
      const list = pids.code === 0 ? pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
      if (list.length > 0) await exec.run(['kill', '-KILL', ...list]);
      await exec.run(['ip', 'link', 'del', 'dev', g.hostIf]);
      await exec.run(['ip', 'netns', 'del', g.name]);
    },
    async runningGuests() {
      const out = await runChecked(exec, ['ip', '-json', 'netns', 'list']);
      const list = out.trim() === '' ? [] : (JSON.parse(out) as { name: string }[]);
      return list.map((n) => n.name);
    },
    guestExecArgv: (name, argv) => ['ip', 'netns', 'exec', name, ...argv],
    firewall: {
      describe: nftScript,
      async apply(policy) {
        await runChecked(exec, ['nft', '-f', '-'], nftScript(policy));
      },
    },
    async ping(address) {
      // Three tries: the first echo may wait on neighbour resolution across the tunnel.
      const r = await exec.run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', address]);
      return r.code === 0 ? parsePingRtt(r.stdout) : null;
    },
  };
}
