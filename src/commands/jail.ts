/**
 * Containers on a VPC: `jcreate`, `jstart`, `jstop`, `jremove`, `jls`,
 * `jwhereis`, `jexec`, named as in CBSD. On Linux a container is a network
 * namespace; on FreeBSD a vnet jail. Either way its `eth0` joins the bridge.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { stableMac } from '../core/mac.js';
import type { Invocation } from '../cli/args.js';
import { printRows, say } from '../cli/output.js';
import { UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import type { JailRecord } from '../core/types.js';
import { fanout } from '../cluster/fanout.js';
import { Peers } from '../cluster/peers.js';
import type { GuestSpec } from '../platform/driver.js';
import * as repo from '../store/repo.js';
import { openHost, parsePlatform, type Host } from './host.js';
import { checkHostAddress, checkSegmentAddress } from '../core/addrules.js';
import { guestAlias } from '../core/spec.js';

/** Host-side interface names must fit 15 characters whatever the container's name. */
export function hostIfFor(jname: string): string {
  return `vj${createHash('sha1').update(jname).digest('hex').slice(0, 10)}`;
}

async function withHost<T>(inv: Invocation, fn: (host: Host) => Promise<T>, access: 'read' | 'write' = 'write'): Promise<T> {
  const host = await openHost(parsePlatform(inv.params.get('platform'), false), access);
  try {
    return await fn(host);
  } finally {
    host.db.close();
  }
}

function requireJail(host: Host, name: string): JailRecord {
  const j = repo.getJail(host.db, name);
  if (!j) throw new UserError(`no container named ${name} on ${host.self.nodename} (meshvpc jls)`, 'not_found');
  return j;
}

async function guestOf(host: Host, j: JailRecord): Promise<GuestSpec> {
  const bridge = (await host.driver.observe()).get(j.interface);
  if (!bridge || bridge.kind !== 'bridge') {
    throw new UserError(`${j.interface} has no bridge on ${host.self.nodename}: run meshvpc vpc vpc_name=${j.interface} mode=init_bridge first`);
  }
  return { name: j.name, bridge: j.interface, mtu: bridge.mtu, hostIf: j.hostIf, addresses: addressesOf(j), mac: stableMac(`guest/${host.self.nodename}/${j.name}`) };
}

const addressesOf = (j: JailRecord): string[] => [j.ip4Addr, j.ip6Addr].filter((a): a is string => a !== null);

/**
 * The names a container takes (its namespace or jail, its host-side port)
 * must be free or meshvpc's: refused before anything is recorded or started.
 */
