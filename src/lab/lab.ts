/**
 * The lab: hosts made of network namespaces on one machine, joined by a bridge
 * in a namespace of their own (the "internet"), each with its own sshd, /root,
 * /etc/ssh, /etc/shadow, /run/netns, meshvpc state and hostname, so that a key
 * given to one host works on that host only. Follows the lab rules of
 * docs/design.md: only namespaces this run made are touched, documentation
 * address ranges only, unique names, and teardown that survives failures.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runChecked, systemExecutor, type ExecResult } from '../platform/exec.js';

export type Underlay = 'v4' | 'v6';

export interface LabHost {
  readonly index: number;
  readonly name: string;
  readonly netns: string;
  readonly dir: string;
  readonly ip4: string | null;
  readonly ip6: string | null;
  /** The sshd that holds the host's mount and UTS namespaces; commands enter through it. */
  pid: number;
}

/** A process the lab started on a host (an etcd member, an agent): its process group, killed by lab down. */
export interface LabProcess {
  readonly host: number;
  readonly what: string;
  /** Leader of its own process group (`meshvpc etcd mode=run`; etcd is its child). */
  readonly pid: number;
  readonly log: string;
}

export interface LabState {
  readonly id: string;
  readonly dir: string;
  readonly underlay: Underlay;
  readonly netNs: string;
  readonly password: string;
  readonly hosts: LabHost[];
  /** Absent in labs made before etcd=. */
  processes?: LabProcess[];
}

export const labRoot = (): string => process.env.MESHVPC_LAB_ROOT || join(tmpdir(), 'meshvpc-lab');
const statePath = (dir: string): string => join(dir, 'lab.json');
const exec = systemExecutor;
const run = (argv: string[]): Promise<string> => runChecked(exec, argv);

/** Documentation ranges only (RFC 5737 / RFC 3849). */
export const underlayAddress = (underlay: Underlay, i: number): string => (underlay === 'v4' ? `192.0.2.${i}` : `2001:db8:0:1::${i}`);
/**
 * 192.0.2.1-200 (and as many IPv6 addresses): the last octet is the host's
 * number. The lab's own limits beside it: the bridge that is the lab's
 * "internet" takes up to 1024 ports, every host is an sshd (a few MB) and, when
 * meshvpc runs on it, a Node process per command.
 */
export const MAX_HOSTS = 200;
/** How long a lab host's sshd may take to listen (the last of 64 starts while the first are still busy). */
const SSHD_START_MS = 30_000;
/** initenv on this many hosts at a time: each is a Node start; more only queues on 2 CPUs. */
const INITENV_CONCURRENCY = 4;

// Runs inside the host's fresh mount and UTS namespaces; values arrive as
// positional parameters, never spliced into the script text.
const HOLDER_SCRIPT = `set -e
d="$1"
mount --bind "$d/root" /root
mount --bind "$d/db" /var/db/meshvpc
mount --bind "$d/ssh" /etc/ssh
mount --bind "$d/shadow" /etc/shadow
mount --bind "$d/netns" /run/netns
# wireguard-go's control sockets (/run/wireguard/NAME.sock) are named alike on every host.
mkdir -p "$d/wireguard" /run/wireguard
mount --bind "$d/wireguard" /run/wireguard
hostname "$2"
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`;

const SSHD_CONFIG = `# meshvpc lab host
Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PidFile none
MaxStartups 200:30:400
MaxSessions 200
LogLevel ERROR
`;

function save(state: LabState): void {
  writeFileSync(statePath(state.dir), JSON.stringify(state, null, 2));
}

export function listLabs(): LabState[] {
  const root = labRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((d) => {
    const p = statePath(join(root, d));
    return existsSync(p) ? [JSON.parse(readFileSync(p, 'utf8')) as LabState] : [];
  });
}

async function prepareHostDir(host: LabHost): Promise<void> {
  const d = host.dir;
  for (const sub of ['root/.ssh', 'db', 'netns']) mkdirSync(join(d, sub), { recursive: true, mode: 0o700 });
  await run(['cp', '-a', '/etc/ssh/.', join(d, 'ssh')]);
  for (const f of readdirSync(join(d, 'ssh'))) if (f.startsWith('ssh_host_')) rmSync(join(d, 'ssh', f));
  writeFileSync(join(d, 'ssh', 'sshd_config'), SSHD_CONFIG);
  await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `root@${host.name}`, '-f', join(d, 'ssh', 'ssh_host_ed25519_key')]);
}

