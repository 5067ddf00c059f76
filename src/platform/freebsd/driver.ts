/** The FreeBSD driver: ifconfig for links, vnet jails as guests, bhyve VMs (vm.ts). */
import { observedFrom, type Observed } from '../../core/observed.js';
import type { Op } from '../../core/ops.js';
import type { GuestSpec, NetworkDriver } from '../driver.js';
import { CommandError, runChecked, type Executor } from '../exec.js';
import {
  bridgeCloneCommand,
  wgCloneCommand,
  wgSetupCommands,
  bridgeSetupCommands,
  epairCloneCommand,
  freebsdGuestStart,
  freebsdOpCommands,
  guestSetupCommands,
  jlsCommand,
  jlsIdsCommand,
  kldloadCommand,
  needsModules,
  observeCommand,
  pingCommand,
  routeGetCommand,
} from './commands.js';
import { parseWgDump } from '../wg-dump.js';
import { parseClonedName, parseIfconfig, parseJlsIds, parseJlsJson, parsePingRtt, parseRouteGet } from './parse.js';
import { guestAlias } from '../../core/spec.js';
import { freebsdVm } from './vm.js';

/**
 * pitfall 2 in freebsd.md: a second tunnel with the same VNI, local address
 * and port is created and brought up without an error, but never runs.
 */
export class TunnelNotRunningError extends Error {
  constructor(readonly link: string, vni: number | null) {
    super(
      `${link} is up but not RUNNING, so it carries no traffic. ` +
        `Either another vxlan interface already uses VNI ${vni ?? '?'} with the same local address and port ` +
        `(the kernel logs "network identifier ... already exists in this socket"), ` +
        `or its IPv6 local address was still tentative (DAD) when it came up: run "ifconfig ${link} down up" once it is not.`,
    );
    this.name = 'TunnelNotRunningError';
  }
}

/** FreeBSD names vxlan clones vxlanN; meshvpc never renames them (spec.tunnelName). */
const VXLAN_NAME = /^vxlan\d+$/;

/** "Already gone" failures of guest teardown, which make stop idempotent like the Linux driver's. */
const ALREADY_GONE = /not found|does not exist/;

