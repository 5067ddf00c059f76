#!/usr/bin/env node
/**
 * Makes test/fixtures/db-0.4.0.sqlite: a host database written by meshvpc
 * 0.4.0's own code (schema 8), for the upgrade test in
 * test/unit/store-migrate.test.ts.
 *
 * Usage, from the checkout (root: it needs namespaces of its own):
 *
 *   unshare -n -m node scripts/make-fixture-db-0.4.0.mjs [OUT]
 *
 * OUT defaults to test/fixtures/db-0.4.0.sqlite. As for 0.3.0's fixture
 * (scripts/make-fixture-db-0.3.0.mjs): the network namespace of its own means
 * nothing it runs can reach or change a real network (the peers 0.4.0 tries
 * to ask fail at once, no route to them; the interfaces and nftables rules of
 * `vpc mode=init_vxlan|init_bridge` vanish with the namespace), and the mount
 * namespace gives it a tmpfs at /srv, so the paths 0.4.0 stores (its home, a
 * VM's kernel and disk) are the same on every run.
 *
 * How: 0.4.0 (commit RELEASE_0_4_0 below, as in src/lab/release.ts) is built
 * from this checkout's history against this checkout's node_modules, the way
 * buildRelease does. Then, in order:
 *   - 0.4.0's CLI: initenv with wg_port= (this host's WireGuard key and port);
 *   - 0.4.0's repo.putNode for two nodes (node mode=add would need them to answer
 *     over SSH), and repo.putNodeSeal for each: the WireGuard key and port a node
 *     states in its hello (keys made with 0.4.0's newWgKeyPair);
 *   - in the private network namespace, an underlay (a veth pair with rel1's
 *     addresses, MTU 9000): 0.4.0 records this host's link MTU on its members;
 *   - 0.4.0's CLI: vpc mode=init (tenant: every quota and a guest network;
 *     backend: firewall=0, IPv4; solo: this host alone; vault: encrypt=wireguard)
 *     and vpc mode=init_peers (peers unreachable: it allocates around what it
 *     knows, vault's members' WireGuard keys from the node records, each pair a
 *     seal slot);
 *   - 0.4.0's repo.putVpc: vault's members' link MTUs as a deploy stores them when
 *     rel2 and rel3 report theirs;
 *   - 0.4.0's repo.putSeen: what rel2 and rel3 reported about their guests;
 *   - 0.4.0's CLI: jcreate (two VPCs: extra_nics; ip4_addr=auto; astart=1; one on
 *     vault), bcreate (kernel, initrd, disk; no runasap), all with force=1;
 *   - 0.4.0's CLI: token mode=create (read and admin), and 0.4.0's checkToken once
 *     with the read token (what the API does: sets last_used);
 *   - 0.4.0's CLI: vpc mode=init_vxlan and init_bridge with bridge_ips on tenant,
 *     init_vxlan on backend (vpc_local as 0.4.0 records it);
 *   - 0.4.0's repo.putMtuCaps (what vpc mode=check_mtu fix=1 stores) and
 *     repo.tryLease (rel2 holding tenant's guest lease, as guest_hold does);
 *   - under 0.4.0's withLock('op:vault', 'vpc mode=deploy'): checkpoint the WAL
 *     and copy the file, so a held lock is in it.
 * It prints the read token, the lease and the WireGuard keys, which the test compares.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import console from 'node:console';
import process from 'node:process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const RELEASE_0_4_0 = 'f959b9a';
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(checkout, 'test', 'fixtures', 'db-0.4.0.sqlite'));
const SRV = '/srv';
const HOME = join(SRV, 'meshvpc');
const IMAGES = join(SRV, 'vm');

function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  return r;
}

function must(argv, opts = {}) {
  const r = run(argv, opts);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// Refuse to run anywhere but in a network namespace of its own with nothing in it yet.
const linksNow = JSON.parse(must(['ip', '-j', 'link', 'show']));
if (linksNow.length !== 1 || linksNow[0].ifname !== 'lo') {
  console.error('run me in a network and mount namespace of my own: unshare -n -m node scripts/make-fixture-db-0.4.0.mjs');
  process.exit(2);
}
const selfNs = must(['readlink', '/proc/self/ns/mnt']).trim();
const initNs = run(['readlink', '/proc/1/ns/mnt']).stdout.trim();
if (selfNs === initNs) {
  console.error('run me in a mount namespace of my own too (unshare -n -m): /srv gets a tmpfs');
  process.exit(2);
}

// 0.4.0, built from history the way src/lab/release.ts's buildRelease does.
const rel = mkdtempSync(join(tmpdir(), `meshvpc-${RELEASE_0_4_0}-`));
try {
  must(['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'archive', checkout, RELEASE_0_4_0, rel]);
  symlinkSync(join(checkout, 'node_modules'), join(rel, 'node_modules'));
  must([process.execPath, join(checkout, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(rel, 'tsconfig.json')]);
  const version = must([process.execPath, join(rel, 'bin', 'meshvpc.js'), 'version']).trim();
  if (version !== '0.4.0') throw new Error(`${RELEASE_0_4_0} says it is ${version}, not 0.4.0`);

  must(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'fixture', SRV]);
  mkdirSync(IMAGES, { recursive: true });
  const env = { ...process.env, MESHVPC_HOME: HOME, MESHVPC_SSH_TIMEOUT_MS: '2000' };
  /** 0.4.0's CLI; `allow` lists the other exit statuses expected (a peer it could not ask). */
  const cli = (args, allow = []) => {
    const r = run([process.execPath, join(rel, 'bin', 'meshvpc.js'), ...args], { env });
    if (r.status !== 0 && !allow.includes(r.status)) throw new Error(`meshvpc ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    console.log(`$ meshvpc ${args.join(' ')}  (exit ${r.status})\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const mod = (p) => import(pathToFileURL(join(rel, 'dist', 'src', p)).href);
  const { openDb } = await mod('store/db.js');
  const repo = await mod('store/repo.js');
  const { checkToken } = await mod('store/tokens.js');
  const { withLock } = await mod('store/lock.js');
  const { generateClusterKey } = await mod('cluster/keys.js');
  const { newWgKeyPair } = await mod('cluster/wg-keys.js');
  /** 0.4.0's store functions on the home, in one transaction, the way its commands write. */
  const store = (fn) => {
    const db = openDb(HOME, 'write');
    try {
      return db.transaction(() => fn(db))();
    } finally {
      db.close();
    }
  };

  const init = cli(['initenv', 'nodename=rel1', 'nodeip=192.0.2.40', 'nodeip6=2001:db8::40', 'wg_port=51900']);
  console.log(init);
  const hostKey = (name) => generateClusterKey(`host@${name}`).public.split(' ')[1];
  const wg2 = newWgKeyPair().publicKey;
  const wg3 = newWgKeyPair().publicKey;
  store((db) => {
    repo.putNode(db, { name: 'rel2', sshAddress: '192.0.2.41', sshPort: 22, sshUser: 'root', ip4: '192.0.2.41', ip6: '2001:db8::41', hostKey: hostKey('rel2'), platform: 'linux' });
    repo.putNode(db, { name: 'rel3', sshAddress: '2001:db8::42', sshPort: 2222, sshUser: 'admin', ip4: null, ip6: '2001:db8::42', hostKey: hostKey('rel3'), platform: 'freebsd' });
    // What each said of its own WireGuard identity in a hello.
    repo.putNodeSeal(db, 'rel2', wg2, 51820);
    repo.putNodeSeal(db, 'rel3', wg3, 51999);
  });

  must(['ip', 'link', 'set', 'lo', 'up']);
  must(['ip', 'link', 'add', 'uplink', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'uplink-far', 'mtu', '9000']);
  must(['ip', 'addr', 'add', '192.0.2.40/24', 'dev', 'uplink']);
  must(['ip', '-6', 'addr', 'add', '2001:db8::40/64', 'dev', 'uplink', 'nodad']);
  must(['ip', 'link', 'set', 'uplink', 'up']);

  cli(['vpc', 'mode=init', 'vpc_name=tenant', 'node_member=all', 'peer_network=198.51.100.0/26', 'mtu=1400', 'jail_max=4', 'vm_max=2', 'vcpu_max=8', 'ram_max=4g', 'disk_max=20g', 'guest_network=10.60.0.0/24', 'guest_gateway=10.60.0.1']);
  cli(['vpc', 'mode=init', 'vpc_name=backend', 'node_member=rel1,rel2', 'underlay=v4', 'peer_network=198.51.100.64/26', 'firewall=0']);
  cli(['vpc', 'mode=init', 'vpc_name=solo', 'node_member=rel1', 'peer_network=198.51.100.128/26', 'guest_network=2001:db8:61::/64']);
  cli(['vpc', 'mode=init', 'vpc_name=vault', 'node_member=all', 'peer_network=198.51.100.192/26', 'encrypt=wireguard']);
  for (const vpc of ['tenant', 'backend', 'solo', 'vault']) cli(['vpc', 'mode=init_peers', `vpc_name=${vpc}`], [1]);

  store((db) => {
    // The link MTUs rel2 and rel3 reported to a deploy of vault (rel1's own came from the uplink).
    const vault = repo.getVpc(db, 'vault');
    if (!vault || vault.encrypt !== 'wireguard') throw new Error('vault is not encrypted');
    if (vault.pairs.some((p) => p.sealSlot === undefined)) throw new Error('a pair of vault has no seal slot');
    if (vault.members.some((m) => !m.wgKey || !m.wgPort)) throw new Error(`a member of vault has no WireGuard key: ${JSON.stringify(vault.members)}`);
    const reported = { rel2: 1500, rel3: 1400 };
    repo.putVpc(db, { ...vault, members: vault.members.map((m) => (m.node in reported ? { ...m, mtu: reported[m.node] } : m)) });
  });

  const seen = (node, name, kind, ip4Addr, ip6Addr, vcpus, ramBytes, diskBytes, vpc = 'tenant') => ({ name, node, kind, interface: vpc, ip4Addr, ip6Addr, running: true, vcpus, ramBytes, diskBytes });
  store((db) => {
    repo.putSeen(db, 'tenant', 'rel2', [seen('rel2', 'api2', 'jail', '10.60.0.2/24', null, 0, 0, 0), seen('rel2', 'vm2', 'vm', '10.60.0.3/24', null, 1, 268435456, 1073741824)]);
    repo.putSeen(db, 'tenant', 'rel3', [seen('rel3', 'db3', 'jail', '10.60.0.4/24', '2001:db8:60::4/64', 0, 0, 0)]);
    repo.putSeen(db, 'vault', 'rel2', [seen('rel2', 'sec2', 'jail', '10.62.0.2/24', null, 0, 0, 0, 'vault')]);
  });

  writeFileSync(join(IMAGES, 'vmlinuz'), Buffer.alloc(4096, 1));
  writeFileSync(join(IMAGES, 'initrd.img'), Buffer.alloc(2048, 2));
  writeFileSync(join(IMAGES, 'vm1.img'), Buffer.alloc(65536, 0));
  cli(['jcreate', 'jname=web1', 'interface=tenant,backend', 'ip4_addr=auto,203.0.113.7/24', 'astart=1', 'force=1']);
  cli(['jcreate', 'jname=db1', 'interface=tenant', 'ip4_addr=10.60.0.20/24', 'ip6_addr=2001:db8:60::20/64', 'force=1']);
  cli(['jcreate', 'jname=cache1', 'interface=solo', 'ip6_addr=auto']);
  cli(['jcreate', 'jname=sec1', 'interface=vault', 'ip4_addr=10.62.0.1/24', 'astart=1']);
  cli(['bcreate', 'jname=vm1', 'interface=tenant', 'vm_ram=512m', 'vm_cpus=2', 'vm_accel=tcg', `vm_kernel=${join(IMAGES, 'vmlinuz')}`, `vm_initrd=${join(IMAGES, 'initrd.img')}`, `vm_disk=${join(IMAGES, 'vm1.img')}`, 'ip4_addr=auto', 'astart=1', 'force=1']);

  const readToken = cli(['token', 'mode=create', 'name=ro-monitor', 'role=read']).trim().split(/\s+/).find((w) => w.startsWith('mvpc_'));
  cli(['token', 'mode=create', 'name=ops', 'role=admin']);
  if (!readToken) throw new Error('token mode=create printed no token');
  store((db) => {
    if (checkToken(db, readToken)?.name !== 'ro-monitor') throw new Error('0.4.0 does not take its own token');
  });

  cli(['vpc', 'mode=init_vxlan', 'vpc_name=tenant']);
  cli(['vpc', 'mode=init_bridge', 'vpc_name=tenant', 'bridge_ips=10.60.0.1/24,2001:db8:60::1/64']);
  cli(['vpc', 'mode=init_vxlan', 'vpc_name=backend']);

  // A guest_hold's token is the asking host's own (16 random bytes in hex).
  const LEASE_TOKEN = randomBytes(16).toString('hex');
  const now = Date.now();
  store((db) => {
    repo.putMtuCaps(db, 'tenant', new Map([['rel3', 1380]]));
    const held = repo.tryLease(db, 'tenant', 'rel2', LEASE_TOKEN, 60_000, now);
    if (held) throw new Error(`tenant's lease is held by ${held.holder}`);
  });

  const db = openDb(HOME, 'write');
  try {
    const self = repo.getVpc(db, 'vault').members.find((m) => m.node === 'rel1');
    await withLock(db, 'op:vault', 'vpc mode=deploy', async () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      copyFileSync(join(HOME, 'meshvpc.sqlite'), out);
      chmodSync(out, 0o644);
    });
    console.log(`wrote ${out}`);
    console.log(`read token: ${readToken}`);
    console.log(`lease: tenant held by rel2, token ${LEASE_TOKEN}, expires_ms ${now + 60_000}`);
    console.log(`WireGuard keys: rel1 ${self.wgKey} port ${self.wgPort}, rel2 ${wg2} port 51820, rel3 ${wg3} port 51999`);
  } finally {
    db.close();
  }
} finally {
  if (existsSync(join(SRV, 'meshvpc'))) spawnSync('umount', [SRV]);
  rmSync(rel, { recursive: true, force: true });
}
