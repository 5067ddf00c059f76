/** The Linux driver: iproute2 for links and network namespaces as guests. */
import { observedFrom } from '../../core/observed.js';
import type { NetworkDriver, GuestSpec } from '../driver.js';
import { runChecked, type Executor } from '../exec.js';
import { linuxCommands, linuxGuestStart } from './commands.js';
import { parseIpLinks, parsePingRtt, parseRouteGet } from './parse.js';
import { nftScript } from './nft.js';
import { batchError, batchScript } from './batch.js';

export function linuxDriver(exec: Executor): NetworkDriver {
  const runAll = async (cmds: string[][]): Promise<void> => {
    if (cmds.length === 0) return;
    const result = await exec.run(['ip', '-batch', '-'], batchScript(cmds));
    if (result.code !== 0) throw batchError(cmds, result);
  };
  /** Device MTUs seen by this driver: peers on one subnet share a device, so it is read once. */
  const deviceMtu = new Map<string, number>();
  return {
    platform: 'linux',
    commandsFor: linuxCommands,
    async apply(ops) {
      await runAll(ops.flatMap(linuxCommands));
    },
    async observe() {
      return observedFrom(parseIpLinks(await runChecked(exec, ['ip', '-json', '-details', 'addr', 'show'])));
    },
    async underlayMtu(remote) {
      const route = parseRouteGet(await runChecked(exec, ['ip', '-json', 'route', 'get', remote]));
      if (route.mtu) return route.mtu;
      const known = deviceMtu.get(route.dev);
      if (known) return known;
      const [dev] = parseIpLinks(await runChecked(exec, ['ip', '-json', 'link', 'show', 'dev', route.dev]));
      if (!dev) throw new Error(`cannot read the MTU of ${route.dev}`);
      deviceMtu.set(route.dev, dev.mtu);
      return dev.mtu;
    },
    guestStartCommands: linuxGuestStart,
    async guestStart(g: GuestSpec) {
      try {
        // One by one: these use `ip -n`, a global option a batch line cannot carry.
        for (const argv of linuxGuestStart(g)) await runChecked(exec, argv);
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
