/**
 * The firewall of encrypted VPCs: firewallPolicy's sealed bindings and the
 * nftables table that enforces them (bound to the WireGuard link, ids dropped
 * in cleartext, the WireGuard port open to the peers only, no sealed VXLAN
 * leaving any other way).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { firewallPolicy, type ActiveVpc, type FirewallPolicy } from '../../src/core/firewall.js';
import { WG_IFNAME } from '../../src/core/seal.js';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { nftScript } from '../../src/platform/linux/nft.js';
import { RecordingExecutor } from '../../src/platform/recording.js';
import { vpcOf } from './firewall-fixtures.js';
import { sealedVpc, WG_PORT } from './seal-fixtures.js';

/**
 * clear (IPv4, cleartext: node1-3, VNIs 100-102), sec (IPv4, encrypted,
 * 203.0.113.0/26: node1-3, 103 node1-node2, 104 node1-node3, 105
 * node2-node3), sec6 (IPv6 underlay, encrypted, fd00:98::/64: node1-node2,
 * 106), farsec (encrypted, node2-node4, 107: node1 not a member), idlesec
 * (encrypted, node1-node4, 108: its tunnels not up here).
 */
function cluster(options: { firewallOff?: string } = {}): ActiveVpc[] {
  const taken = new Set<number>();
  const firewall = (name: string): boolean => options.firewallOff !== name;
  return [
    { def: vpcOf('clear', ['node1', 'node2', 'node3'], 4, taken, firewall('clear')), active: true },
    { def: sealedVpc('sec', ['node1', 'node2', 'node3'], 4, { taken, peerNetwork: '203.0.113.0/26', firewall: firewall('sec') }), active: true },
    { def: sealedVpc('sec6', ['node1', 'node2'], 6, { taken, peerNetwork: 'fd00:98::/64', firewall: firewall('sec6') }), active: true },
    { def: sealedVpc('farsec', ['node2', 'node4'], 4, { taken, peerNetwork: '203.0.113.64/26' }), active: true },
    { def: sealedVpc('idlesec', ['node1', 'node4'], 4, { taken, peerNetwork: '203.0.113.128/26' }), active: false },
  ];
}

const line = (t: { address: string; vni: number; vpc: string; peer: string }): string => `${t.address} ${t.vni} ${t.vpc} ${t.peer}`;

describe('firewallPolicy with encrypted VPCs', () => {
  test('sealed bindings: the peer\'s seal address and the pair\'s id, arriving through meshvpc-wg', () => {
    const p = firewallPolicy('node1', cluster(), WG_PORT);
    assert.deepEqual(p.sealed, [
      { address: '203.0.113.14', vni: 104, peer: 'node3', vpc: 'sec', via: WG_IFNAME },
      { address: '203.0.113.6', vni: 103, peer: 'node2', vpc: 'sec', via: WG_IFNAME },
      { address: 'fd00:98::6', vni: 106, peer: 'node2', vpc: 'sec6', via: WG_IFNAME },
    ]);
    assert.equal(p.wgPort, WG_PORT);
    // The hosts it has WireGuard peers for, over each underlay they are reached by.
    assert.deepEqual(p.wgPeers, ['192.0.2.2', '192.0.2.3', '2001:db8::2']);
  });

  test('cleartext bindings hold only the cleartext VPCs\' tunnels', () => {
    const p = firewallPolicy('node1', cluster(), WG_PORT);
    assert.equal(p.enforce, true);
    assert.deepEqual(p.tunnels4.map(line), ['192.0.2.2 100 clear node2', '192.0.2.3 101 clear node3']);
    assert.deepEqual(p.tunnels6, []);
  });

  test('no binding and no WireGuard peer for a pair, a VPC or a host this host has no sealed tunnel with', () => {
    const p = firewallPolicy('node1', cluster(), WG_PORT);
    const vnis = [...p.tunnels4, ...p.tunnels6, ...p.sealed].map((t) => t.vni);
    for (const vni of [102, 105, 107, 108]) assert.ok(!vnis.includes(vni), `${vni}`);
    assert.ok(!p.sealed.some((t) => ['203.0.113.21', '203.0.113.22'].includes(t.address)), 'node2-node3\'s seal addresses');
    assert.ok(!p.wgPeers.includes('192.0.2.4'), 'node4: only in farsec and the idle idlesec');
    // node2 sees its side: node1 and node3 in sec, node1 in sec6, node4 in farsec.
    const q = firewallPolicy('node2', cluster(), WG_PORT);
    assert.deepEqual(q.sealed.map(line), ['203.0.113.22 105 sec node3', '203.0.113.5 103 sec node1', '203.0.113.70 107 farsec node4', 'fd00:98::5 106 sec6 node1']);
    assert.deepEqual(q.wgPeers, ['192.0.2.1', '192.0.2.3', '192.0.2.4', '2001:db8::1']);
  });

  test('a pair whose other end has left gets no sealed binding, and its host no WireGuard peer', () => {
    const def = sealedVpc('sec', ['node1', 'node2', 'node3'], 4);
    const shrunk = { ...def, members: def.members.filter((m) => m.node !== 'node3') };
    const p = firewallPolicy('node1', [{ def: shrunk, active: true }], WG_PORT);
    assert.deepEqual(p.sealed.map(line), ['198.51.100.6 100 sec node2']);
    assert.deepEqual(p.wgPeers, ['192.0.2.2']);
  });

  test('no encrypted VPC with a tunnel here: no sealed binding, no WireGuard port', () => {
    const p = firewallPolicy('node1', [cluster()[0] as ActiveVpc, cluster()[4] as ActiveVpc], WG_PORT);
    assert.deepEqual([p.sealed, p.wgPort, p.wgPeers], [[], null, []]);
    // node4: farsec's tunnel to node2 only (idlesec is passed as not up).
    assert.deepEqual(firewallPolicy('node4', cluster(), WG_PORT).sealed.map(line), ['203.0.113.69 107 farsec node2']);
  });

  test('firewall=0 on a cleartext VPC turns its filter off, never the sealed bindings', () => {
    const p = firewallPolicy('node1', cluster({ firewallOff: 'clear' }), WG_PORT);
    assert.equal(p.enforce, false);
    assert.equal(p.sealed.length, 3);
    const q = firewallPolicy('node1', cluster({ firewallOff: 'sec' }), WG_PORT);
    assert.equal(q.enforce, false);
    assert.equal(q.sealed.length, 3);
  });
});

