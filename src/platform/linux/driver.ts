/** The Linux driver: iproute2 for links and network namespaces as guests. */
import { observedFrom } from '../../core/observed.js';
import type { NetworkDriver, GuestSpec } from '../driver.js';
import { runChecked, type Executor } from '../exec.js';
import { linuxCommands, linuxGuestSetup, linuxGuestStart, linuxNetnsAdd } from './commands.js';
import { guestAlias } from '../../core/spec.js';
import { parseIpLinks, parsePingRtt, parseRouteGet } from './parse.js';
import { NFT_COMMENT, NFT_TABLE, nftScript, nftTableIsOurs } from './nft.js';
import { UserError } from '../../core/errors.js';
import { batchError, batchScript } from './batch.js';
import { linuxVm, probeKvm } from './vm.js';
import { applyWireguard, wgImplOf } from './wireguard.js';
import { parseWgDump } from '../wg-dump.js';
import { fdbCommands, linuxFdb } from './fdb.js';

/**
 * A namespace's identity: the inode of its nsfs file (device:inode), which
 * tells the namespace meshvpc made from one someone else made under the same
 * name later. Null when no namespace has the name.
 */
async function netnsIdentity(exec: Executor, name: string): Promise<string | null> {
  const r = await exec.run(['stat', '-L', '-c', '%d:%i', `/run/netns/${name}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

export function linuxDriver(exec: Executor): NetworkDriver {
  const runAll = async (cmds: string[][]): Promise<void> => {
    if (cmds.length === 0) return;
    const result = await exec.run(['ip', '-batch', '-'], batchScript(cmds));
    if (result.code !== 0) throw batchError(cmds, result);
  };
  /** Device MTUs seen by this driver: peers on one subnet share a device, so it is read once. */
  const deviceMtu = new Map<string, number>();
  const routeMtu = async (remote: string): Promise<number> => {
    const route = parseRouteGet(await runChecked(exec, ['ip', '-json', 'route', 'get', remote]));
    if (route.mtu) return route.mtu;
    const known = deviceMtu.get(route.dev);
    if (known) return known;
    const [dev] = parseIpLinks(await runChecked(exec, ['ip', '-json', 'link', 'show', 'dev', route.dev]));
    if (!dev) throw new Error(`cannot read the MTU of ${route.dev}`);
    deviceMtu.set(route.dev, dev.mtu);
    return dev.mtu;
  };
  /** Path MTU per underlay address, for the life of this driver (one command). */
  const pathMtu = new Map<string, number>();
  const cachedMtu = async (remote: string): Promise<number> => {
    // One command plans more than once (a check before its lock, then the plan it applies): ask the kernel once.
    const cached = pathMtu.get(remote);
    if (cached !== undefined) return cached;
    const mtu = await routeMtu(remote);
    pathMtu.set(remote, mtu);
    return mtu;
  };
  return {
    platform: 'linux',
    commandsFor: linuxCommands,
    async apply(ops) {
      await runAll(ops.flatMap(linuxCommands));
    },
    async observe() {
      return observedFrom(parseIpLinks(await runChecked(exec, ['ip', '-json', '-details', '-stats', 'addr', 'show'])));
    },
    underlayMtu: cachedMtu,
    async underlayMtus(remotes) {
      const todo = [...new Set(remotes)].filter((a) => !pathMtu.has(a));
      if (todo.length > 1) {
        // One `ip -json -batch` answers every `route get` (a line of JSON each) in one process.
        // Anything unexpected (a missing route stops the batch) falls back to one address at a time,
        // whose errors name the address.
        try {
          const r = await exec.run(['ip', '-json', '-batch', '-'], todo.map((a) => `route get ${a}\n`).join(''));
          const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
          if (r.code === 0 && lines.length === todo.length) {
            const routes = lines.map(parseRouteGet);
            for (const [i, route] of routes.entries()) {
              let mtu = route.mtu ?? deviceMtu.get(route.dev);
              if (mtu === undefined) {
                const [dev] = parseIpLinks(await runChecked(exec, ['ip', '-json', 'link', 'show', 'dev', route.dev]));
                if (!dev) throw new Error(`cannot read the MTU of ${route.dev}`);
                deviceMtu.set(route.dev, dev.mtu);
                mtu = dev.mtu;
              }
              pathMtu.set(todo[i] as string, mtu);
            }
          }
        } catch {
          // One at a time below.
        }
      }
      const out = new Map<string, number>();
      for (const a of remotes) out.set(a, await cachedMtu(a));
      return out;
    },
    guestStartCommands: linuxGuestStart,
    async guestIdentity(name) {
      return netnsIdentity(exec, name);
    },
    async guestStart(g: GuestSpec) {
      // `ip netns add` refuses a name that exists: then nothing here is ours and nothing is undone.
      await runChecked(exec, linuxNetnsAdd(g));
      const identity = await netnsIdentity(exec, g.name);
      if (!identity) throw new Error(`network namespace ${g.name} vanished right after it was created`);
      try {
        // One by one: these use `ip -n`, a global option a batch line cannot carry.
        for (const argv of linuxGuestSetup(g)) await runChecked(exec, argv);
      } catch (e) {
        await this.guestStop(g, identity);
        throw e;
      }
      return identity;
    },
    async guestStop(g: GuestSpec, identity: string | null) {
      const spared: string[] = [];
      for (const hostIf of [g.hostIf, ...(g.extra ?? []).map((n) => n.hostIf)]) {
        const port = parseIpLinks((await exec.run(['ip', '-json', 'link', 'show', 'dev', hostIf])).stdout || '[]')[0];
        if (port && port.alias === guestAlias(g.name)) await exec.run(['ip', 'link', 'del', 'dev', hostIf]);
        else if (port) spared.push(`interface ${hostIf}`);
      }
      const now = await netnsIdentity(exec, g.name);
      if (now === null) return spared;
      if (identity === null || now !== identity) return [...spared, `network namespace ${g.name}`];
      // Processes left inside keep a namespace alive after its name is gone.
      const pids = await exec.run(['ip', 'netns', 'pids', g.name]);
      const list = pids.code === 0 ? pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
      if (list.length > 0) await exec.run(['kill', '-KILL', ...list]);
      await exec.run(['ip', 'netns', 'del', g.name]);
      return spared;
    },
    async runningGuests() {
      const out = await runChecked(exec, ['ip', '-json', 'netns', 'list']);
      const list = out.trim() === '' ? [] : (JSON.parse(out) as { name: string }[]);
      return list.map((n) => n.name);
    },
    guestExecArgv: (name, argv) => ['ip', 'netns', 'exec', name, ...argv],
    vm: { ...linuxVm(exec), accel: (kernel, scratch) => probeKvm(exec, kernel, scratch) },
    fdb: { ...linuxFdb(exec), commandsFor: fdbCommands },
    seal: {
      async observe(name) {
        const r = await exec.run(['wg', 'show', name, 'dump']);
        return r.code === 0 ? parseWgDump(r.stdout) : null;
      },
      apply: (ops) => applyWireguard(exec, ops, linuxCommands),
      async impl(name) {
        const impl = await wgImplOf(exec, name);
        return impl === 'kernel' ? 'wireguard (kernel)' : impl;
      },
    },
    firewall: {
      describe: nftScript,
      async apply(policy) {
        const listed = await exec.run(['nft', 'list', 'table', 'inet', NFT_TABLE]);
        if (listed.code === 0 && !nftTableIsOurs(listed.stdout)) {
          if (!policy.enforce && policy.sealed.length === 0) return; // nothing to install, and it is not ours to remove
          throw new UserError(`nftables table inet ${NFT_TABLE} exists and is not meshvpc's (no comment "${NFT_COMMENT}"): meshvpc will not replace it; rename it, or turn the VXLAN firewall off with firewall=0`);
        }
        await runChecked(exec, ['nft', '-f', '-'], nftScript(policy));
      },
    },
    async pingDf(address, size) {
      // -M do: don't fragment, and no local fragmentation either; -s is the ICMP payload (IP + ICMP headers come on top).
      const payload = size - (address.includes(':') ? 48 : 28);
      const r = await exec.run(['ping', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(payload), address]);
      return r.code === 0;
    },
    async ping(address) {
      // Three tries: the first echo may wait on neighbour resolution across the tunnel.
      const r = await exec.run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', address]);
      return r.code === 0 ? parsePingRtt(r.stdout) : null;
    },
  };
}