async function checkNamesFree(host: Host, j: JailRecord): Promise<void> {
  const holder = await host.driver.guestIdentity(j.name);
  if (holder !== null) {
    if (holder === j.guestId) throw new UserError(`${j.name} is already running`, 'conflict');
    throw new UserError(`a ${host.driver.platform === 'linux' ? 'network namespace' : 'jail'} named ${j.name} already exists on ${host.self.nodename} and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
  }
  const port = (await host.driver.observe()).get(j.hostIf);
  if (port && port.alias !== guestAlias(j.name)) {
    throw new UserError(`interface ${j.hostIf} already exists on ${host.self.nodename} and is not meshvpc's: meshvpc will not take it over; choose another jname`, 'conflict');
  }
}

async function start(host: Host, j: JailRecord): Promise<void> {
  await checkNamesFree(host, j);
  const id = await host.driver.guestStart(await guestOf(host, j));
  host.db.transaction(() => repo.setJailGuestId(host.db, j.name, id))();
}

export function jcreate(inv: Invocation): Promise<number> {
  const p = inv.params;
  p.only(['jname', 'interface', 'vnet', 'ip4_addr', 'ip6_addr', 'runasap'], 'jcreate');
  const name = v.jailName(p.require('jname', 'name the container, e.g. jname=jail1'), 'jname');
  const iface = v.vpcName(p.require('interface', 'the VPC to attach to, e.g. interface=vpc1'), 'interface');
  if (!p.flag('vnet')) throw new UserError('vnet=1 is required: containers join a VPC with their own network stack');
  const ip4 = p.get('ip4_addr') ?? '0';
  const cidr4 = ip4 === '0' ? null : checkHostAddress(v.interfaceAddress(ip4, 'ip4_addr'), 'ip4_addr', 4);
  const ip6 = p.get('ip6_addr') ?? '0';
  const cidr6 = ip6 === '0' ? null : checkHostAddress(v.interfaceAddress(ip6, 'ip6_addr'), 'ip6_addr', 6);
  const runasap = p.flag('runasap');
  return withHost(inv, async (host) => {
    if (repo.getJail(host.db, name)) throw new UserError(`container ${name} already exists on ${host.self.nodename}`, 'conflict');
    const vpc = repo.getVpc(host.db, iface);
    if (!vpc) throw new UserError(`unknown interface ${iface}: no VPC of that name here (meshvpc vpc mode=list)`, 'not_found');
    if (cidr4) checkSegmentAddress(cidr4, 'ip4_addr', vpc);
    if (cidr6) checkSegmentAddress(cidr6, 'ip6_addr', vpc);
    const record: JailRecord = { name, interface: iface, ip4Addr: cidr4 && v.cidrText(cidr4), ip6Addr: cidr6 && v.cidrText(cidr6), hostIf: hostIfFor(name), vnet: true, guestId: null };
    // Refuse before recording anything: a missing bridge, a name someone else holds.
    if (runasap) await guestOf(host, record);
    await checkNamesFree(host, record);
    host.db.transaction(() => repo.putJail(host.db, record))();
    if (runasap) {
      try {
        await start(host, record);
      } catch (e) {
        // A container that could not start is not kept half made.
        host.db.transaction(() => repo.deleteJail(host.db, name))();
        throw e;
      }
    }
    const shownAddrs = addressesOf(record).join(', ');
    say(`${name}: created on ${host.self.nodename}, interface ${iface}${shownAddrs ? `, eth0 ${shownAddrs}` : ''}`);
    if (runasap) say(`${name}: started`);
    return 0;
  });
}

function named(inv: Invocation, context: string): string {
  inv.params.only(['jname'], context);
  return v.jailName(inv.params.require('jname', 'name the container, e.g. jname=jail1'), 'jname');
}

export function jstart(inv: Invocation): Promise<number> {
  const name = named(inv, 'jstart');
  return withHost(inv, async (host) => {
    await start(host, requireJail(host, name));
    say(`${name}: started`);
    return 0;
  });
}

/**
 * Stopping needs no bridge or MTU: the pair and the namespace (or jail) go,
 * but only the ones meshvpc started; anything else under those names is left
 * alone and named.
 */
async function stop(host: Host, j: JailRecord): Promise<void> {
  const spared = await host.driver.guestStop({ name: j.name, bridge: j.interface, mtu: 0, hostIf: j.hostIf, addresses: addressesOf(j) }, j.guestId);
  host.db.transaction(() => repo.setJailGuestId(host.db, j.name, null))();
  for (const s of spared) process.stderr.write(`meshvpc: ${s} is not meshvpc's; left alone\n`);
}

export function jstop(inv: Invocation): Promise<number> {
  const name = named(inv, 'jstop');
  return withHost(inv, async (host) => {
    await stop(host, requireJail(host, name));
    say(`${name}: stopped`);
    return 0;
  });
}

export function jremove(inv: Invocation): Promise<number> {
  const name = named(inv, 'jremove');
  return withHost(inv, async (host) => {
    await stop(host, requireJail(host, name));
    host.db.transaction(() => repo.deleteJail(host.db, name))();
    say(`${name}: removed`);
    return 0;
  });
}

export function jls(inv: Invocation): Promise<number> {
  inv.params.only(['mode'], 'jls');
  return withHost(inv, async (host) => {
    const running = new Set(await host.driver.runningGuests());
    const rows = repo.listJails(host.db).map((j) => ({
      jname: j.name,
      node: host.self.nodename,
      interface: j.interface,
      ip4_addr: j.ip4Addr ?? '0',
      ip6_addr: j.ip6Addr ?? '0',
      vnet: j.vnet,
      status: running.has(j.name) ? 'On' : 'Off',
      host_if: j.hostIf,
    }));
    printRows(inv.params, rows, ['jname', 'node', 'interface', 'ip4_addr', 'vnet', 'status']);
    return 0;
  }, 'read');
}

export function jwhereis(inv: Invocation): Promise<number> {
  inv.params.only(['jname'], 'jwhereis');
  const name = v.jailName(inv.params.get('jname') ?? inv.rest[0] ?? '', 'jname');
  return withHost(inv, async (host) => {
    const nodes = repo.listNodes(host.db);
    const peers = new Peers(host.home);
    try {
      const here = repo.getJail(host.db, name) ? [host.self.nodename] : [];
      const results = await fanout(nodes.map((n) => n.name), 16, (key) =>
        peers.call<JailRecord[]>(nodes.find((n) => n.name === key) as (typeof nodes)[number], { op: 'jail_list' }),
      );
      const found = [...here, ...results.flatMap((r) => (r.ok && r.value.some((j) => j.name === name) ? [r.key] : []))];
      for (const r of results) if (!r.ok) process.stderr.write(`meshvpc: ${r.key}: ${r.error}\n`);
      if (inv.params.flag('json')) say(JSON.stringify(found));
      else for (const f of found) say(f);
      if (found.length === 0) {
        process.stderr.write(`meshvpc: no container named ${name} on any reachable host\n`);
        return 1;
      }
      return 0;
    } finally {
      peers.close();
    }
  }, 'read');
}

export function jexec(inv: Invocation): Promise<number> {
  inv.params.only(['jname'], 'jexec');
  const name = v.jailName(inv.params.require('jname', 'name the container, e.g. jname=jail1'), 'jname');
  if (inv.rest.length === 0) throw new UserError('jexec needs a command to run, e.g. meshvpc jexec jname=jail1 ip addr');
  return withHost(inv, async (host) => {
    requireJail(host, name);
    if (!(await host.driver.runningGuests()).includes(name)) throw new UserError(`${name} is not running (meshvpc jstart jname=${name})`);
    const [cmd, ...args] = host.driver.guestExecArgv(name, inv.rest);
    return new Promise<number>((resolve, reject) => {
      const child = spawn(cmd as string, args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  });
}
