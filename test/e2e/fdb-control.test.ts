/**
 * Control-plane FDB (fdb=control) against flood and learn (fdb=learn) on
 * three hosts with ten containers each: broadcast and unknown-unicast frames
 * sent into the tunnels during an all-to-all ping sweep from cold ARP caches
 * are counted by an nftables bridge table this test puts in each lab host
 * (a frame leaving by the tunnel to P whose destination MAC is not one of
 * P's is a flooded one), and every ping must succeed in both modes.
 * Then what the control plane must stand: a guest that moves host, a
 * member that reports for another or claims another's guest address, a
 * neighbour entry someone else put on the bridge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabState } from '../../src/lab/lab.js';
import { joinAll, mv, ok, rawRemote, sh, shOk, withLab } from './lab-helpers.js';

const HOSTS = [1, 2, 3] as const;
const PER_HOST = 10;
const guestName = (h: number, i: number): string => `g${h}x${i}`;
const guestIp = (h: number, i: number): string => `203.0.113.${h * 20 + i}`;

interface TunnelRow {
  node: string;
  tunnel: string;
  peer: string;
  fdb?: string;
}

/** Each running container's eth0 MAC on one host (lab hosts have their own /run/netns). */
async function guestMacs(lab: LabState, host: number): Promise<string[]> {
  const out = await shOk(lab, host, 'sh', '-c', 'for n in $(ip netns list | cut -d" " -f1); do ip netns exec "$n" cat /sys/class/net/eth0/address; done');
  return out.split('\n').filter((l) => /^[0-9a-f:]{17}$/.test(l));
}

async function bridgeMac(lab: LabState, host: number, vpc: string): Promise<string> {
  return (JSON.parse(await shOk(lab, host, 'ip', '-j', 'link', 'show', 'dev', vpc)) as { address: string }[])[0]?.address ?? '';
}

/**
 * A bridge-family table (this test's, in the lab host's namespace) that
 * counts frames forwarded into each tunnel whose destination is not a MAC
 * behind that tunnel's peer: broadcast, multicast and flooded unicast.
 */
async function startCounting(lab: LabState, vpc: string, tunnels: readonly TunnelRow[], behind: ReadonlyMap<string, readonly string[]>): Promise<void> {
  for (const h of HOSTS) {
    const mine = tunnels.filter((t) => t.node === `host${h}`);
    const lines = ['table bridge mvtest_flood {'];
    for (const t of mine) lines.push(`  set at_${t.tunnel} { type ether_addr; elements = { ${(behind.get(t.peer) ?? []).join(', ')} } }`);
    lines.push('  chain sweep {', '    type filter hook forward priority 0; policy accept;');
    for (const t of mine) lines.push(`    oifname "${t.tunnel}" ether daddr != @at_${t.tunnel} counter`);
    lines.push('  }', '}');
    await sh(lab, h, 'nft', 'delete', 'table', 'bridge', 'mvtest_flood');
    const load = await sh(lab, h, 'sh', '-c', `nft -f - <<'EOF'\n${lines.join('\n')}\nEOF`);
    assert.equal(load.code, 0, `host${h}: ${load.stderr} (${vpc})`);
  }
}

async function flooded(lab: LabState): Promise<number> {
  let n = 0;
  for (const h of HOSTS) {
    const out = await shOk(lab, h, 'nft', 'list', 'chain', 'bridge', 'mvtest_flood', 'sweep');
    for (const m of out.matchAll(/counter packets (\d+)/g)) n += Number(m[1]);
    await sh(lab, h, 'nft', 'delete', 'table', 'bridge', 'mvtest_flood');
  }
  return n;
}

/** Every container pings every other once, after every container's ARP cache was emptied; returns the failures. */
async function sweep(lab: LabState): Promise<string[]> {
  for (const h of HOSTS) {
    await shOk(lab, h, 'sh', '-c', 'for n in $(ip netns list | cut -d" " -f1); do ip netns exec "$n" ip neigh flush all; done');
  }
  const all = HOSTS.flatMap((h) => Array.from({ length: PER_HOST }, (_, i) => ({ h, name: guestName(h, i + 1), ip: guestIp(h, i + 1) })));
  const failures: string[] = [];
  for (const g of all) {
    const targets = all.filter((t) => t !== g).map((t) => t.ip).join(' ');
    const r = await shOk(lab, g.h, 'ip', 'netns', 'exec', g.name, 'sh', '-c', `for t in ${targets}; do ping -c 1 -W 2 "$t" >/dev/null 2>&1 || echo "FAIL $t"; done`);
    failures.push(...r.split('\n').filter((l) => l.startsWith('FAIL')).map((l) => `${g.name} -> ${l.slice(5)}`));
  }
  return failures;
}