const NODE1 = `table inet meshvpc
delete table inet meshvpc
table inet meshvpc {
  comment "managed by meshvpc"
  set vxlan4 {
    typeof ip saddr . @th,96,24
    elements = { 192.0.2.2 . 100, 192.0.2.3 . 101 }
  }
  set vxlan6 {
    typeof ip6 saddr . @th,96,24
  }
  set sealed4 {
    typeof iifname . ip saddr . @th,96,24
    elements = { "meshvpc-wg" . 203.0.113.14 . 104, "meshvpc-wg" . 203.0.113.6 . 103 }
  }
  set sealed6 {
    typeof iifname . ip6 saddr . @th,96,24
    elements = { "meshvpc-wg" . fd00:98::6 . 106 }
  }
  set sealed_ids {
    typeof @th,96,24
    elements = { 103, 104, 106 }
  }
  set seal_remote4 {
    type ipv4_addr
    elements = { 203.0.113.14, 203.0.113.6 }
  }
  set seal_remote6 {
    type ipv6_addr
    elements = { fd00:98::6 }
  }
  set wg_peers4 {
    type ipv4_addr
    elements = { 192.0.2.2, 192.0.2.3 }
  }
  set wg_peers6 {
    type ipv6_addr
    elements = { 2001:db8::2 }
  }
  chain input {
    type filter hook input priority filter - 1; policy accept;
    udp dport 4789 iifname . ip saddr . @th,96,24 @sealed4 accept
    udp dport 4789 iifname . ip6 saddr . @th,96,24 @sealed6 accept
    udp dport 4789 @th,96,24 @sealed_ids counter drop comment "an encrypted VPC's VXLAN id outside WireGuard"
    udp dport 4789 ip saddr . @th,96,24 @vxlan4 accept
    udp dport 4789 ip6 saddr . @th,96,24 @vxlan6 accept
    udp dport 4789 counter drop comment "VXLAN that is not a tunnel of this host (peer address and VXLAN id)"
    udp dport 51820 ip saddr @wg_peers4 accept
    udp dport 51820 ip6 saddr @wg_peers6 accept
    udp dport 51820 counter drop comment "WireGuard from a host that is not a peer"
  }
  chain output {
    type filter hook output priority filter - 1; policy accept;
    udp dport 4789 ip daddr @seal_remote4 oifname != "meshvpc-wg" counter drop comment "an encrypted tunnel never leaves in cleartext"
    udp dport 4789 ip6 daddr @seal_remote6 oifname != "meshvpc-wg" counter drop comment "an encrypted tunnel never leaves in cleartext"
  }
}
`;

