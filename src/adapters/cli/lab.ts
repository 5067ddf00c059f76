/** `meshvpc lab`: build, use and tear down a cluster of namespace hosts. */
import { spawn } from 'node:child_process';
import { parseArgs, Params, type Invocation } from './args.js';
import { printRows, say } from './output.js';
import { UserError } from '../../core/errors.js';
import * as v from '../../core/validate.js';
import { createLab, destroyLab, LAB_ETCD_SIZES, listLabs, MAX_HOSTS, onHost, type LabState, type Underlay } from '../../lab/lab.js';
import { runDemo } from './lab-demo.js';

const MODES = ['up', 'down', 'list', 'run', 'demo'] as const;

function underlayOf(value: string | undefined): Underlay {
  if (value === undefined) return 'v6';
  if (value !== 'v4' && value !== 'v6') throw new UserError(`invalid underlay ${v.shown(value)}: use v4 or v6`);
  return value;
}

function pick(id: string | undefined): LabState {
  const labs = listLabs();
  const found = id ? labs.find((l) => l.id === id) : labs.length === 1 ? labs[0] : undefined;
  if (!found) throw new UserError(labs.length === 0 ? 'no lab is up (meshvpc lab up)' : `name the lab with lab=ID; labs: ${labs.map((l) => l.id).join(', ')}`);
  return found;
}

/**
 * `lab up hosts=3` reads better than `lab mode=up hosts=3`: a leading mode
 * word is accepted, and the arguments after it are parsed as usual.
 */
function normalise(inv: Invocation): { mode: string; p: Params; rest: readonly string[] } {
  const first = inv.rest[0];
  if (first !== undefined && !inv.params.has('mode') && (MODES as readonly string[]).includes(first)) {
    const again = parseArgs(['lab', ...inv.rest.slice(1)]);
    for (const k of inv.params.keys()) {
      if (again.params.has(k)) throw new UserError(`argument ${k} given twice`);
    }
    return { mode: first, p: mergeParams(inv.params, again.params), rest: again.rest };
  }
  const mode = inv.params.require('mode', `use one of ${MODES.join(', ')}`);
  return { mode, p: inv.params, rest: inv.rest };
}

function mergeParams(a: Params, b: Params): Params {
  return new Params(new Map([...a.keys().map((k): [string, string] => [k, a.get(k) as string]), ...b.keys().map((k): [string, string] => [k, b.get(k) as string])]));
}

export async function run(inv: Invocation): Promise<number> {
  const { mode, p, rest } = normalise(inv);
  if (!(MODES as readonly string[]).includes(mode)) throw new UserError(`unknown lab mode ${v.shown(mode)}; modes: ${MODES.join(', ')}`);
  if (process.getuid?.() !== 0) throw new UserError('the lab needs root (network namespaces, mounts, sshd)');
  switch (mode) {
    case 'up': {
      p.only(['mode', 'hosts', 'underlay', 'etcd'], 'lab up');
      const hosts = v.integer(p.get('hosts') ?? '3', 'hosts', 1, MAX_HOSTS);
      const etcd = v.integer(p.get('etcd') ?? '0', 'etcd', 0, 7);
      if (!LAB_ETCD_SIZES.includes(etcd)) throw new UserError(`invalid etcd ${v.shown(String(etcd))}: use ${LAB_ETCD_SIZES.join(', ')} (members; etcd wants an odd number)`);
      if (etcd > hosts) throw new UserError(`invalid etcd ${v.shown(String(etcd))}: more etcd members than hosts (hosts=${hosts})`);
      const lab = await createLab({ hosts, underlay: underlayOf(p.get('underlay')), etcd });
      say(`lab ${lab.id}: ${hosts} hosts up (root password for node mode=add: ${lab.password})`);
      if (etcd > 0) say(`etcd: ${etcd} members on host1-host${etcd}, healthy (meshvpc lab run host=1 meshvpc cluster mode=show)`);
      printRows(p, lab.hosts.map((h) => ({ host: h.index, name: h.name, address: h.ip6 ?? h.ip4, netns: h.netns, sshd_pid: h.pid })), ['host', 'name', 'address', 'netns', 'sshd_pid']);
      say(`run commands on a host with: meshvpc lab run host=1 meshvpc ...   (tear down: meshvpc lab down)`);
      return 0;
    }
    case 'list': {
      p.only(['mode'], 'lab list');
      printRows(p, listLabs().map((l) => ({ lab: l.id, hosts: l.hosts.length, underlay: l.underlay, dir: l.dir })), ['lab', 'hosts', 'underlay', 'dir']);
      return 0;
    }
    case 'down': {
      p.only(['mode', 'lab'], 'lab down');
      const labs = p.has('lab') ? [pick(p.get('lab'))] : listLabs();
      for (const l of labs) {
        await destroyLab(l);
        say(`lab ${l.id}: down`);
      }
      return 0;
    }
    case 'run': {
      p.only(['mode', 'lab', 'host'], 'lab run');
      const lab = pick(p.get('lab'));
      const host = v.integer(p.require('host', 'the host number, e.g. host=1'), 'host', 1, lab.hosts.length);
      if (rest.length === 0) throw new UserError('lab run needs a command, e.g. meshvpc lab run host=1 meshvpc vpc mode=list');
      // The terminal's type goes along: an interactive program (meshvpc tui) draws for it.
      const [cmd, ...args] = onHost(lab, host, rest, { MESHVPC_PASSWORD: lab.password, ...(process.env.TERM ? { TERM: process.env.TERM } : {}) });
      return new Promise((resolve, reject) => {
        const child = spawn(cmd as string, args, { stdio: 'inherit' });
        child.on('error', reject);
        child.on('close', (code) => resolve(code ?? 1));
      });
    }
    case 'demo': {
      p.only(['mode', 'underlay', 'keep'], 'lab demo');
      return runDemo(underlayOf(p.get('underlay')), p.flag('keep'));
    }
  }
  return 2;
}