/** Deploy a VPC, fill it, sweep it; returns the flooded frames counted and the tunnels. */
async function round(lab: LabState, vpc: string, fdb: 'control' | 'learn', peerNet: string): Promise<{ frames: number; failures: string[]; tunnels: TunnelRow[] }> {
  await ok(lab, 1, 'vpc', 'mode=deploy', `vpc_name=${vpc}`, 'node_member=all', `peer_network=${peerNet}`, `fdb=${fdb}`);
  for (const h of HOSTS) {
    for (let i = 1; i <= PER_HOST; i++) await ok(lab, h, 'jcreate', `jname=${guestName(h, i)}`, `ip4_addr=${guestIp(h, i)}/24`, `interface=${vpc}`, 'runasap=1');
  }
  const tunnels = JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', `vpc_name=${vpc}`, '--json')) as TunnelRow[];
  const behind = new Map<string, string[]>();
  for (const h of HOSTS) behind.set(`host${h}`, [...(await guestMacs(lab, h)), await bridgeMac(lab, h, vpc)]);
  await startCounting(lab, vpc, tunnels, behind);
  const failures = await sweep(lab);
  return { frames: await flooded(lab), failures, tunnels };
}

async function empty(lab: LabState, vpc: string): Promise<void> {
  for (const h of HOSTS) for (let i = 1; i <= PER_HOST; i++) await ok(lab, h, 'jremove', `jname=${guestName(h, i)}`);
  await ok(lab, 1, 'vpc', 'mode=destroy', `vpc_name=${vpc}`);
}

async function permanentNeighbours(lab: LabState, host: number, dev: string): Promise<Map<string, string>> {
  const rows = JSON.parse(await shOk(lab, host, 'ip', '-j', 'neigh', 'show', 'dev', dev, 'nud', 'permanent')) as { dst: string; lladdr: string }[];
  return new Map(rows.map((r) => [r.dst, r.lladdr]));
}

