/** Schema migrations, applied in order; user_version counts the ones applied. Append only. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE self (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    nodename TEXT NOT NULL,
    ip4 TEXT,
    ip6 TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  CREATE TABLE node (
    name TEXT PRIMARY KEY,
    ssh_address TEXT NOT NULL,
    ssh_port INTEGER NOT NULL,
    ssh_user TEXT NOT NULL,
    ip4 TEXT,
    ip6 TEXT,
    host_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  CREATE TABLE vpc (
    name TEXT PRIMARY KEY,
    peer_network TEXT NOT NULL,
    family INTEGER NOT NULL CHECK (family IN (4, 6)),
    mtu INTEGER,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  CREATE TABLE vpc_member (
    vpc TEXT NOT NULL REFERENCES vpc(name) ON DELETE CASCADE,
    node TEXT NOT NULL,
    underlay TEXT NOT NULL,
    PRIMARY KEY (vpc, node)
  );
  -- vni is UNIQUE over all VPCs: two VPCs on one host can never share a VXLAN id.
  CREATE TABLE vpc_pair (
    vpc TEXT NOT NULL REFERENCES vpc(name) ON DELETE CASCADE,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    vni INTEGER NOT NULL UNIQUE,
    slot INTEGER NOT NULL,
    addr_a TEXT NOT NULL,
    addr_b TEXT NOT NULL,
    prefix INTEGER NOT NULL,
    PRIMARY KEY (vpc, a, b),
    UNIQUE (vpc, slot)
  );
  -- What this host asked for (layers, bridge addresses) and what it created.
  CREATE TABLE vpc_local (
    vpc TEXT PRIMARY KEY REFERENCES vpc(name) ON DELETE CASCADE,
    vxlan INTEGER NOT NULL DEFAULT 0,
    bridge INTEGER NOT NULL DEFAULT 0,
    bridge_ips TEXT NOT NULL DEFAULT '[]',
    owned TEXT NOT NULL DEFAULT '[]'
  );
  CREATE TABLE jail (
    name TEXT PRIMARY KEY,
    interface TEXT NOT NULL,
    ip4_addr TEXT,
    host_if TEXT NOT NULL UNIQUE,
    vnet INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  `,
  `
  -- Who is changing what: see store/lock.ts.
  CREATE TABLE lock (
    name TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    what TEXT NOT NULL,
    acquired_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  -- Whether VXLAN from outside the VPC's members is dropped (nftables on Linux).
  ALTER TABLE vpc ADD COLUMN firewall INTEGER NOT NULL DEFAULT 1;
  `,
  `
  -- A container's IPv6 address (ip6_addr=), and the identity of the namespace
  -- or jail meshvpc started for it: stop and remove touch only that one.
  ALTER TABLE jail ADD COLUMN ip6_addr TEXT;
  ALTER TABLE jail ADD COLUMN guest_id TEXT;
  `,
  `
  -- Locks are owned by a token per acquisition, not by a pid: one long-lived
  -- process (the server) running two changes of one VPC must serialise them.
  ALTER TABLE lock ADD COLUMN token TEXT;
  `,
  `
  -- API tokens (meshvpc token): only a hash of each is kept.
  CREATE TABLE api_token (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'read')),
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    last_used TEXT
  );
  `,
  `
  -- Per-VPC quotas (NULL: no limit) and the guest network ip4_addr=auto takes from.
  ALTER TABLE vpc ADD COLUMN jail_max INTEGER;
  ALTER TABLE vpc ADD COLUMN vm_max INTEGER;
  ALTER TABLE vpc ADD COLUMN vcpu_max INTEGER;
  ALTER TABLE vpc ADD COLUMN ram_max INTEGER;
  ALTER TABLE vpc ADD COLUMN disk_max INTEGER;
  ALTER TABLE vpc ADD COLUMN guest_network TEXT;
  ALTER TABLE vpc ADD COLUMN guest_gateway TEXT;
  -- The jail table holds every guest (named in 0.1, when containers were the only kind).
  ALTER TABLE jail ADD COLUMN kind TEXT NOT NULL DEFAULT 'jail' CHECK (kind IN ('jail', 'vm'));
  ALTER TABLE jail ADD COLUMN astart INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jail ADD COLUMN vm_ram INTEGER;
  ALTER TABLE jail ADD COLUMN vm_cpus INTEGER;
  ALTER TABLE jail ADD COLUMN vm_accel TEXT;
  ALTER TABLE jail ADD COLUMN vm_kernel TEXT;
  ALTER TABLE jail ADD COLUMN vm_initrd TEXT;
  ALTER TABLE jail ADD COLUMN vm_disk TEXT;
  ALTER TABLE jail ADD COLUMN vm_disk_bytes INTEGER;
  -- A container's eth1, eth2, ... on other VPCs: [{vpc, ip4Addr, ip6Addr, hostIf}].
  ALTER TABLE jail ADD COLUMN extra_nics TEXT NOT NULL DEFAULT '[]';
  -- The largest tunnel MTU measured to cross to each peer ({peer: bytes}; vpc mode=check_mtu fix=1).
  ALTER TABLE vpc_local ADD COLUMN mtu_caps TEXT NOT NULL DEFAULT '{}';
  -- The guests each member last reported for a VPC: an unreachable member's
  -- addresses stay taken (force=1) instead of being handed out again.
  CREATE TABLE guest_seen (
    vpc TEXT NOT NULL,
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    ip4_addr TEXT,
    ip6_addr TEXT,
    vcpus INTEGER NOT NULL,
    ram_bytes INTEGER NOT NULL,
    disk_bytes INTEGER NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (vpc, node, name)
  );
  -- Who may add a guest to a VPC right now: held on the VPC's arbiter (its
  -- first member by name) for one guarded creation at a time, cluster-wide.
  CREATE TABLE guest_lease (
    vpc TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  );
  `,
  `
  -- encrypt=wireguard (see core/seal.ts): the VPC's setting, each pair's second
  -- block (its ends sit on the hosts' WireGuard link), and each host's
  -- WireGuard public key and port as it said them itself.
  ALTER TABLE vpc ADD COLUMN encrypt TEXT NOT NULL DEFAULT 'none' CHECK (encrypt IN ('none', 'wireguard'));
  ALTER TABLE vpc_pair ADD COLUMN seal_slot INTEGER;
  ALTER TABLE vpc_member ADD COLUMN wg_key TEXT;
  ALTER TABLE vpc_member ADD COLUMN wg_port INTEGER;
  ALTER TABLE node ADD COLUMN wg_key TEXT;
  ALTER TABLE node ADD COLUMN wg_port INTEGER;
  ALTER TABLE self ADD COLUMN wg_port INTEGER;
  `,
  `
  -- The MTU of each member's underlay link as it reported it (NULL: unknown),
  -- so tunnels to a member with a smaller link are made smaller (core/mtu-claims.ts).
  ALTER TABLE vpc_member ADD COLUMN mtu INTEGER;
  `,
  `
  -- fdb=control (core/fdb.ts): the VPC's setting (NULL: not known yet, a VPC from before,
  -- which learns until a member's definition says otherwise), what this host put on the
  -- bridge (the only entries it removes), the MACs each guest runs with (per interface;
  -- NULL: stopped, or started before), and which members' guest reports it holds:
  -- guest_seen rows of a member whose report was heard are its full list; told is the
  -- digest of this host's own report as that member last took it.
  ALTER TABLE vpc ADD COLUMN fdb TEXT CHECK (fdb IS NULL OR fdb IN ('learn', 'control'));
  ALTER TABLE jail ADD COLUMN macs TEXT;
  ALTER TABLE vpc_local ADD COLUMN fdb_record TEXT NOT NULL DEFAULT '{"entries":[],"neighbours":[]}';
  ALTER TABLE guest_seen ADD COLUMN running INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE guest_report (
    vpc TEXT NOT NULL,
    node TEXT NOT NULL,
    heard INTEGER NOT NULL DEFAULT 0,
    told TEXT,
    PRIMARY KEY (vpc, node)
  );
  `,
  `
  -- The cluster's control plane (meshvpc cluster mode=init; see docs/etcd.md). No row: the
  -- embedded default (SQLite per host + SSH push). managed: meshvpc runs the etcd members
  -- (etcd_members=); 0: an existing etcd (endpoints=). Files are PEM paths on this host.
  CREATE TABLE cluster_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    backend TEXT NOT NULL CHECK (backend IN ('etcd')),
    managed INTEGER NOT NULL CHECK (managed IN (0, 1)),
    cluster_token TEXT,
    ca_file TEXT NOT NULL,
    cert_file TEXT NOT NULL,
    key_file TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
  );
  -- The etcd members (or, for an existing etcd, its endpoints): URLs as JSON lists.
  CREATE TABLE etcd_member (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    client_urls TEXT NOT NULL,
    peer_urls TEXT NOT NULL DEFAULT '[]'
  );
  `,
  `
  -- The VPCs this host's agent (meshvpc agent, backend=etcd) brought here from the store:
  -- the only ones it takes away when they leave the store or this host leaves them.
  CREATE TABLE agent_vpc (
    name TEXT PRIMARY KEY
  );
  `,
  `
  -- What the last deploy applied here ({digest, links}; core/applied.ts), so a
  -- no-op deploy can leave this host alone. NULL: unknown; every write of the
  -- local record (a reconcile) sets it back to NULL.
  ALTER TABLE vpc_local ADD COLUMN applied TEXT;
  `,
];
