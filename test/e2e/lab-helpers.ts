/** Shared by the e2e tests: a lab per test, torn down whatever happens. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createLab, destroyLab, execOn, meshvpc, onHost, type LabState, type Underlay } from '../../src/lab/lab.js';
import { systemExecutor, type ExecResult } from '../../src/platform/exec.js';

export async function withLab<T>(hosts: number, underlay: Underlay, fn: (lab: LabState) => Promise<T>): Promise<T> {
  const lab = await createLab({ hosts, underlay });
  try {
    return await fn(lab);
  } finally {
    await destroyLab(lab);
  }
}

export const mv = (lab: LabState, host: number, ...args: string[]): Promise<ExecResult> => meshvpc(lab, host, args);

/** meshvpc on a host, which must succeed; returns its stdout. */
export async function ok(lab: LabState, host: number, ...args: string[]): Promise<string> {
  const r = await mv(lab, host, ...args);
  assert.equal(r.code, 0, `host${host}: meshvpc ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function sh(lab: LabState, host: number, ...argv: string[]): Promise<ExecResult> {
  return execOn(lab, host, argv);
}

export async function shOk(lab: LabState, host: number, ...argv: string[]): Promise<string> {
  const r = await sh(lab, host, ...argv);
  assert.equal(r.code, 0, `host${host}: ${argv.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  master?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_data?: Record<string, unknown> };
}

export async function links(lab: LabState, host: number, ...filter: string[]): Promise<IpLink[]> {
  return JSON.parse(await shOk(lab, host, 'ip', '-json', '-details', 'link', 'show', ...filter)) as IpLink[];
}

/** Ping from inside a container; true when every echo came back. */
export async function jailPing(lab: LabState, host: number, jail: string, target: string, ...extra: string[]): Promise<ExecResult> {
  return mv(lab, host, 'jexec', `jname=${jail}`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', ...extra, target);
}

/**
 * Ping until it answers or `seconds` pass. For checks right after a guest was
 * cut off: its neighbour entries sit in FAILED and the guest's kernel retries
 * ARP on its own timer, which is not meshvpc's to shorten.
 */
export async function eventuallyReaches(lab: LabState, host: number, jail: string, target: string, seconds = 6): Promise<ExecResult> {
  const deadline = Date.now() + seconds * 1000;
  let r = await jailPing(lab, host, jail, target);
  while (r.code !== 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 500));
    r = await jailPing(lab, host, jail, target);
  }
  return r;
}

/** Each host adds every other, exactly as the article does. */
export async function joinAll(lab: LabState): Promise<void> {
  for (const h of lab.hosts) {
    for (const o of lab.hosts) {
      if (o.index !== h.index) await ok(lab, h.index, 'node', 'mode=add', `node=${o.ip6 ?? o.ip4}`);
    }
  }
}

/**
 * Everything a refused command must leave as it was on a host: links (with
 * details), addresses, namespaces, the processes in the host's and its
 * namespaces' network stacks, the nftables ruleset, and every database row.
 */
export async function snapshot(lab: LabState, host: number): Promise<Record<string, unknown>> {
  const h = lab.hosts[host - 1];
  if (!h) throw new Error(`no host ${host}`);
  const db = new Database(join(h.dir, 'db', 'meshvpc.sqlite'), { readonly: true, fileMustExist: true });
  let rows: unknown;
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'lock' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    // By the first two columns (the first alone for a one-column table).
    const order = (t: string): string => ((db.prepare(`SELECT COUNT(*) AS n FROM pragma_table_info('${t}')`).get() as { n: number }).n > 1 ? '1, 2' : '1');
    rows = tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY ${order(t)}`).all()]);
  } finally {
    db.close();
  }
  const links = steady(JSON.parse(await shOk(lab, host, 'ip', '-d', '-j', 'link', 'show')));
  // Global addresses only: link-local ones and their DAD state are the kernel's.
  const addrs = (JSON.parse(await shOk(lab, host, 'ip', '-j', 'addr', 'show')) as { ifname: string; addr_info: { scope: string; local: string; prefixlen: number }[] }[]).map((l) => [
    l.ifname,
    l.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
  ]);
  const netns = (await shOk(lab, host, 'ip', 'netns', 'list')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean).sort();
  const pids = (await sh(lab, host, 'ip', 'netns', 'pids', h.netns)).stdout;
  const nft = (await shOk(lab, host, 'nft', 'list', 'ruleset')).replace(/packets \d+ bytes \d+/g, 'packets N bytes N');
  return { links, addrs, netns, pids, nft, rows };
}

/**
 * What `ip -d -j link` says minus what moves by itself: counters, carrier
 * state (NO-CARRIER, LOWER_UP, operstate) and the bridge's running timers.
 */
function steady(x: unknown): unknown {
  if (Array.isArray(x)) return x.filter((f) => f !== 'NO-CARRIER' && f !== 'LOWER_UP').map(steady);
  if (x === null || typeof x !== 'object') return x;
  return Object.fromEntries(
    Object.entries(x)
      .filter(([k]) => !['stats64', 'operstate', 'linkmode'].includes(k) && !k.endsWith('_timer'))
      .map(([k, v]) => [k, steady(v)]),
  );
}

/** One raw request to a peer's `meshvpc remote`, sent with `from`'s cluster key over real ssh. */
export function rawRemote(lab: LabState, from: number, to: number, request: unknown): Promise<ExecResult> {
  const target = lab.hosts[to - 1];
  const addr = target?.ip4 ?? target?.ip6 ?? '';
  const argv = ['ssh', '-i', '/var/db/meshvpc/id_ed25519', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${addr}`, 'meshvpc', 'remote'];
  return systemExecutor.run(onHost(lab, from, argv), JSON.stringify(request));
}

