/** Long operations (deploy, join, leave, collapse, destroy): their per-host progress, from SSE and GET /operations/{id}; pure, see sse-parse.ts. */
import type { Operation } from './shapes.js';
import { applyChanges } from '../core/ops.js';

export interface HostLine {
  host: string;
  state: 'waiting' | 'ok' | 'failed';
  text: string;
}

export interface OpView {
  id: string;
  op: string;
  vpc: string;
  status: 'running' | 'success' | 'failure';
  hosts: HostLine[];
  notes: string[];
  error: string | null;
  started: number;
}

/** The server names operations after its catalog (vpc.deploy); the console says deploy. */
export const shortOp = (op: string): string => op.replace(/^vpc\./, '');

export function newOp(id: string, op: string, vpc: string, expect: string[] = []): OpView {
  return { id, op: shortOp(op), vpc, status: 'running', hosts: expect.map((host) => ({ host, state: 'waiting', text: 'waiting…' })), notes: [], error: null, started: Date.now() };
}

const rec = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' ? (x as Record<string, unknown>) : {});
const str = (x: unknown): string => (typeof x === 'string' ? x : x === null || x === undefined ? '' : JSON.stringify(x));

function setHost(v: OpView, line: HostLine): OpView {
  const i = v.hosts.findIndex((h) => h.host === line.host);
  const hosts = [...v.hosts];
  if (i >= 0) hosts[i] = line;
  else hosts.push(line);
  return { ...v, hosts };
}

/** One host's outcome (deploy/join/leave `outcome`, sync/collapse/destroy per-host answers). */
function outcomeLine(o: Record<string, unknown>, verb: string): HostLine {
  const host = str(o.host ?? o.node);
  const ok = o.ok === true;
  const secs = typeof o.seconds === 'number' ? ` in ${o.seconds.toFixed(1)} s` : '';
  if (!ok) return { host, state: 'failed', text: `failed: ${str(o.error) || 'no reason given'}${secs}` };
  const leaving = o.role === 'leaving';
  const changes = typeof o.changes === 'number' ? `, ${o.changes} change${o.changes === 1 ? '' : 's'}` : '';
  const result = typeof o.result === 'string' ? ` (${o.result})` : '';
  return { host, state: 'ok', text: `${leaving ? 'left' : verb}${result}${changes}${secs}` };
}

const VERB: Record<string, string> = { deploy: 'converged', join: 'converged', leave: 'converged', collapse: 'collapsed', destroy: 'destroyed' };

/** Fold one `event: operation` payload's `event` into the view. */
export function applyEvent(v: OpView, ev: unknown): OpView {
  const e = rec(ev);
  const verb = VERB[v.op] ?? 'done';
  switch (e.type) {
    case 'accepted':
      // Checks passed; it may still wait for another operation on the VPC to finish.
      return v;
    case 'checking':
      return { ...v, notes: [...v.notes, `checking ${str(e.peers)} peer${e.peers === 1 ? '' : 's'} of ${str(e.vpc) || v.vpc}`] };
    case 'connected':
    case 'applying': {
      // Progress of a host still at work: shown on its line, never over its outcome.
      const host = str(e.host);
      if (!host || v.hosts.some((h) => h.host === host && h.state !== 'waiting')) return v;
      const text = e.type === 'applying' ? 'applying…' : `connected${typeof e.version === 'string' ? ` (meshvpc ${e.version})` : ''}`;
      return setHost(v, { host, state: 'waiting', text });
    }
    case 'unreachable':
      return setHost(v, { host: str(e.host), state: 'failed', text: `unreachable: ${str(e.error)}` });
    case 'older_peer':
      return { ...v, notes: [...v.notes, `${str(e.host)} runs meshvpc ${str(e.version)} (this host: ${str(e.ours)})`] };
    case 'host':
    case 'synced':
    case 'torn_down':
      return setHost(v, outcomeLine(rec(e.outcome), e.type === 'synced' ? 'synced' : verb));
    case 'reallocating':
      return { ...v, notes: [...v.notes, `VXLAN ids ${Array.isArray(e.vnis) ? e.vnis.join(', ') : str(e.vnis)} taken elsewhere: re-allocating (round ${str(e.round)})`] };
    case 'mtu_differs': {
      const smaller = (Array.isArray(e.smaller) ? e.smaller : []).map((x) => `${str(rec(x).node)} ${str(rec(x).link)}`);
      return { ...v, notes: [...v.notes, `smaller underlay links (${smaller.join(', ')}): the segment uses ${str(e.segment)} (others ${str(e.others)})`] };
    }
    case 'dryrun_command':
      return v;
    case 'userspace_wireguard':
      return { ...v, notes: [...v.notes, `${str(e.host)}: WireGuard runs in userspace (wireguard-go): far slower than the kernel's`] };
    default:
      if (rec(e.outcome).host) return setHost(v, outcomeLine(rec(e.outcome), verb));
      if ((typeof e.host === 'string' || typeof e.node === 'string') && typeof e.ok === 'boolean') return setHost(v, outcomeLine(e, verb));
      if (typeof e.message === 'string') return { ...v, notes: [...v.notes, e.message] };
      return Object.keys(e).length ? { ...v, notes: [...v.notes, str(ev)] } : v;
  }
}

const errorWords = (x: unknown): string | null => {
  if (x === null || x === undefined || x === '') return null;
  const r = rec(x);
  const inner = rec(r.error);
  return str(inner.message ?? r.message ?? x);
};

/** The final answer of GET /operations/{id}: replays its events and its result's per-host outcomes. */
export function applyFinal(v: OpView, op: Operation): OpView {
  let out: OpView = { ...v, op: shortOp(op.op || v.op), vpc: op.vpc || v.vpc, notes: op.events?.length ? [] : v.notes };
  for (const e of op.events ?? []) out = applyEvent(out, rec(e).event ?? e);
  const result = rec(op.result);
  const verb = VERB[out.op] ?? 'done';
  if (Array.isArray(result.hosts)) for (const h of result.hosts) if (rec(h).host) out = setHost(out, outcomeLine(rec(h), verb));
  // collapse/destroy report this host's own part apart from the others: {node, ops, commands, applied}.
  const own = rec(result.self);
  if (typeof own.node === 'string' && Array.isArray(own.ops)) {
    out = setHost(out, outcomeLine({ host: own.node, ok: true, changes: applyChanges({ ops: own.ops, fdbOps: own.fdbOps }) }, verb));
  }
  const hosts = out.hosts.map((h) => (h.state === 'waiting' && op.status !== 'running' ? { ...h, text: 'no report' } : h));
  return { ...out, hosts, status: op.status, error: errorWords(op.error) };
}
