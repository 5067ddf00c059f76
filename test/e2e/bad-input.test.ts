/**
 * Bad input: every case is refused with a one-line error naming the bad value,
 * a non-zero exit, and no change to the database or the interfaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LabState } from '../../src/lab/lab.js';
import { joinAll, mv, ok, shOk, withLab } from './lab-helpers.js';

/**
 * The database file's bytes (and its WAL's, if any), then every row of every
 * table in a stable order, so a failure says what changed.
 */
function dump(lab: LabState, host: number): string {
  const path = join(lab.hosts[host - 1]?.dir ?? '', 'db', 'meshvpc.sqlite');
  // An empty WAL is no content: our own read-only look below leaves one behind.
  const bytes = [path, `${path}-wal`].map((f) => (existsSync(f) && statSync(f).size > 0 ? createHash('sha256').update(readFileSync(f)).digest('hex') : '-'));
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    // By the first two columns (the first alone for a one-column table).
    const order = (t: string): string => ((db.prepare(`SELECT COUNT(*) AS n FROM pragma_table_info('${t}')`).get() as { n: number }).n > 1 ? '1, 2' : '1');
    return JSON.stringify([bytes, tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY ${order(t)}`).all()])]);
  } finally {
    db.close();
  }
}

/** What a command could change about interfaces (not carrier state, which settles by itself). */
async function interfaces(lab: LabState, host: number): Promise<string> {
  const list = JSON.parse(await shOk(lab, host, 'ip', '-json', 'addr', 'show')) as { addr_info: { scope: string; local: string; prefixlen: number }[] }[];
  const global = (l: (typeof list)[number]): string[] => l.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
  return JSON.stringify(list.map((l) => ({ ...l, addr_info: global(l) })).map((l: Record<string, unknown>) => [l.ifindex, l.ifname, l.mtu, l.master, l.addr_info]));
}

const CANARY = '/tmp/meshvpc-pwned';
const NET = 'peer_network=198.51.100.64/26';

/** [arguments, text the one-line error must contain] */
const CASES: [string[], string | RegExp][] = [
  [['vpc', 'mode=init', 'vpc_name=vpc1;reboot', 'node_member=all', NET], 'invalid vpc_name "vpc1;reboot"'],
  [['vpc', 'mode=init', `vpc_name=$(touch ${CANARY})`, 'node_member=all', NET], 'invalid vpc_name'],
  [['vpc', 'mode=init', 'vpc_name=`touch /tmp/x`', 'node_member=all', NET], 'invalid vpc_name'],
  [['vpc', 'mode=init', 'vpc_name=averyveryverylongname', 'node_member=all', NET], 'invalid vpc_name "averyveryverylongname"'],
  [['vpc', 'mode=init', 'vpc_name=vxlan5', 'node_member=all', NET], 'reserved'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=198.51.100.0/33'], 'invalid peer_network "198.51.100.0/33"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=198.51.100.1/24'], 'host bits are set'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=banana'], 'invalid peer_network "banana"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=198.51.100.128/31'], /too small: it holds 0 tunnel pairs.*2 members need 1/],
  [['vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', NET], 'VPC vpc1 already exists'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=host1,ghost', NET], 'unknown node_member "ghost"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=host1,gh;ost', NET], 'invalid node_member "gh;ost"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=', NET], 'missing node_member='],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all'], 'missing peer_network='],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', NET, 'mtu=100'], 'invalid mtu "100"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', NET, 'underlay=v5'], 'invalid underlay "v5"'],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', NET, 'bogus=1'], 'unknown argument bogus='],
  [['vpc', 'mode=frobnicate', 'vpc_name=vpc1'], 'unknown vpc mode "frobnicate"'],
  // Address sanity: the rule and the value are named.
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=0.0.0.0/0'], /invalid peer_network "0\.0\.0\.0\/0": it overlaps the unspecified/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=::/0'], /invalid peer_network "::\/0": it overlaps the unspecified/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=224.0.0.0/24'], /"224\.0\.0\.0\/24": it overlaps the multicast/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=ff02::/16'], /"ff02::\/16": it overlaps the multicast/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=127.0.0.0/8'], /it overlaps the loopback/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=169.254.0.0/16'], /it overlaps the link-local/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=fe80::/64'], /it overlaps the link-local/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=::ffff:0:0/104'], /IPv4-mapped/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=192.0.2.0/28'], /"192\.0\.2\.0\/28": it contains host1's underlay address 192\.0\.2\.1/],
  [['vpc', 'mode=init', 'vpc_name=vpc9', 'node_member=all', 'peer_network=198.51.100.0/24'], /it overlaps 198\.51\.100\.\d+\/26, the peer network of VPC vpc1/],
  [['vpc', 'mode=deploy', 'vpc_name=vpc9', 'node_member=all', 'peer_network=192.0.2.0/24'], /contains host1's underlay address/],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=127.0.0.1/8'], /invalid bridge_ips "127\.0\.0\.1\/8": it is a loopback/],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=224.0.0.1/24'], /it is a multicast/],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=198.51.100.5/24'], /invalid bridge_ips "198\.51\.100\.5\/24": it lies in 198\.51\.100\.\d+\/26, the peer network of vpc1/],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=192.0.2.200/24'], /invalid bridge_ips "192\.0\.2\.200\/24": it overlaps 192\.0\.2\.1\/24 on eth0 of this host/],
  [['jcreate', 'jname=j9', 'interface=vpc1', 'vnet=1', 'ip4_addr=198.51.100.2/26'], /invalid ip4_addr "198\.51\.100\.2\/26": it lies in/],
  [['jcreate', 'jname=j9', 'interface=vpc1', 'vnet=1', 'ip4_addr=192.0.2.2/24'], /it is host2's underlay address/],
  [['jcreate', 'jname=j9', 'interface=vpc1', 'vnet=1', 'ip4_addr=2001:db8::9/64'], /invalid ip4_addr "2001:db8::9\/64": ip4_addr takes an IPv4 address/],
  [['jcreate', 'jname=j9', 'interface=vpc1', 'vnet=1', 'ip4_addr=127.0.0.2/8'], /it is a loopback/],
  [['jcreate', 'jname=j9', 'interface=vpc1', 'vnet=1', 'ip6_addr=ff02::1/64'], /invalid ip6_addr "ff02::1\/64": it is a multicast/],
  [['initenv', 'nodename=host1', 'nodeip=127.0.0.1'], /invalid nodeip "127\.0\.0\.1": it is a loopback/],
  [['initenv', 'nodename=host1', 'nodeip6=::1'], /invalid nodeip6 "::1"/],
  [['vpc', 'vpc_name=vpc1'], 'missing mode='],
  [['vpc', 'mode=init_vxlan', 'vpc_name=nope'], 'no VPC named nope'],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=203.0.113.1/40'], 'invalid bridge_ips "203.0.113.1/40"'],
  [['vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'bridge_ips=203.0.113.1'], 'invalid bridge_ips "203.0.113.1"'],
  [['vpc', 'mode=deploy', 'vpc_name=vpc9'], 'no VPC named vpc9 here'],
  [['vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', NET], 'vpc1 already exists with another definition'],
  [['vpc', 'mode=join', 'vpc_name=vpc1', 'node=host2'], 'host2 already is a member of vpc1'],
  [['vpc', 'mode=leave', 'vpc_name=vpc1', 'node=ghost'], 'unknown node "ghost"'],
  [['vpc', 'mode=join', 'vpc_name=vpc1'], 'missing node='],
  [['vpc', 'mode=list', 'display=name,bogus'], 'invalid display column "bogus"'],
  [['vpc', 'mode=list', 'dryrun=maybe'], 'invalid dryrun "maybe"'],
  [['jcreate', 'jname=bad name', 'interface=vpc1', 'vnet=1'], 'invalid jname "bad name"'],
  [['jcreate', 'jname=j1', 'interface=vpc1', 'vnet=1', 'ip4_addr=300.1.1.1/24'], 'invalid ip4_addr "300.1.1.1/24"'],
  [['jcreate', 'jname=j1', 'interface=nosuch', 'vnet=1'], 'unknown interface nosuch'],
  [['jcreate', 'jname=j1', 'interface=vpc1', 'vnet=0'], 'vnet=1 is required'],
  [['jexec', 'jname=ghost', 'true'], 'no container named ghost'],
  [['jstart', 'jname=ghost'], 'no container named ghost'],
  [['node', 'mode=add', 'node=192.0.2.2;id'], 'invalid node "192.0.2.2;id"'],
  [['node', 'mode=add', 'node=192.0.2.2', 'port=99999'], 'invalid port "99999"'],
  [['node', 'mode=add', 'node=192.0.2.2', 'user=r$oot'], 'invalid user "r$oot"'],
  [['node', 'mode=remove', 'node=ghost'], 'unknown node "ghost"'],
  [['node', 'mode=explode'], 'unknown node mode "explode"'],
  [['initenv', 'nodename=host1`id`'], 'invalid nodename "host1`id`"'],
  [['initenv', 'nodename=host1', 'nodeip=192.0.2.300'], 'invalid nodeip "192.0.2.300"'],
  [['initenv', 'nodename=host1', 'nodeip6=2001:db8::1%eth0'], 'invalid nodeip6'],
  [['frob'], 'unknown command "frob"'],
];

test('bad input is refused clearly and changes nothing', { timeout: 300_000 }, async () => {
  await withLab(2, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    const linksBefore = [await interfaces(lab, 1), await interfaces(lab, 2)];
    const dbBefore = [dump(lab, 1), dump(lab, 2)];
    for (const [args, expected] of CASES) {
      const r = await mv(lab, 1, ...args);
      const what = `meshvpc ${args.join(' ')}`;
      assert.notEqual(r.code, 0, `${what} must fail`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one-line error, got ${JSON.stringify(r.stderr)}`);
      assert.match(lines[0] ?? '', /^meshvpc: /, what);
      if (typeof expected === 'string') assert.ok(lines[0]?.includes(expected), `${what}: ${lines[0]} should contain ${expected}`);
      else assert.match(lines[0] ?? '', expected, what);
      assert.equal(dump(lab, 1), dbBefore[0], `${what} changed host1's database`);
      assert.equal(dump(lab, 2), dbBefore[1], `${what} changed host2's database`);
    }
    assert.equal(existsSync(CANARY), false, 'no user value reached a shell');
    assert.deepEqual([await interfaces(lab, 1), await interfaces(lab, 2)], linksBefore, 'interfaces unchanged');
  });
});

