/**
 * Every SQL statement meshvpc runs lives here, always with bound parameters.
 * Callers group writes with `db.transaction` so a command changes all or nothing.
 */
import type { AppliedRecord } from '../core/applied.js';
import type { Db } from './db.js';
import type { ExtraNic, GuestOnHost, GuestRecord, JailRecord, Member, NodeRecord, SelfNode, VmConfig, VpcDef, VpcLocal, VpcWithMap } from '../core/types.js';
import type { Quota } from '../core/quota.js';
import type { VmAccel } from '../platform/driver.js';
import type { Pair } from '../core/peermap.js';
import type { Platform } from '../platform/driver.js';
import type { FdbEntry, FdbRecord, NeighEntry } from '../core/fdb.js';

type Row = Record<string, unknown>;
const s = (v: unknown): string => String(v);
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const nn = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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
  wgKey: sn(r.wg_key),
  wgPort: nn(r.wg_port),
});

/** This host's WireGuard port (initenv wg_port=), or null for the default. */
export function getSelfWgPort(db: Db): number | null {
  const r = db.prepare('SELECT wg_port FROM self WHERE id = 1').get() as Row | undefined;
  return r ? nn(r.wg_port) : null;
}

export function putSelfWgPort(db: Db, port: number | null): void {
  db.prepare('UPDATE self SET wg_port = ? WHERE id = 1').run(port);
}