describe('nftScript with encrypted VPCs', () => {
  test('node1: sealed sets, the sealed ids dropped outside WireGuard before the cleartext rules, the WireGuard port, the output rule', () => {
    assert.equal(nftScript(firewallPolicy('node1', cluster(), WG_PORT)), NODE1);
  });

  test('firewall=0 on another VPC here: no cleartext rules, the sealed ones all the same', () => {
    const script = nftScript(firewallPolicy('node1', cluster({ firewallOff: 'clear' }), WG_PORT));
    assert.doesNotMatch(script, /vxlan4|vxlan6|not a tunnel of this host/);
    for (const want of [
      'set sealed4 {',
      'set sealed_ids {',
      'udp dport 4789 @th,96,24 @sealed_ids counter drop',
      'udp dport 51820 counter drop comment "WireGuard from a host that is not a peer"',
      'oifname != "meshvpc-wg" counter drop',
    ]) {
      assert.ok(script.includes(want), want);
    }
    // The cleartext drop-all would drop sealed VXLAN too; it is not there, the sealed accept is.
    assert.equal(script.split('\n').filter((l) => l.includes('@sealed4 accept')).length, 1);
  });

  test('an encrypted VPC alone with firewall=0 (vpc mode=init refuses it; a definition from the wire is not checked for it): the sealed rules only', () => {
    const alone = nftScript(firewallPolicy('node1', [{ def: sealedVpc('sec', ['node1', 'node2'], 6, { peerNetwork: 'fd00:98::/64', firewall: false }), active: true }], 51999));
    assert.match(alone, /elements = \{ "meshvpc-wg" \. fd00:98::6 \. 100 \}/);
    assert.match(alone, /set sealed4 \{\n {4}typeof iifname \. ip saddr \. @th,96,24\n {2}\}/);
    assert.match(alone, /udp dport 51999 ip6 saddr @wg_peers6 accept/);
    assert.doesNotMatch(alone, /@vxlan[46]/);
  });

  test('no wireguard port known: the sealed bindings without the port rules', () => {
    const p: FirewallPolicy = { ...firewallPolicy('node1', cluster(), WG_PORT), wgPort: null };
    const script = nftScript(p);
    assert.match(script, /@sealed4 accept/);
    assert.doesNotMatch(script, /51820/);
  });

  test('nothing sealed and nothing enforced: only the removal of the table', () => {
    assert.equal(nftScript(firewallPolicy('node1', [cluster({ firewallOff: 'clear' })[0] as ActiveVpc], WG_PORT)), 'table inet meshvpc\ndelete table inet meshvpc\n');
  });
});

describe('the Linux driver with sealed rules', () => {
  const LIST = ['nft', 'list', 'table', 'inet', 'meshvpc'];

  test('a foreign table named meshvpc is refused when only sealed rules are needed (firewall=0 does not make them optional)', async () => {
    const foreign = new RecordingExecutor().on(LIST, { stdout: 'table inet meshvpc {\n\tchain forward {\n\t}\n}\n' });
    const p = firewallPolicy('node1', cluster({ firewallOff: 'clear' }), WG_PORT);
    assert.equal(p.enforce, false);
    await assert.rejects(linuxDriver(foreign).firewall?.apply(p) ?? Promise.reject(new Error('no firewall')), /table inet meshvpc exists and is not meshvpc's/);
    assert.ok(!foreign.lines().some((l) => l.startsWith('nft -f')));
  });

  test('the script goes to nft -f - on stdin', async () => {
    const none = new RecordingExecutor().on(LIST, { code: 1, stderr: 'Error: No such file or directory' });
    await linuxDriver(none).firewall?.apply(firewallPolicy('node1', cluster(), WG_PORT));
    const load = none.calls.find((c) => c.argv.join(' ') === 'nft -f -');
    assert.equal(load?.input, NODE1);
  });
});

/** `nft -c` (check only, nothing loaded) inside a network namespace of its own, never the host's. */
function nftCheck(script: string): { code: number | null; stderr: string } {
  const r = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: script, encoding: 'utf8' });
  return { code: r.error ? null : r.status, stderr: r.stderr ?? '' };
}
const canCheck = process.getuid?.() === 0 && nftCheck('').code === 0;

test('nftables: the sealed scripts parse and check with this machine\'s nft (in a throwaway network namespace)', { skip: canCheck ? false : 'needs root, unshare and nft' }, () => {
  const policies: [string, FirewallPolicy][] = [
    ['node1', firewallPolicy('node1', cluster(), WG_PORT)],
    ['node2', firewallPolicy('node2', cluster(), WG_PORT)],
    ['node1, firewall=0 on clear', firewallPolicy('node1', cluster({ firewallOff: 'clear' }), WG_PORT)],
    ['node1, no port', { ...firewallPolicy('node1', cluster(), WG_PORT), wgPort: null }],
    ['IPv6 only', firewallPolicy('node1', [{ def: sealedVpc('sec', ['node1', 'node2', 'node3'], 6, { peerNetwork: 'fd00:98::/64' }), active: true }], WG_PORT)],
    ['IPv4 only', firewallPolicy('node3', [{ def: sealedVpc('sec', ['node1', 'node2', 'node3'], 4), active: true }], WG_PORT)],
  ];
  for (const [what, p] of policies) {
    assert.ok(p.sealed.length > 0, what);
    const r = nftCheck(nftScript(p));
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  }
});
