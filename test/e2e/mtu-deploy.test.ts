/**
 * MTU through the whole chain, by deploy alone: host3's underlay link is
 * 1400 before the VPC exists, which host1's and host2's routes (1500) cannot
 * see. host3 says so in its hello, the deployer writes it into the members of
 * the definition, and every host sizes its tunnels (and so the segment) by
 * it: no tunnel black-holes big frames, no check_mtu needed, and deploy warns.
 * Over IPv4 and IPv6, and with the tunnels inside WireGuard (encrypt=wireguard).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinAll, links, ok, shOk, sh, withLab } from './lab-helpers.js';

interface StatusRow {
  node: string;
  peer: string;
  mtu: number;
  pmtu_ok: boolean | null;
}

interface Shown {
  members: { node: string; underlay: string; mtu?: number }[];
  pairs: { a: string; b: string; addrA: string; addrB: string }[];
}

// VXLAN's overhead, and WireGuard's under it when the VPC is encrypted.
for (const [underlay, overhead, encrypt] of [['v4', 50, false], ['v6', 70, false], ['v4', 50 + 60, true]] as const) {
  const small = 1400 - overhead;
  const full = 1500 - overhead;
  const what = `IPv${underlay[1]} underlay${encrypt ? ', encrypt=wireguard' : ''}`;
  test(`deploy sizes every tunnel by the smallest member's underlay link, and warns (${what})`, { timeout: 300_000 }, () => deploysSmaller(underlay, small, full, encrypt));
}

async function deploysSmaller(underlay: 'v4' | 'v6', small: number, full: number, encrypt: boolean): Promise<void> {
  const WARNING = `warning: vpc1: host3's link carries 1400, so its tunnels and the segment use ${small} (others ${full})`;
  await withLab(3, underlay, async (lab) => {
    await joinAll(lab);
    await shOk(lab, 3, 'ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1400');

    const out = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=all', 'peer_network=198.51.100.0/26', ...(encrypt ? ['encrypt=wireguard'] : []));
    // One line about the VPC's MTU (an encrypted one may add a line per host running wireguard-go).
    const warnings = out.split('\n').filter((l) => l.startsWith('warning: vpc1:'));
    assert.deepEqual(warnings, [WARNING], out);

    // Every member holds host3's claim, and every tunnel and bridge everywhere is 1400 less VXLAN's overhead.
    for (const h of [1, 2, 3]) {
      const shown = JSON.parse(await ok(lab, h, 'vpc', 'mode=show', 'vpc_name=vpc1')) as Shown;
      assert.deepEqual(shown.members.map((m) => [m.node, m.mtu]), [['host1', 1500], ['host2', 1500], ['host3', 1400]], `host${h}`);
      const mine = (await links(lab, h)).filter((l) => l.ifname === 'vpc1' || l.master === 'vpc1');
      assert.equal(mine.length, 3, `host${h}: the bridge and two tunnels: ${mine.map((l) => l.ifname).join(' ')}`);
      assert.deepEqual(mine.map((l) => [l.ifname, l.mtu]), mine.map((l) => [l.ifname, small]), `host${h}`);
    }

    // What the tunnels claim crosses: status's don't-fragment probe on all six ends ...
    const probe = async (): Promise<StatusRow[]> => JSON.parse(await ok(lab, 1, 'vpc', 'mode=status', 'vpc_name=vpc1', '--json', 'display=node,peer,mtu,pmtu_ok')) as StatusRow[];
    let status = await probe();
    // Sealed, a pair whose first WireGuard handshake went out before its peer knew the key retries
    // it 5 s later (WireGuard's REKEY_TIMEOUT): until then the far end does not answer (pmtu_ok null).
    for (const until = Date.now() + 20_000; encrypt && status.some((r) => r.pmtu_ok === null) && Date.now() < until; ) {
      await new Promise((res) => setTimeout(res, 1000));
      status = await probe();
    }
    assert.equal(status.length, 6);
    assert.ok(status.every((r) => r.mtu === small && r.pmtu_ok === true), JSON.stringify(status));

    // ... and a DF ping of each tunnel's full MTU from each end to the other.
    const { pairs } = JSON.parse(await ok(lab, 1, 'vpc', 'mode=show', 'vpc_name=vpc1')) as Shown;
    assert.equal(pairs.length, 3);
    for (const p of pairs) {
      for (const [from, to] of [[p.a, p.addrB], [p.b, p.addrA]] as const) {
        const h = Number(from.replace('host', ''));
        // The tunnel ends have IPv4 addresses (the peer network): 28 bytes of IP and ICMP header.
        const r = await sh(lab, h, 'ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', String(small - 28), to);
        assert.equal(r.code, 0, `${from} -> ${to}: a ${small}-byte DF ping must cross: ${r.stdout}${r.stderr}`);
      }
    }

    // Every re-apply keeps it: nothing to change on any host, and deploy again changes nothing but warns again.
    for (const h of [1, 2, 3]) assert.match(await ok(lab, h, 'vpc', 'mode=apply', 'vpc_name=vpc1'), /nothing to change/, `host${h}`);
    const again = JSON.parse(await ok(lab, 2, 'vpc', 'mode=deploy', 'vpc_name=vpc1', '--json')) as { changes: number; mtu: { smaller: { node: string; link: number }[]; segment: number } | null };
    assert.equal(again.changes, 0);
    assert.deepEqual([again.mtu?.smaller, again.mtu?.segment], [[{ node: 'host3', link: 1400, tunnel: small }], small]);

    // host3's link back at 1500: the next deploy raises the segment again, and warns no more.
    await shOk(lab, 3, 'ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1500');
    const healed = await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1');
    assert.ok(!healed.includes('warning: vpc1:'), healed);
    for (const h of [1, 2, 3]) {
      const mine = (await links(lab, h)).filter((l) => l.ifname === 'vpc1' || l.master === 'vpc1');
      assert.ok(mine.length === 3 && mine.every((l) => l.mtu === full), `host${h}: ${mine.map((l) => `${l.ifname} ${l.mtu}`).join(', ')}`);
    }
  });
}