/** What a node said of its own WireGuard identity (its hello, its pair, or a request it sent itself). */
export function putNodeSeal(db: Db, name: string, key: string, port: number): void {
  db.prepare('UPDATE node SET wg_key = ?, wg_port = ? WHERE name = ?').run(key, port, name);
  // Its member records follow: every encrypted VPC here then agrees on what the node said.
  db.prepare('UPDATE vpc_member SET wg_key = ?, wg_port = ? WHERE node = ? AND wg_key IS NOT NULL').run(key, port, name);
}

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
  return (db.prepare('SELECT node, underlay, wg_key, wg_port, mtu FROM vpc_member WHERE vpc = ? ORDER BY node').all(vpc) as Row[]).map((r) => ({
    node: s(r.node),
    underlay: s(r.underlay),
    ...(r.wg_key === null ? {} : { wgKey: s(r.wg_key), wgPort: nn(r.wg_port) }),
    ...(r.mtu === null ? {} : { mtu: Number(r.mtu) }),
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
    ...(r.seal_slot === null ? {} : { sealSlot: Number(r.seal_slot) }),
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
    quota: { jail_max: nn(r.jail_max), vm_max: nn(r.vm_max), vcpu_max: nn(r.vcpu_max), ram_max: nn(r.ram_max), disk_max: nn(r.disk_max) },
    guestNetwork: r.guest_network === null ? null : { network: s(r.guest_network), gateway: sn(r.guest_gateway) },
    encrypt: s(r.encrypt) === 'wireguard' ? 'wireguard' : 'none',
    // NULL: a VPC from before 0.5 that no member's definition has named a mode for yet (it learns).
    ...(r.fdb === 'control' || r.fdb === 'learn' ? { fdb: r.fdb } : {}),
  };
}

export function listVpcs(db: Db): VpcWithMap[] {
  return (db.prepare('SELECT name FROM vpc ORDER BY name').all() as Row[]).flatMap((r) => getVpc(db, s(r.name)) ?? []);
}

const NO_LIMITS: Quota = { jail_max: null, vm_max: null, vcpu_max: null, ram_max: null, disk_max: null };

/** Store a definition; one without quota or guest network (from a 0.2 peer) keeps the stored ones. */
export function putVpc(db: Db, v: VpcDef): void {
  const old = v.quota === undefined || v.guestNetwork === undefined || v.encrypt === undefined || v.fdb === undefined ? getVpc(db, v.name) : null;
  const q = v.quota ?? old?.quota ?? NO_LIMITS;
  const g = v.guestNetwork !== undefined ? v.guestNetwork : (old?.guestNetwork ?? null);
  const e = v.encrypt ?? old?.encrypt ?? 'none';
  const f = v.fdb ?? old?.fdb ?? null;
  db.prepare(
    `INSERT INTO vpc (name, peer_network, family, mtu, firewall, jail_max, vm_max, vcpu_max, ram_max, disk_max, guest_network, guest_gateway, encrypt, fdb)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET peer_network = excluded.peer_network, family = excluded.family,
       mtu = excluded.mtu, firewall = excluded.firewall, jail_max = excluded.jail_max, vm_max = excluded.vm_max,
       vcpu_max = excluded.vcpu_max, ram_max = excluded.ram_max, disk_max = excluded.disk_max,
       guest_network = excluded.guest_network, guest_gateway = excluded.guest_gateway, encrypt = excluded.encrypt, fdb = excluded.fdb`,
  ).run(v.name, v.peerNetwork, v.family, v.mtu, v.firewall ? 1 : 0, q.jail_max, q.vm_max, q.vcpu_max, q.ram_max, q.disk_max, g?.network ?? null, g?.gateway ?? null, e, f);
  db.prepare('DELETE FROM vpc_member WHERE vpc = ?').run(v.name);
  const add = db.prepare('INSERT INTO vpc_member (vpc, node, underlay, wg_key, wg_port, mtu) VALUES (?, ?, ?, ?, ?, ?)');
  // A cleartext VPC keeps no keys: one planted there would wait for a later encrypt=wireguard.
  const sealed = e === 'wireguard';
  for (const m of v.members) add.run(v.name, m.node, m.underlay, sealed ? (m.wgKey ?? null) : null, sealed && m.wgKey ? (m.wgPort ?? null) : null, m.mtu ?? null);
  db.prepare('INSERT OR IGNORE INTO vpc_local (vpc) VALUES (?)').run(v.name);
}

export function putPairs(db: Db, vpc: string, list: readonly Pair[]): void {
  db.prepare('DELETE FROM vpc_pair WHERE vpc = ?').run(vpc);
  const add = db.prepare(
    'INSERT INTO vpc_pair (vpc, a, b, vni, slot, addr_a, addr_b, prefix, seal_slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const p of list) add.run(vpc, p.a, p.b, p.vni, p.slot, p.addrA, p.addrB, p.prefix, p.sealSlot ?? null);
}

/** VNIs held by every VPC but one: the allocator must not hand these out. */
export function vnisOutside(db: Db, vpc: string): Set<number> {
  return new Set((db.prepare('SELECT vni FROM vpc_pair WHERE vpc <> ?').all(vpc) as Row[]).map((r) => Number(r.vni)));
}

export function deleteVpc(db: Db, name: string): void {
  db.prepare('DELETE FROM vpc WHERE name = ?').run(name);
  // Forgotten by any path: a later VPC of the same name is not the agent's.
  db.prepare('DELETE FROM agent_vpc WHERE name = ?').run(name);
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
       bridge_ips = excluded.bridge_ips, owned = excluded.owned, applied = NULL`,
  ).run(vpc, l.vxlan ? 1 : 0, l.bridge ? 1 : 0, JSON.stringify(l.bridgeIps), JSON.stringify(l.owned));
}

/** What the last deploy applied here (core/applied.ts); null when unknown or when the local record changed since. */
export function getApplied(db: Db, vpc: string): AppliedRecord | null {
  const r = db.prepare('SELECT applied FROM vpc_local WHERE vpc = ?').get(vpc) as Row | undefined;
  if (!r || r.applied === null || r.applied === undefined) return null;
  try {
    const o = JSON.parse(s(r.applied)) as Partial<AppliedRecord>;
    return typeof o.digest === 'string' && typeof o.links === 'string' ? { digest: o.digest, links: o.links } : null;
  } catch {
    return null;
  }
}

/** Remember what a deploy applied; a VPC with no local record here (never applied) keeps none. */
export function putApplied(db: Db, vpc: string, a: AppliedRecord | null): void {
  db.prepare('UPDATE vpc_local SET applied = ? WHERE vpc = ?').run(a === null ? null : JSON.stringify({ digest: a.digest, links: a.links }), vpc);
}

const macsOf = (x: unknown): string[] | null => {
  if (typeof x !== 'string') return null;
  const list = JSON.parse(x) as unknown;
  return Array.isArray(list) ? list.filter((m): m is string => typeof m === 'string') : null;
};

function toGuest(r: Row): GuestRecord {
  const base = {
    name: s(r.name),
    interface: s(r.interface),
    ip4Addr: sn(r.ip4_addr),
    ip6Addr: sn(r.ip6_addr),
    guestId: sn(r.guest_id),
    hostIf: s(r.host_if),
    astart: Number(r.astart) === 1,
    ...(typeof r.macs === 'string' ? { macs: macsOf(r.macs) } : {}),
  };
  if (r.kind !== 'vm') {
    const extra = JSON.parse(s(r.extra_nics ?? '[]')) as ExtraNic[];
    return { ...base, kind: 'jail', vnet: Number(r.vnet) === 1, ...(extra.length > 0 ? { extra } : {}) };
  }
  const vm: VmConfig = {
    ramBytes: Number(r.vm_ram),
    cpus: Number(r.vm_cpus),
    accel: s(r.vm_accel) as VmAccel | 'auto',
    kernel: sn(r.vm_kernel),
    initrd: sn(r.vm_initrd),
    disk: sn(r.vm_disk),
    diskBytes: Number(r.vm_disk_bytes ?? 0),
  };
  return { ...base, kind: 'vm', vm };
}

/** Every guest of this host, containers and VMs. */
export function listGuests(db: Db): GuestRecord[] {
  return (db.prepare('SELECT * FROM jail ORDER BY name').all() as Row[]).map(toGuest);
}

/** A guest by name, whatever its kind (names are unique across kinds on a host). */
export function getGuest(db: Db, name: string): GuestRecord | null {
  const r = db.prepare('SELECT * FROM jail WHERE name = ?').get(name) as Row | undefined;
  return r ? toGuest(r) : null;
}

export function listJails(db: Db): JailRecord[] {
  return listGuests(db).filter((g): g is JailRecord => g.kind === 'jail');
}

export function getJail(db: Db, name: string): JailRecord | null {
  const g = getGuest(db, name);
  return g && g.kind === 'jail' ? g : null;
}

export function putGuest(db: Db, g: GuestRecord): void {
  const vm = g.kind === 'vm' ? g.vm : null;
  db.prepare(
    `INSERT INTO jail (name, interface, ip4_addr, ip6_addr, guest_id, host_if, vnet, kind, astart, vm_ram, vm_cpus, vm_accel, vm_kernel, vm_initrd, vm_disk, vm_disk_bytes, extra_nics)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    g.name,
    g.interface,
    g.ip4Addr,
    g.ip6Addr,
    g.guestId,
    g.hostIf,
    g.kind === 'jail' && g.vnet ? 1 : 0,
    g.kind,
    g.astart ? 1 : 0,
    vm?.ramBytes ?? null,
    vm?.cpus ?? null,
    vm?.accel ?? null,
    vm?.kernel ?? null,
    vm?.initrd ?? null,
    vm?.disk ?? null,
    vm?.diskBytes ?? null,
    JSON.stringify(g.kind === 'jail' ? (g.extra ?? []) : []),
  );
}

export const putJail = (db: Db, j: JailRecord): void => putGuest(db, j);

/** What meshvpc started for the guest (null: stopped), and the MACs of its interfaces, eth0 first. */
export function setGuestId(db: Db, name: string, guestId: string | null, macs: readonly string[] | null = null): void {
  db.prepare('UPDATE jail SET guest_id = ?, macs = ? WHERE name = ?').run(guestId, guestId === null || macs === null ? null : JSON.stringify(macs), name);
}

export const setJailGuestId = setGuestId;

export function deleteGuest(db: Db, name: string): void {
  db.prepare('DELETE FROM jail WHERE name = ?').run(name);
}

export const deleteJail = deleteGuest;

/** The tunnel MTU measured to cross to each peer of a VPC (vpc mode=check_mtu fix=1); empty when never measured. */
export function getMtuCaps(db: Db, vpc: string): Map<string, number> {
  const r = db.prepare('SELECT mtu_caps FROM vpc_local WHERE vpc = ?').get(vpc) as Row | undefined;
  const raw = r ? (JSON.parse(s(r.mtu_caps)) as Record<string, unknown>) : {};
  return new Map(Object.entries(raw).filter((e): e is [string, number] => Number.isSafeInteger(e[1])));
}

export function putMtuCaps(db: Db, vpc: string, caps: ReadonlyMap<string, number>): void {
  db.prepare('UPDATE vpc_local SET mtu_caps = ? WHERE vpc = ?').run(JSON.stringify(Object.fromEntries(caps)), vpc);
}

/**
 * Replace what `node` last reported about its guests on `vpc`. `heard`: the list is its full
 * report for the control-plane FDB (guest_report, the store), whose running flag says the guest
 * runs at its derived MAC; an admission's guest_list answer counts guests but is not that.
 */
export function putSeen(db: Db, vpc: string, node: string, guests: readonly GuestOnHost[], heard = true): void {
  db.prepare('DELETE FROM guest_seen WHERE vpc = ? AND node = ?').run(vpc, node);
  const add = db.prepare('INSERT INTO guest_seen (vpc, node, name, kind, ip4_addr, ip6_addr, vcpus, ram_bytes, disk_bytes, running) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const g of guests) add.run(vpc, node, g.name, g.kind, g.ip4Addr, g.ip6Addr, g.vcpus, g.ramBytes, g.diskBytes, g.running ? 1 : 0);
  // A full list from the member itself: from now on its guests on the VPC are known here.
  if (heard) db.prepare('INSERT INTO guest_report (vpc, node, heard) VALUES (?, ?, 1) ON CONFLICT (vpc, node) DO UPDATE SET heard = 1').run(vpc, node);

}

/** The members whose full guest list on `vpc` this host holds. */
export function heardFrom(db: Db, vpc: string): Set<string> {
  return new Set((db.prepare('SELECT node FROM guest_report WHERE vpc = ? AND heard = 1').all(vpc) as Row[]).map((r) => s(r.node)));
}

/** The digest of this host's own guest report on `vpc` as `node` last took it (null: never). */
export function toldDigest(db: Db, vpc: string, node: string): string | null {
  const r = db.prepare('SELECT told FROM guest_report WHERE vpc = ? AND node = ?').get(vpc, node) as Row | undefined;
  return r ? sn(r.told) : null;
}

export function putTold(db: Db, vpc: string, node: string, digest: string): void {
  db.prepare('INSERT INTO guest_report (vpc, node, told) VALUES (?, ?, ?) ON CONFLICT (vpc, node) DO UPDATE SET told = excluded.told').run(vpc, node, digest);
}

/** Every node that reported guests on `vpc` here (or was told this host's). */
export function reportersOf(db: Db, vpc: string): string[] {
  return (db.prepare('SELECT node FROM guest_report WHERE vpc = ? UNION SELECT node FROM guest_seen WHERE vpc = ?').all(vpc, vpc) as Row[]).map((r) => s(r.node));
}

/** Forget what `node` reported on `vpc` (it left the VPC), or everything about the VPC. */
export function forgetReports(db: Db, vpc: string, node?: string): void {
  if (node === undefined) {
    db.prepare('DELETE FROM guest_report WHERE vpc = ?').run(vpc);
    db.prepare('DELETE FROM guest_seen WHERE vpc = ?').run(vpc);
    return;
  }
  db.prepare('DELETE FROM guest_report WHERE vpc = ? AND node = ?').run(vpc, node);
  db.prepare('DELETE FROM guest_seen WHERE vpc = ? AND node = ?').run(vpc, node);
}

export function getFdbRecord(db: Db, vpc: string): FdbRecord {
  const r = db.prepare('SELECT fdb_record FROM vpc_local WHERE vpc = ?').get(vpc) as Row | undefined;
  let raw: { entries?: unknown; neighbours?: unknown } = {};
  try {
    raw = r ? (JSON.parse(s(r.fdb_record)) as typeof raw) ?? {} : {};
  } catch {
    // Unreadable: nothing is known to be meshvpc's, so nothing is removed (entries are set again).
  }
  const entries = Array.isArray(raw.entries) ? raw.entries.filter((e): e is FdbEntry => typeof e?.mac === 'string' && typeof e?.port === 'string') : [];
  const neighbours = Array.isArray(raw.neighbours) ? raw.neighbours.filter((n): n is NeighEntry => typeof n?.ip === 'string' && typeof n?.mac === 'string') : [];
  return { entries, neighbours };
}

export function putFdbRecord(db: Db, vpc: string, record: FdbRecord): void {
  db.prepare('UPDATE vpc_local SET fdb_record = ? WHERE vpc = ?').run(JSON.stringify(record), vpc);
}

/** What `node` last reported about its guests on `vpc` (running: as reported; false in rows kept from before 0.5). */
export function getSeen(db: Db, vpc: string, node?: string): GuestOnHost[] {
  const rows = (node === undefined
    ? db.prepare('SELECT * FROM guest_seen WHERE vpc = ? ORDER BY node, name').all(vpc)
    : db.prepare('SELECT * FROM guest_seen WHERE vpc = ? AND node = ? ORDER BY name').all(vpc, node)) as Row[];
  return rows.map((r) => ({
    name: s(r.name),
    node: s(r.node),
    kind: r.kind === 'vm' ? 'vm' : 'jail',
    interface: vpc,
    ip4Addr: sn(r.ip4_addr),
    ip6Addr: sn(r.ip6_addr),
    running: Number(r.running) === 1,
    vcpus: Number(r.vcpus),
    ramBytes: Number(r.ram_bytes),
    diskBytes: Number(r.disk_bytes),
  }));
}

/** Who holds the VPC's guest lease, unless it is free, expired or held by `token` (a read: no write lock). */
export function leaseHolder(db: Db, vpc: string, token: string, now = Date.now()): { holder: string; expiresMs: number } | null {
  const r = db.prepare('SELECT holder, token, expires_ms FROM guest_lease WHERE vpc = ?').get(vpc) as Row | undefined;
  return r && s(r.token) !== token && Number(r.expires_ms) > now ? { holder: s(r.holder), expiresMs: Number(r.expires_ms) } : null;
}

/**
 * Take the VPC's guest lease for `holder` unless someone else holds it and it
 * has not expired. Returns the current holder when refused.
 */
export function tryLease(db: Db, vpc: string, holder: string, token: string, ttlMs: number, now = Date.now()): { holder: string; expiresMs: number } | null {
  const held = leaseHolder(db, vpc, token, now);
  if (held) return held;
  // Its own holder asking again does not extend it: one acquisition lasts one TTL at most.
  const mine = db.prepare('SELECT expires_ms FROM guest_lease WHERE vpc = ? AND token = ?').get(vpc, token) as Row | undefined;
  if (mine && Number(mine.expires_ms) > now) return null;
  db.prepare(
    `INSERT INTO guest_lease (vpc, holder, token, expires_ms) VALUES (?, ?, ?, ?)
     ON CONFLICT (vpc) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_ms = excluded.expires_ms`,
  ).run(vpc, holder, token, now + ttlMs);
  return null;
}

/** Give the lease back; only its holder's token can. */
export function releaseLease(db: Db, vpc: string, token: string): boolean {
  return db.prepare('DELETE FROM guest_lease WHERE vpc = ? AND token = ?').run(vpc, token).changes > 0;
}

/** The VPCs this host's agent brought here from the store (backend=etcd): the only ones it may take away. */
export function agentVpcs(db: Db): string[] {
  return (db.prepare('SELECT name FROM agent_vpc ORDER BY name').all() as Row[]).map((r) => s(r.name));
}

export function addAgentVpc(db: Db, name: string): void {
  db.prepare('INSERT OR IGNORE INTO agent_vpc (name) VALUES (?)').run(name);
}

export function dropAgentVpc(db: Db, name: string): void {
  db.prepare('DELETE FROM agent_vpc WHERE name = ?').run(name);
}