/** A process's command line ('' once it is gone). */
export function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** A process's parent ('0' once it is gone). */
export function ppid(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1] ?? '0';
  } catch {
    return '0';
  }
}

/** The processes in a lab host's network namespace: where a test may look for (and kill) its sessions. */
export async function pidsOnHost(lab: LabState, host: number): Promise<string[]> {
  const h = lab.hosts[host - 1];
  if (!h) throw new Error(`no host ${host}`);
  return (await systemExecutor.run(['ip', 'netns', 'pids', h.netns])).stdout.split(/\s+/).filter((p) => /^\d+$/.test(p));
}

/** A host's underlay address (IPv4 where it has one). */
export function underlayOf(lab: LabState, host: number): string {
  const h = lab.hosts[host - 1];
  const a = h?.ip4 ?? h?.ip6;
  if (!a) throw new Error(`host${host} has no address`);
  return a;
}

/**
 * Send `count` cleartext VXLAN packets from `from`'s own underlay address to
 * `to`'s UDP 4789, each carrying one Ethernet frame (an ARP request from
 * `mac`) under VXLAN id `vni`. A plain UDP socket, so the forger's own
 * tunnels stay as they are.
 */
export async function forgeVxlan(lab: LabState, from: number, to: number, vni: number, mac: string, count = 3): Promise<void> {
  const script = `
    const dgram = require('node:dgram');
    const [src, dst, vni, count, mac] = process.argv.slice(1);
    const m = Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
    const vxlan = Buffer.from([0x08, 0, 0, 0, (vni >> 16) & 255, (vni >> 8) & 255, vni & 255, 0]);
    const arp = Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]), m, Buffer.from([203, 0, 113, 98]), Buffer.alloc(6), Buffer.from([203, 0, 113, 1])]);
    const frame = Buffer.concat([Buffer.alloc(6, 0xff), m, Buffer.from([8, 6]), arp]);
    const s = dgram.createSocket(src.includes(':') ? 'udp6' : 'udp4');
    s.bind(0, src, async () => {
      for (let i = 0; i < Number(count); i++) {
        await new Promise((res, rej) => s.send(Buffer.concat([vxlan, frame]), 4789, dst, (e) => (e ? rej(e) : res())));
        await new Promise((res) => setTimeout(res, 50));
      }
      s.close();
    });
  `;
  await shOk(lab, from, 'node', '-e', script, underlayOf(lab, from), underlayOf(lab, to), String(vni), String(count), mac);
}

/** Until `check` holds, or fail after `seconds`. */
export async function eventually(what: string, check: () => Promise<boolean>, seconds = 20, everyMs = 300): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${seconds}s: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Where a lab host keeps its etcd credentials. */
export const LAB_PKI = '/var/db/meshvpc/etcd/pki';

/** etcdctl on lab host `h` with its own client certificate, through the member at `through` (host1 unless told). */
export function etcdctl(lab: LabState, h: number, ...args: string[]): Promise<ExecResult> {
  return etcdctlVia(lab, h, lab.hosts[0]?.ip4 ?? '', ...args);
}

export function etcdctlVia(lab: LabState, h: number, through: string, ...args: string[]): Promise<ExecResult> {
  return sh(lab, h, 'env', 'ETCDCTL_API=3', 'etcdctl', `--endpoints=https://${through}:2379`, `--cacert=${LAB_PKI}/ca.crt`, `--cert=${LAB_PKI}/client.crt`, `--key=${LAB_PKI}/client.key`, ...args);
}

/**
 * Lab host `signer` (host4 unless told) writes `body` under `key`, signed with
 * its own certificate as meshvpc itself signs (the installed meshvpc's own
 * module), replacing revision `prev`.
 */
export async function signedPut(lab: LabState, key: string, body: string, prev = 0, signer = 4): Promise<void> {
  const script = `
    import { readFileSync } from 'node:fs';
    import { EtcdClient } from '/usr/lib/node_modules/meshvpc/dist/src/store/etcd/client.js';
    const [key, body, prev, endpoint] = process.argv.slice(1);
    const f = (n) => readFileSync('${LAB_PKI}/' + n);
    const c = new EtcdClient({ endpoints: [endpoint], tls: { ca: f('ca.crt'), cert: f('client.crt'), key: f('client.key') }, node: 'host${signer}' });
    await c.put(key, c.seal(key, body, Number(prev)));
    c.close();`;
  await shOk(lab, signer, 'node', '--input-type=module', '-e', script, key, body, String(prev), `https://${lab.hosts[0]?.ip4 ?? ''}:2379`);
}