test('dryrun prints the commands and changes nothing', { timeout: 120_000 }, async () => {
  await withLab(2, 'v4', async (lab) => {
    await joinAll(lab);
    await ok(lab, 1, 'vpc', 'mode=init', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26');
    await ok(lab, 1, 'vpc', 'mode=init_peers', 'vpc_name=vpc1');
    const before = dump(lab, 1);
    const out = await ok(lab, 1, 'vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'dryrun=1');
    assert.match(out, /\[dryrun\] ip link add vxlan100 type vxlan id 100 local 192\.0\.2\.1 remote 192\.0\.2\.2 dstport 4789 nolearning/);
    assert.match(out, /\[dryrun\] ip link set dev vxlan100 type bridge_slave isolated on/);
    // The FreeBSD commands for the same host, planned on Linux.
    const bsd = await ok(lab, 1, 'vpc', 'mode=init_bridge', 'vpc_name=vpc1', 'platform=freebsd', 'dryrun=1');
    assert.match(bsd, /\[dryrun\] ifconfig vxlan100 create vxlanid 100 vxlanlocal 192\.0\.2\.1 vxlanremote 192\.0\.2\.2 vxlanlocalport 4789 vxlanremoteport 4789 -vxlanlearn mtu 1450/);
    assert.match(bsd, /\[dryrun\] ifconfig vpc1 addm vxlan100 private vxlan100|\[dryrun\] ifconfig vpc1 addm vxlan100\n.*private vxlan100/);
    const refused = await mv(lab, 1, 'vpc', 'mode=init_vxlan', 'vpc_name=vpc1', 'platform=freebsd');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /platform=freebsd on a linux host only works with dryrun=1/);
    assert.equal(dump(lab, 1), before);
    assert.equal((await links(lab)).some((l) => l.includes('vxlan') || l.includes('vpc1')), false);

    async function links(l: LabState): Promise<string[]> {
      return (await shOk(l, 1, 'ip', '-o', 'link', 'show')).split('\n');
    }
  });
});
