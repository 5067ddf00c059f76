/**
 * Every SQL statement meshvpc runs lives here, always with bound parameters.
 * Callers group writes with `db.transaction` so a command changes all or nothing.
 */
import type { Db } from './db.js';
import type { JailRecord, Member, NodeRecord, SelfNode, VpcDef, VpcLocal, VpcWithMap } from '../core/types.js';
import type { Pair } from '../core/peermap.js';
import type { Platform } from '../platform/driver.js';

type Row = Record<string, unknown>;
const s = (v: unknown): string => String(v);
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function getSelf(db: Db): SelfNode | null {
  const r = db.prepare('SELECT nodename, ip4, ip6 FROM self WHERE id = 1').get() as Row | undefined;
  return r ? { nodename: s(r.nodename), ip4: sn(r.ip4), ip6: sn(r.ip6) } : null;
}

export function putSelf(db: Db, self: SelfNode): void {
  db.prepare(
    `INSERT INTO self (id, nodename, ip4, ip6) VALUES (1, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET nodename = excluded.nodename, ip4 = excluded.ip4, ip6 = excluded.ip6`,
  ).run(self.nodename, self.ip4, self.ip6);
}

const toNode = (r: Row): NodeRecord => ({
  name: s(r.name),
  sshAddress: s(r.ssh_address),
  sshPort: Number(r.ssh_port),
  sshUser: s(r.ssh_user),
  ip4: sn(r.ip4),
  ip6: sn(r.ip6),
  hostKey: s(r.host_key),
  platform: s(r.platform) as Platform,
});

export function listNodes(db: Db): NodeRecord[] {
  return (db.prepare('SELECT * FROM node ORDER BY name').all() as Row[]).map(toNode);
}

export function getNode(db: Db, name: string): NodeRecord | null {
  const r = db.prepare('SELECT * FROM node WHERE name = ?').get(name) as Row | undefined;
  return r ? toNode(r) : null;
}

/** A node named by name or by any of its addresses. */
export function findNode(db: Db, ref: string): NodeRecord | null {
  const r = db
    .prepare('SELECT * FROM node WHERE name = ? OR ssh_address = ? OR ip4 = ? OR ip6 = ? LIMIT 1')
    .get(ref, ref, ref, ref) as Row | undefined;
  return r ? toNode(r) : null;
}

export function putNode(db: Db, n: NodeRecord): void {
  db.prepare(
    `INSERT INTO node (name, ssh_address, ssh_port, ssh_user, ip4, ip6, host_key, platform)
     VALUES (@name, @sshAddress, @sshPort, @sshUser, @ip4, @ip6, @hostKey, @platform)
     ON CONFLICT (name) DO UPDATE SET ssh_address = excluded.ssh_address, ssh_port = excluded.ssh_port,
       ssh_user = excluded.ssh_user, ip4 = excluded.ip4, ip6 = excluded.ip6,
       host_key = excluded.host_key, platform = excluded.platform`,
  ).run(n);
}

export function deleteNode(db: Db, name: string): void {
  db.prepare('DELETE FROM node WHERE name = ?').run(name);
}

function members(db: Db, vpc: string): Member[] {
  return (db.prepare('SELECT node, underlay FROM vpc_member WHERE vpc = ? ORDER BY node').all(vpc) as Row[]).map((r) => ({
    node: s(r.node),
    underlay: s(r.underlay),
  }));
}

function pairs(db: Db, vpc: string): Pair[] {
  return (db.prepare('SELECT * FROM vpc_pair WHERE vpc = ? ORDER BY slot').all(vpc) as Row[]).map((r) => ({
    a: s(r.a),
    b: s(r.b),
    vni: Number(r.vni),
    slot: Number(r.slot),
    addrA: s(r.addr_a),
    addrB: s(r.addr_b),
    prefix: Number(r.prefix),
  }));
}

export function getVpc(db: Db, name: string): VpcWithMap | null {
  const r = db.prepare('SELECT * FROM vpc WHERE name = ?').get(name) as Row | undefined;
  if (!r) return null;
  return {
    name: s(r.name),
    peerNetwork: s(r.peer_network),
    family: Number(r.family) === 6 ? 6 : 4,
    mtu: r.mtu === null ? null : Number(r.mtu),
    firewall: Number(r.firewall) === 1,
    members: members(db, name),
    pairs: pairs(db, name),
  };
}