test('control-plane FDB: at least 90% fewer flooded frames than flood and learn, every ping answered; moves, lies and foreign entries', { timeout: 900_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    await joinAll(lab);

    const learn = await round(lab, 'vpcl', 'learn', '198.51.100.0/26');
    assert.deepEqual(learn.failures, [], 'every ping crosses with fdb=learn');
    assert.ok(learn.tunnels.every((t) => t.fdb === 'learn'), JSON.stringify(learn.tunnels));
    await empty(lab, 'vpcl');

    const control = await round(lab, 'vpcc', 'control', '198.51.100.64/26');
    assert.deepEqual(control.failures, [], 'every ping crosses with fdb=control');
    assert.ok(control.tunnels.every((t) => t.fdb === 'control'), `every tunnel of host1 suppresses and stops flooding: ${JSON.stringify(control.tunnels)}`);
    const cut = 1 - control.frames / learn.frames;
    console.log(`flooded frames into tunnels during the sweep: learn ${learn.frames}, control ${control.frames} (${(cut * 100).toFixed(1)}% fewer)`);
    assert.ok(learn.frames > 100, `the sweep floods with fdb=learn (${learn.frames})`);
    assert.ok(cut >= 0.9, `fdb=control floods ${control.frames} frames against ${learn.frames}: less than 90% fewer`);

    // Every guest of the VPC on every bridge, each at the MAC its eth0 has.
    const macs = new Map<string, string>();
    for (const h of HOSTS) {
      const out = await shOk(lab, h, 'sh', '-c', 'for n in $(ip netns list | cut -d" " -f1); do echo "$(ip netns exec "$n" ip -4 -o addr show dev eth0 | awk \'{print $4}\' | cut -d/ -f1) $(ip netns exec "$n" cat /sys/class/net/eth0/address)"; done');
      for (const line of out.trim().split('\n')) {
        const [ip, mac] = line.split(' ');
        if (ip && mac) macs.set(ip, mac);
      }
    }
    assert.equal(macs.size, 30);
    for (const h of HOSTS) {
      const neigh = await permanentNeighbours(lab, h, 'vpcc');
      for (const [ip, mac] of macs) assert.equal(neigh.get(ip), mac, `host${h} knows ${ip} at ${mac}`);
    }

    // A foreign permanent neighbour on meshvpc's bridge stays through every change below.
    await shOk(lab, 1, 'ip', 'neigh', 'replace', '203.0.113.250', 'lladdr', '02:aa:bb:cc:dd:ee', 'dev', 'vpcc', 'nud', 'permanent');

    // A guest moves from host2 to host3 with its name and address: reachable again at once.
    const moving = guestName(2, 1);
    const movingIp = guestIp(2, 1);
    await ok(lab, 2, 'jremove', `jname=${moving}`);
    await ok(lab, 3, 'jcreate', `jname=${moving}`, `ip4_addr=${movingIp}/24`, 'interface=vpcc', 'runasap=1');
    const moved = Date.now();
    let reached = false;
    while (!reached && Date.now() - moved < 2000) {
      reached = (await sh(lab, 1, 'ip', 'netns', 'exec', guestName(1, 1), 'ping', '-c', '1', '-W', '1', movingIp)).code === 0;
    }
    assert.ok(reached, `${moving} answers from host3 within 2 s of its creation there`);
    console.log(`moved guest reachable after ${Date.now() - moved} ms`);
    const onHost1 = await permanentNeighbours(lab, 1, 'vpcc');
    assert.equal(onHost1.get(movingIp), macs.get(movingIp), 'same MAC after the move (bound to the VPC and name)');
    const fdb1 = JSON.parse(await shOk(lab, 1, 'bridge', '-j', 'fdb', 'show', 'br', 'vpcc')) as { mac: string; ifname: string; state?: string }[];
    const to3 = control.tunnels.find((t) => t.node === 'host1' && t.peer === 'host3')?.tunnel;
    assert.ok(fdb1.some((e) => e.mac === macs.get(movingIp) && e.ifname === to3 && e.state === 'static'), `host1 sends ${moving} to the tunnel to host3 (${to3})`);

    // The same name on a second member is refused before anything is made.
    const twice = await mv(lab, 1, 'jcreate', `jname=${moving}`, 'ip4_addr=203.0.113.200/24', 'interface=vpcc');
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, new RegExp(`guest name ${moving} is taken on vpcc by host3`));

    // host2 reports for host3: refused, nothing changes on host1.
    const before = await permanentNeighbours(lab, 1, 'vpcc');
    const forOther = await rawRemote(lab, 2, 1, { op: 'guest_report', vpc: 'vpcc', node: 'host3', guests: [] });
    assert.match(forOther.stdout, /"ok":false/);
    assert.match(forOther.stdout, /cannot report for host3/);
    assert.deepEqual(await permanentNeighbours(lab, 1, 'vpcc'), before);

    // host2 claims host1's first guest's address: that address is contested and left to ARP on
    // host3 (no entry at all), and host3's guest still reaches the real one.
    const claimed = guestIp(1, 1);
    const lie = await rawRemote(lab, 2, 3, {
      op: 'guest_report', vpc: 'vpcc', node: 'host2',
      guests: [{ name: 'liar', node: 'host2', kind: 'jail', interface: 'vpcc', ip4Addr: `${claimed}/24`, ip6Addr: null, running: true, vcpus: 0, ramBytes: 0, diskBytes: 0 }],
    });
    assert.match(lie.stdout, /"ok":true/, lie.stdout + lie.stderr);
    const on3 = await permanentNeighbours(lab, 3, 'vpcc');
    assert.equal(on3.get(claimed), undefined, `host3 keeps no entry for ${claimed}, claimed twice`);
    assert.equal((await sh(lab, 3, 'ip', 'netns', 'exec', guestName(3, 1), 'ping', '-c', '2', '-W', '2', claimed)).code, 0, 'the real guest is still reached (by ARP)');

    assert.equal((await permanentNeighbours(lab, 1, 'vpcc')).get('203.0.113.250'), '02:aa:bb:cc:dd:ee', 'the foreign neighbour entry is still there');
  });
});
