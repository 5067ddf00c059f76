/**
 * Control-plane FDB on Linux (core/fdb.ts): static entries with `bridge fdb`,
 * permanent neighbours with `ip neigh`, port flags as bridge_slave options.
 * Each kind runs as one batch process.
 */
import type { FdbOp, ObservedFdb } from '../../core/fdb.js';
import { runChecked, type Executor } from '../exec.js';
import { batchError, batchScript } from './batch.js';

const onOff = (b: boolean): string => (b ? 'on' : 'off');

export function fdbCommands(op: FdbOp): string[][] {
  switch (op.op) {
    case 'fdb_set':
      return [['bridge', 'fdb', 'replace', op.mac, 'dev', op.port, 'master', 'static']];
    case 'fdb_del':
      return [['bridge', 'fdb', 'del', op.mac, 'dev', op.port, 'master']];
    case 'neigh_set':
      return [['ip', 'neigh', 'replace', op.ip, 'lladdr', op.mac, 'dev', op.bridge, 'nud', 'permanent']];
    case 'neigh_del':
      return [['ip', 'neigh', 'del', op.ip, 'dev', op.bridge]];
    case 'port_flags':
      return [['ip', 'link', 'set', 'dev', op.name, 'type', 'bridge_slave', 'neigh_suppress', onOff(op.suppress), 'flood', onOff(op.flood)]];
  }
}

type Json = Record<string, unknown>;
const list = (text: string): Json[] => {
  const x: unknown = JSON.parse(text.trim() === '' ? '[]' : text);
  return Array.isArray(x) ? x.filter((e): e is Json => typeof e === 'object' && e !== null) : [];
};
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * `bridge -j fdb show br B`: the entries on the bridge's ports that do not age (not the
 * bridge's own, not learned ones): static ones, and permanent ones marked fixed (an
 * operator's `bridge fdb add ... master`, a port's own address: never meshvpc's).
 */
export function parseFdbShow(text: string, bridge: string): ObservedFdb['entries'] {
  return list(text).flatMap((e) => {
    const mac = String(e.mac ?? '').toLowerCase();
    const flags = Array.isArray(e.flags) ? e.flags : [];
    if (e.master !== bridge || (e.state !== 'static' && e.state !== 'permanent') || flags.includes('self') || !MAC.test(mac) || typeof e.ifname !== 'string') return [];
    return [{ mac, port: e.ifname, ...(e.state === 'permanent' ? { fixed: true } : {}) }];
  });
}

/** `ip -j neigh show dev B nud permanent` (or `nud noarp`, `fixed`: never meshvpc's). */
export function parseNeighShow(text: string, fixed = false): ObservedFdb['neighbours'] {
  return list(text).flatMap((n) => {
    const mac = String(n.lladdr ?? '').toLowerCase();
    return typeof n.dst === 'string' && MAC.test(mac) ? [{ ip: n.dst, mac, ...(fixed ? { fixed: true } : {}) }] : [];
  });
}

/** `bridge -j -d link show`: the ports of one bridge with their neigh_suppress and flood flags. */
export function parseBridgePorts(text: string, bridge: string): ObservedFdb['ports'] {
  return list(text).flatMap((p) =>
    p.master === bridge && typeof p.ifname === 'string' ? [{ name: p.ifname, suppress: p.neigh_suppress === true, flood: p.flood !== false }] : [],
  );
}

export function linuxFdb(exec: Executor): { observe(bridge: string): Promise<ObservedFdb>; apply(ops: readonly FdbOp[]): Promise<void> } {
  const batch = async (tool: 'ip' | 'bridge', cmds: string[][]): Promise<void> => {
    if (cmds.length === 0) return;
    const r = await exec.run([tool, '-batch', '-'], batchScript(cmds, tool));
    if (r.code !== 0) throw batchError(cmds, r, tool);
  };
  return {
    async observe(bridge) {
      const [fdb, neigh, noarp, ports] = await Promise.all([
        runChecked(exec, ['bridge', '-j', 'fdb', 'show', 'br', bridge]),
        runChecked(exec, ['ip', '-j', 'neigh', 'show', 'dev', bridge, 'nud', 'permanent']),
        runChecked(exec, ['ip', '-j', 'neigh', 'show', 'dev', bridge, 'nud', 'noarp']),
        runChecked(exec, ['bridge', '-j', '-d', 'link', 'show']),
      ]);
      return { entries: parseFdbShow(fdb, bridge), neighbours: [...parseNeighShow(neigh), ...parseNeighShow(noarp, true)], ports: parseBridgePorts(ports, bridge) };
    },
    async apply(ops) {
      const of = (pick: (op: FdbOp) => boolean): string[][] => ops.filter(pick).flatMap(fdbCommands);
      // A port floods again before entries go, and stops flooding only once the entries it needs are in.
      await batch('ip', of((o) => o.op === 'port_flags' && o.flood));
      await batch('bridge', of((o) => o.op === 'fdb_set' || o.op === 'fdb_del'));
      await batch('ip', of((o) => o.op === 'neigh_set' || o.op === 'neigh_del'));
      await batch('ip', of((o) => o.op === 'port_flags' && !o.flood));
    },
  };
}