export function listVpcs(db: Db): VpcWithMap[] {
  return (db.prepare('SELECT name FROM vpc ORDER BY name').all() as Row[]).flatMap((r) => getVpc(db, s(r.name)) ?? []);
}

export function putVpc(db: Db, v: VpcDef): void {
  db.prepare(
    `INSERT INTO vpc (name, peer_network, family, mtu, firewall) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET peer_network = excluded.peer_network, family = excluded.family,
       mtu = excluded.mtu, firewall = excluded.firewall`,
  ).run(v.name, v.peerNetwork, v.family, v.mtu, v.firewall ? 1 : 0);
  db.prepare('DELETE FROM vpc_member WHERE vpc = ?').run(v.name);
  const add = db.prepare('INSERT INTO vpc_member (vpc, node, underlay) VALUES (?, ?, ?)');
  for (const m of v.members) add.run(v.name, m.node, m.underlay);
  db.prepare('INSERT OR IGNORE INTO vpc_local (vpc) VALUES (?)').run(v.name);
}

export function putPairs(db: Db, vpc: string, list: readonly Pair[]): void {
  db.prepare('DELETE FROM vpc_pair WHERE vpc = ?').run(vpc);
  const add = db.prepare(
    'INSERT INTO vpc_pair (vpc, a, b, vni, slot, addr_a, addr_b, prefix) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const p of list) add.run(vpc, p.a, p.b, p.vni, p.slot, p.addrA, p.addrB, p.prefix);
}

/** VNIs held by every VPC but one: the allocator must not hand these out. */
export function vnisOutside(db: Db, vpc: string): Set<number> {
  return new Set((db.prepare('SELECT vni FROM vpc_pair WHERE vpc <> ?').all(vpc) as Row[]).map((r) => Number(r.vni)));
}

export function deleteVpc(db: Db, name: string): void {
  db.prepare('DELETE FROM vpc WHERE name = ?').run(name);
}

export function getLocal(db: Db, vpc: string): VpcLocal {
  const r = db.prepare('SELECT * FROM vpc_local WHERE vpc = ?').get(vpc) as Row | undefined;
  if (!r) return { vxlan: false, bridge: false, bridgeIps: [], owned: [] };
  return {
    vxlan: Number(r.vxlan) === 1,
    bridge: Number(r.bridge) === 1,
    bridgeIps: JSON.parse(s(r.bridge_ips)) as string[],
    owned: JSON.parse(s(r.owned)) as string[],
  };
}

export function putLocal(db: Db, vpc: string, l: VpcLocal): void {
  db.prepare(
    `INSERT INTO vpc_local (vpc, vxlan, bridge, bridge_ips, owned) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (vpc) DO UPDATE SET vxlan = excluded.vxlan, bridge = excluded.bridge,
       bridge_ips = excluded.bridge_ips, owned = excluded.owned`,
  ).run(vpc, l.vxlan ? 1 : 0, l.bridge ? 1 : 0, JSON.stringify(l.bridgeIps), JSON.stringify(l.owned));
}

const toJail = (r: Row): JailRecord => ({
  name: s(r.name),
  interface: s(r.interface),
  ip4Addr: sn(r.ip4_addr),
  ip6Addr: sn(r.ip6_addr),
  guestId: sn(r.guest_id),
  hostIf: s(r.host_if),
  vnet: Number(r.vnet) === 1,
});

export function listJails(db: Db): JailRecord[] {
  return (db.prepare('SELECT * FROM jail ORDER BY name').all() as Row[]).map(toJail);
}

export function getJail(db: Db, name: string): JailRecord | null {
  const r = db.prepare('SELECT * FROM jail WHERE name = ?').get(name) as Row | undefined;
  return r ? toJail(r) : null;
}

export function putJail(db: Db, j: JailRecord): void {
  db.prepare('INSERT INTO jail (name, interface, ip4_addr, ip6_addr, guest_id, host_if, vnet) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    j.name,
    j.interface,
    j.ip4Addr,
    j.ip6Addr,
    j.guestId,
    j.hostIf,
    j.vnet ? 1 : 0,
  );
}

export function setJailGuestId(db: Db, name: string, guestId: string | null): void {
  db.prepare('UPDATE jail SET guest_id = ? WHERE name = ?').run(guestId, name);
}

export function deleteJail(db: Db, name: string): void {
  db.prepare('DELETE FROM jail WHERE name = ?').run(name);
}