/** The lab's root password, in a shadow file only the lab hosts see. */
async function shadowWithPassword(password: string): Promise<string> {
  const hash = (await runChecked(exec, ['openssl', 'passwd', '-6', '-stdin'], `${password}\n`)).trim();
  const lines = readFileSync('/etc/shadow', 'utf8').split('\n');
  return lines.map((l) => (l.startsWith('root:') ? ['root', hash, ...l.split(':').slice(2)].join(':') : l)).join('\n');
}

async function waitForSshd(host: LabHost): Promise<void> {
  const deadline = Date.now() + SSHD_START_MS;
  while (Date.now() < deadline) {
    const r = await exec.run(['nsenter', '-t', String(host.pid), '-n', '--', 'ss', '-Hltn', 'sport', '=', ':22']);
    if (r.code === 0 && r.stdout.trim() !== '') return;
    const alive = existsSync(`/proc/${host.pid}`);
    if (!alive) throw new Error(`sshd of lab host ${host.name} exited; see ${join(host.dir, 'sshd.log')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`sshd of lab host ${host.name} did not start listening within ${SSHD_START_MS / 1000}s`);
}

function startHolder(host: LabHost): number {
  const log = openSync(join(host.dir, 'sshd.log'), 'a');
  const child = spawn(
    'ip',
    ['netns', 'exec', host.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', '/bin/sh', '-c', HOLDER_SCRIPT, 'labhost', host.dir, host.name],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  closeSync(log);
  if (!child.pid) throw new Error(`could not start lab host ${host.name}`);
  return child.pid;
}

export interface LabOptions {
  readonly hosts: number;
  readonly underlay: Underlay;
  /** Run `meshvpc initenv` on each host (what installing meshvpc on a machine amounts to). */
  readonly initenv?: boolean;
  /**
   * permanent (the default): every host knows every other host's underlay
   * address from the start, with a permanent neighbour entry (ARP or ND).
   * The kernel's neighbour tables are shared by every namespace of this
   * machine and cap dynamic entries (gc_thresh3, 1024 here, settable only in
   * the root namespace, which the lab never touches); permanent entries do
   * not count, so a lab of 64 hosts (64 x 63 underlay neighbours) fits.
   * dynamic: leave it to ARP/ND, as on real hosts (small labs only).
   */
  readonly neighbours?: 'permanent' | 'dynamic';
  /** Members of an etcd control plane on hosts 1..etcd (0: none, the embedded default). */
  readonly etcd?: number;
}

/** Map with at most `limit` in flight; the first failure is thrown once every started task has ended. */
async function inTurns<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++] as T;
      await fn(item).catch((e: unknown) => errors.push(e));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** The MAC of a lab host's underlay port (eth0), read back from the namespace the lab made. */
async function underlayMac(h: LabHost): Promise<string> {
  const links = JSON.parse(await run(['ip', '-n', h.netns, '-json', 'link', 'show', 'dev', 'eth0'])) as { address?: unknown }[];
  const mac = links[0]?.address;
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new Error(`cannot read the MAC of ${h.name}'s eth0`);
  return mac;
}

/**
 * Lines for `ip -batch`: a permanent neighbour entry on `h`'s eth0 for each
 * other host's underlay address (each family the lab uses).
 */
export function neighbourLines(h: LabHost, hosts: readonly LabHost[], macs: ReadonlyMap<number, string>): string[] {
  return hosts.flatMap((o) => {
    const mac = macs.get(o.index);
    if (o.index === h.index || !mac) return [];
    return [o.ip4, o.ip6].flatMap((a) => (a ? [`neigh replace ${a} lladdr ${mac} dev eth0 nud permanent`] : []));
  });
}

/** Every lab host gets a permanent neighbour entry for every other (see LabOptions.neighbours): one `ip -batch` per host. */
async function fillNeighbours(state: LabState): Promise<void> {
  const macs = new Map<number, string>();
  for (const h of state.hosts) macs.set(h.index, await underlayMac(h));
  await inTurns(state.hosts, INITENV_CONCURRENCY, async (h) => {
    const lines = neighbourLines(h, state.hosts, macs);
    if (lines.length > 0) await runChecked(exec, ['ip', '-n', h.netns, '-batch', '-'], `${lines.join('\n')}\n`);
  });
}

/** The etcd member counts a lab can have (etcd wants an odd number). */
export const LAB_ETCD_SIZES = [0, 1, 3, 5, 7];

export async function createLab(opts: LabOptions): Promise<LabState> {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) throw new Error(`hosts must be 1-${MAX_HOSTS}`);
  const etcd = opts.etcd ?? 0;
  if (!LAB_ETCD_SIZES.includes(etcd)) throw new Error(`etcd must be one of ${LAB_ETCD_SIZES.join(', ')}`);
  if (etcd > opts.hosts) throw new Error(`etcd=${etcd} needs at least ${etcd} hosts (hosts=${opts.hosts})`);
  if (etcd > 0 && opts.initenv === false) throw new Error('etcd= needs initenv on the hosts');
  const id = randomBytes(3).toString('hex');
  const dir = join(labRoot(), id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const prefix = `mvl${id}`;
  const state: LabState = {
    id,
    dir,
    underlay: opts.underlay,
    netNs: `${prefix}-net`,
    password: randomBytes(12).toString('base64url'),
    hosts: Array.from({ length: opts.hosts }, (_, k) => {
      const index = k + 1;
      return {
        index,
        name: `host${index}`,
        netns: `${prefix}-h${index}`,
        dir: join(dir, `host${index}`),
        ip4: opts.underlay === 'v4' ? underlayAddress('v4', index) : null,
        ip6: opts.underlay === 'v6' ? underlayAddress('v6', index) : null,
        pid: 0,
      };
    }),
  };
  save(state);
  try {
    // Mount points the hosts bind their own directories onto (empty, shared).
    mkdirSync('/var/db/meshvpc', { recursive: true, mode: 0o700 });
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    mkdirSync('/run/netns', { recursive: true });
    await run(['ip', 'netns', 'add', state.netNs]);
    const inNet = (...a: string[]): string[] => ['ip', '-n', state.netNs, ...a];
    await run(inNet('link', 'add', 'ul', 'type', 'bridge'));
    await run(inNet('link', 'set', 'dev', 'ul', 'up'));
    const shadow = await shadowWithPassword(state.password);
    for (const h of state.hosts) {
      await run(['ip', 'netns', 'add', h.netns]);
      await run(inNet('link', 'add', `p${h.index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns));
      await run(inNet('link', 'set', 'dev', `p${h.index}`, 'master', 'ul', 'up'));
      const inHost = (...a: string[]): string[] => ['ip', '-n', h.netns, ...a];
      await run(inHost('link', 'set', 'dev', 'lo', 'up'));
      await run(inHost('link', 'set', 'dev', 'eth0', 'up'));
      if (h.ip4) await run(inHost('addr', 'add', `${h.ip4}/24`, 'dev', 'eth0'));
      if (h.ip6) await run(inHost('addr', 'add', `${h.ip6}/64`, 'dev', 'eth0', 'nodad'));
      await prepareHostDir(h);
      writeFileSync(join(h.dir, 'shadow'), shadow, { mode: 0o600 });
      h.pid = startHolder(h);
      save(state);
    }
    await Promise.all(state.hosts.map(waitForSshd));
    if (opts.neighbours !== 'dynamic') await fillNeighbours(state);
    if (opts.initenv !== false) {
      await inTurns(state.hosts, INITENV_CONCURRENCY, async (h) => {
        const args = ['initenv', `nodename=${h.name}`, ...(h.ip4 ? [`nodeip=${h.ip4}`] : []), ...(h.ip6 ? [`nodeip6=${h.ip6}`] : [])];
        const r = await meshvpc(state, h.index, args);
        if (r.code !== 0) throw new Error(`initenv on ${h.name} failed: ${r.stderr.trim()}`);
      });
    }
    if (etcd > 0) await startEtcd(state, etcd);
    return state;
  } catch (e) {
    await destroyLab(state);
    throw e;
  }
}

export function hostOf(state: LabState, index: number): LabHost {
  const h = state.hosts.find((x) => x.index === index);
  if (!h) throw new Error(`lab ${state.id} has no host ${index} (1-${state.hosts.length})`);
  return h;
}

/** argv that runs a command on a lab host, as if logged in there as root. */
export function onHost(state: LabState, index: number, argv: readonly string[], env: Record<string, string> = {}): string[] {
  const h = hostOf(state, index);
  const vars = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', MESHVPC_HOME: '/var/db/meshvpc', ...env };
  return ['nsenter', '-t', String(h.pid), '-m', '-n', '-u', '--', 'env', '-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...argv];
}

export function execOn(state: LabState, index: number, argv: readonly string[], env?: Record<string, string>): Promise<ExecResult> {
  return exec.run(onHost(state, index, argv, env));
}

/** `meshvpc ARGS` on a lab host, with the lab's root password for first contact. */
export function meshvpc(state: LabState, index: number, args: readonly string[], env: Record<string, string> = {}): Promise<ExecResult> {
  return execOn(state, index, ['meshvpc', ...args], { MESHVPC_PASSWORD: state.password, ...env });
}

async function pidsIn(argv: string[]): Promise<string[]> {
  const r = await exec.run(argv);
  return r.code === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
}

const ok = (r: ExecResult, what: string): ExecResult => {
  if (r.code !== 0) throw new Error(`${what} failed: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ')}`);
  return r;
};

/**
 * An etcd control plane on hosts 1..n: host 1 adds every other host (node
 * mode=add), makes the cluster (cluster mode=init backend=etcd), and each
 * member's `meshvpc etcd mode=run` starts in its host's namespaces, in a
 * process group of its own that destroyLab kills. Returns when every member
 * reports healthy.
 */
async function startEtcd(state: LabState, n: number): Promise<void> {
  for (const h of state.hosts.slice(1)) {
    ok(await meshvpc(state, 1, ['node', 'mode=add', `node=${h.ip6 ?? h.ip4}`]), `node mode=add ${h.name} on host1`);
  }
  const members = state.hosts.slice(0, n).map((h) => h.name);
  ok(await meshvpc(state, 1, ['cluster', 'mode=init', 'backend=etcd', `etcd_members=${members.join(',')}`, '--json']), 'cluster mode=init on host1');
  for (const h of state.hosts.slice(0, n)) startLabProcess(state, h.index, 'etcd', ['meshvpc', 'etcd', 'mode=run']);
  let last = '';
  for (let i = 0; i < 120; i++) {
    const r = await meshvpc(state, 1, ['cluster', 'mode=show', '--json']);
    if (r.code === 0) return;
    last = r.stdout.trim() || r.stderr.trim();
    for (const p of state.processes ?? []) {
      if (!existsSync(`/proc/${p.pid}`)) throw new Error(`etcd on host${p.host} exited; see ${p.log}`);
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`the lab's etcd did not become healthy in 60 s: ${last.slice(0, 500)}`);
}

/**
 * Start a long-running meshvpc process on a lab host (an etcd member, an
 * agent) in its namespaces, in a process group of its own that destroyLab
 * kills (meshvpc and what it starts, as one); output appends to WHAT.log in
 * the host's directory.
 */
export function startLabProcess(state: LabState, index: number, what: string, argv: readonly string[]): LabProcess {
  const h = hostOf(state, index);
  const processes = (state.processes = state.processes ?? []);
  const logPath = join(h.dir, `${what}.log`);
  const log = openSync(logPath, 'a');
  const [cmd, ...args] = onHost(state, h.index, argv);
  const child = spawn(cmd as string, args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  closeSync(log);
  if (!child.pid) throw new Error(`could not start ${what} on ${h.name}`);
  const p = { host: h.index, what, pid: child.pid, log: logPath };
  processes.push(p);
  save(state);
  return p;
}

/**
 * Kill a process group the lab started, and only its members that still
 * live in that lab host's network namespace (a group id can be reused by
 * another program once the lab's is gone).
 */
export async function killLabProcess(state: LabState, p: LabProcess): Promise<void> {
  const h = hostOf(state, p.host);
  const r = await exec.run(['pgrep', '-g', String(p.pid)]);
  const pids = r.code === 0 ? r.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x)) : [];
  const ours: string[] = [];
  for (const pid of pids) {
    const ns = await exec.run(['ip', 'netns', 'identify', pid]);
    if (ns.code === 0 && ns.stdout.trim() === h.netns) ours.push(pid);
  }
  if (ours.length > 0) await exec.run(['kill', '-KILL', ...ours]);
}

/** Tear a lab down completely; every step tolerates what earlier failures left. */
export async function destroyLab(state: LabState): Promise<void> {
  for (const p of state.processes ?? []) await killLabProcess(state, p);
  for (const h of state.hosts) {
    if (h.pid > 0 && existsSync(`/proc/${h.pid}`)) {
      // Containers live in namespaces named inside the host's own /run/netns.
      const enter = ['nsenter', '-t', String(h.pid), '-m', '-n', '--'];
      const list = await exec.run([...enter, 'ip', 'netns', 'list']);
      const names = list.code === 0 ? list.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '') : [];
      for (const n of names) {
        const pids = await pidsIn([...enter, 'ip', 'netns', 'pids', n]);
        if (pids.length > 0) await exec.run(['kill', '-KILL', ...pids]);
        await exec.run([...enter, 'ip', 'netns', 'del', n]);
      }
    }
    const pids = await pidsIn(['ip', 'netns', 'pids', h.netns]);
    if (h.pid > 0 && existsSync(`/proc/${h.pid}`)) pids.push(String(h.pid));
    if (pids.length > 0) await exec.run(['kill', '-KILL', ...pids]);
  }
  // Give the kernel a moment to reap before the names go.
  await new Promise((res) => setTimeout(res, 100));
  for (const h of state.hosts) await exec.run(['ip', 'netns', 'del', h.netns]);
  await exec.run(['ip', 'netns', 'del', state.netNs]);
  rmSync(state.dir, { recursive: true, force: true });
}