export function freebsdDriver(exec: Executor): NetworkDriver {
  /** vxlan interfaces the host reported, for the RUNNING check after `up`. */
  let vxlans = new Set<string>();
  let modulesLoaded = false;
  /** commandsFor() renders ops one at a time; the module load shows once, before the first clone. */
  let displayLoaded: boolean | null = null;

  const readHost = async (): Promise<Observed> => {
    const observed = observedFrom(parseIfconfig(await runChecked(exec, observeCommand())));
    vxlans = new Set([...observed.values()].filter((l) => l.kind === 'vxlan').map((l) => l.name));
    displayLoaded = null;
    return observed;
  };

  const runAll = async (cmds: readonly string[][]): Promise<void> => {
    for (const argv of cmds) await runChecked(exec, argv);
  };

  const checkRunning = async (name: string): Promise<void> => {
    const [link] = parseIfconfig(await runChecked(exec, ['ifconfig', name])).filter((l) => l.name === name);
    if (!link) throw new Error(`ifconfig ${name} did not describe ${name} after bringing it up`);
    if (!link.running) throw new TunnelNotRunningError(name, link.vxlan?.vni ?? null);
  };

  /**
   * A clone FreeBSD names itself (bridgeN, wgN), renamed to meshvpc's name at
   * once; if the rename fails the clone is destroyed: an anonymous interface
   * nothing would ever own is never left behind.
   */
  const createClone = async (clone: string[], cloner: 'bridge' | 'wg', setup: (created: string) => string[][]): Promise<void> => {
    const created = parseClonedName(await runChecked(exec, clone), cloner);
    const [rename, ...rest] = setup(created);
    try {
      if (rename) await runChecked(exec, rename);
    } catch (e) {
      await exec.run(['ifconfig', created, 'destroy']);
      throw e;
    }
    await runAll(rest);
  };
  const createBridge = (op: Extract<Op, { op: 'create_bridge' }>): Promise<void> => createClone(bridgeCloneCommand(), 'bridge', (c) => bridgeSetupCommands(c, op));
  const createWg = async (op: Extract<Op, { op: 'create_wireguard' }>): Promise<void> => {
    await runChecked(exec, ['kldload', '-n', 'if_wg']);
    await createClone(wgCloneCommand(), 'wg', (c) => wgSetupCommands(c, op));
  };

  const applyOne = async (op: Op, batchVxlans: ReadonlySet<string>): Promise<void> => {
    if (needsModules(op) && !modulesLoaded) {
      await runChecked(exec, kldloadCommand());
      modulesLoaded = true;
    }
    if (op.op === 'create_bridge') await createBridge(op);
    else if (op.op === 'create_wireguard') await createWg(op);
    else await runAll(freebsdOpCommands(op));
    if ((op.op === 'set_up' && (batchVxlans.has(op.name) || vxlans.has(op.name) || VXLAN_NAME.test(op.name))) || op.op === 'set_vxlan_endpoints') {
      await checkRunning(op.name);
    }
  };

  /** A jail's identity is its JID: a jail someone else made under the same name later has another. */
  const jailId = async (name: string): Promise<string | null> => {
    const jails = parseJlsIds(await runChecked(exec, jlsIdsCommand()));
    return jails.find((j) => j.name === name)?.jid ?? null;
  };

  const stopGuest = async (g: GuestSpec, identity: string | null): Promise<string[]> => {
    const spared: string[] = [];
    const failures: CommandError[] = [];
    const run = async (argv: string[]): Promise<void> => {
      const r = await exec.run(argv);
      if (r.code !== 0 && !ALREADY_GONE.test(r.stderr)) failures.push(new CommandError(argv, r));
    };
    const jid = await jailId(g.name);
    if (jid !== null && identity !== null && jid === identity) await run(['jail', '-r', jid]);
    else if (jid !== null) spared.push(`jail ${g.name}`);
    const shown = await exec.run(['ifconfig', g.hostIf]);
    const port = shown.code === 0 ? parseIfconfig(shown.stdout).find((l) => l.name === g.hostIf) : undefined;
    if (port && port.alias === guestAlias(g.name)) await run(['ifconfig', g.hostIf, 'destroy']);
    else if (port) spared.push(`interface ${g.hostIf}`);
    if (failures[0]) throw failures[0];
    return spared;
  };

  return {
    platform: 'freebsd',
    commandsFor(op) {
      const loaded = displayLoaded ?? modulesLoaded;
      displayLoaded = loaded || needsModules(op);
      return [...(needsModules(op) && !loaded ? [kldloadCommand()] : []), ...freebsdOpCommands(op)];
    },
    async apply(ops) {
      const batchVxlans = new Set(ops.flatMap((o) => (o.op === 'create_vxlan' ? [o.name] : [])));
      for (const op of ops) await applyOne(op, batchVxlans);
      displayLoaded = null;
    },
    observe: readHost,
    seal: {
      async observe(name) {
        const r = await exec.run(['wg', 'show', name, 'dump']);
        return r.code === 0 ? parseWgDump(r.stdout) : null;
      },
      async apply(ops) {
        for (const op of ops) await applyOne(op, new Set());
      },
      async impl(name) {
        return (await exec.run(['ifconfig', name])).code === 0 ? 'wg(4)' : null;
      },
    },
    async underlayMtu(remote) {
      const route = parseRouteGet(await runChecked(exec, routeGetCommand(remote)));
      if (route.mtu) return route.mtu;
      const [dev] = parseIfconfig(await runChecked(exec, ['ifconfig', route.iface])).filter((l) => l.name === route.iface);
      if (!dev?.mtu) throw new Error(`cannot read the MTU of ${route.iface}`);
      return dev.mtu;
    },
    guestStartCommands: freebsdGuestStart,
    guestIdentity: jailId,
    async guestStart(g) {
      const aHalf = parseClonedName(await runChecked(exec, epairCloneCommand()), 'epair');
      const [rename, ...rest] = guestSetupCommands(g, aHalf);
      try {
        if (rename) await runChecked(exec, rename);
      } catch (e) {
        await exec.run(['ifconfig', aHalf, 'destroy']);
        throw e;
      }
      try {
        await runAll(rest);
      } catch (e) {
        // The pair now has meshvpc's name and mark: the ordinary stop cleans up whatever got this far.
        await stopGuest(g, await jailId(g.name).catch(() => null)).catch(() => undefined);
        throw e;
      }
      const jid = await jailId(g.name);
      if (jid === null) throw new Error(`jail ${g.name} is not running right after it was created`);
      return jid;
    },
    guestStop: stopGuest,
    async runningGuests() {
      return parseJlsJson(await runChecked(exec, jlsCommand()));
    },
    guestExecArgv: (name, argv) => ['jexec', name, ...argv],
    async ping(address) {
      const r = await exec.run(pingCommand(address));
      return r.code === 0 ? parsePingRtt(r.stdout) : null;
    },
    vm: freebsdVm(exec),
  };
}
