/**
 * WireGuard identities in the store (backend=etcd): a host's key is believed
 * only from that host's own signed word, and an agent applies a definition
 * with each member's key from there, whatever the definition's writer put in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issue, makeCa } from '../../src/cluster/pki.js';
import { newWgKeyPair } from '../../src/cluster/wg-keys.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { EtcdClient } from '../../src/store/etcd/client.js';
import { nodeKey, sealKey } from '../../src/store/etcd/layout.js';
import { checkUnderlaysSaid, nodeIn } from '../../src/app/store-nodes.js';
import * as repo from '../../src/store/repo.js';
import type { VpcWithMap } from '../../src/core/types.js';
import { sealIn, sealsIn, withStoreSeals } from '../../src/app/store-seals.js';
import { selfSeal } from '../../src/app/seal.js';
import { withHost } from './host-fixture.js';

/** A client that signs as `node` (no etcd is reached: sealing and opening are local). */
async function signers(): Promise<(node: string) => EtcdClient> {
  const ca = await makeCa(systemExecutor, 'test');
  const out = new Map<string, EtcdClient>();
  for (const node of ['host1', 'host2', 'host3', 'host4']) {
    const c = await issue(systemExecutor, ca, 'client', { name: node });
    out.set(node, new EtcdClient({ endpoints: ['https://127.0.0.1:1'], tls: { ca: ca.cert, cert: c.cert, key: c.key }, node }));
  }
  return (node) => out.get(node) as EtcdClient;
}

const said = (c: EtcdClient, node: string, key: string, port = 51820): { key: string; value: string } => ({ key: sealKey(node), value: c.seal(sealKey(node), JSON.stringify({ wgKey: key, wgPort: port })) });

test('a seal value is believed only from the host its key names, signed, and well formed', async () => {
  const as = await signers();
  const reader = as('host1');
  const k2 = newWgKeyPair().publicKey;
  assert.deepEqual(sealIn(reader, said(as('host2'), 'host2', k2)), { node: 'host2', seal: { key: k2, port: 51820 }, prev: 0 });
  // The revision it replaced is signed with it (an old value written back is told apart by it).
  const replacing = as('host2').seal(sealKey('host2'), JSON.stringify({ wgKey: k2, wgPort: 51820 }), 41);
  assert.equal(sealIn(reader, { key: sealKey('host2'), value: replacing })?.prev, 41);
  assert.equal(sealIn(reader, said(as('host4'), 'host2', k2)), null, 'host4 speaking for host2');
  assert.equal(sealIn(reader, { key: sealKey('host2'), value: JSON.stringify({ wgKey: k2, wgPort: 51820 }) }), null, 'unsigned');
  assert.equal(sealIn(reader, said(as('host2'), 'host2', 'not-a-key')), null, 'not a WireGuard key');
  assert.equal(sealIn(reader, said(as('host2'), 'host2', k2, 70000)), null, 'a port out of range');
  const moved = said(as('host2'), 'host2', k2);
  assert.equal(sealIn(reader, { key: sealKey('host3'), value: moved.value }), null, 'host2\'s value under host3\'s key');
  assert.equal(sealIn(reader, { key: '/meshvpc/v1/seal/host2/x', value: moved.value }), null, 'not a seal key');
  const all = sealsIn(reader, [{ ...said(as('host2'), 'host2', k2), createRevision: 1, modRevision: 1, version: 1, lease: null }, { ...said(as('host4'), 'host3', k2), createRevision: 2, modRevision: 2, version: 1, lease: null }]);
  assert.deepEqual([...all.keys()], ['host2']);
});

test('an agent applies an encrypted definition with each member\'s own key, never the writer\'s', async () => {
  await withHost(async (host) => {
    const k2 = newWgKeyPair().publicKey;
    const k3 = newWgKeyPair().publicKey;
    const forged = newWgKeyPair().publicKey;
    const vpc: VpcWithMap = {
      name: 'vpc1',
      peerNetwork: '198.51.100.0/26',
      family: 4,
      mtu: null,
      firewall: true,
      encrypt: 'wireguard',
      members: [
        { node: 'h1', underlay: '192.0.2.1', wgKey: forged, wgPort: 1 },
        { node: 'host2', underlay: '192.0.2.2', wgKey: forged, wgPort: 1 },
        { node: 'host3', underlay: '192.0.2.3', wgKey: forged, wgPort: 1 },
      ],
      pairs: [],
    };
    const own = selfSeal(host);
    const applied = withStoreSeals(host, vpc, new Map([['host2', { key: k2, port: 51821 }]]));
    assert.deepEqual(
      applied.members.map((m) => [m.node, m.wgKey, m.wgPort]),
      [['h1', own.key, own.port], ['host2', k2, 51821], ['host3', null, null]],
      'its own key, host2\'s word, and nothing for host3, which said nothing',
    );
    // host3 said nothing in the store, but this host keeps its hello: that is its own word too.
    repo.putNode(host.db, { name: 'host3', sshAddress: '192.0.2.3', sshPort: 22, sshUser: 'root', ip4: '192.0.2.3', ip6: null, hostKey: 'AAAA', platform: 'linux' });
    repo.putNodeSeal(host.db, 'host3', k3, 51820);
    assert.deepEqual(withStoreSeals(host, vpc, new Map()).members.find((m) => m.node === 'host3')?.wgKey, k3);
    // What host3 says in the store wins over an older hello, and the record follows it.
    const k3b = newWgKeyPair().publicKey;
    assert.equal(withStoreSeals(host, vpc, new Map([['host3', { key: k3b, port: 51820 }]])).members.find((m) => m.node === 'host3')?.wgKey, k3b);
    assert.equal(repo.getNode(host.db, 'host3')?.wgKey, k3b);
    // A key this host knows as another node's (its record here), even outside this VPC: refused.
    repo.putNode(host.db, { name: 'host9', sshAddress: '192.0.2.9', sshPort: 22, sshUser: 'root', ip4: '192.0.2.9', ip6: null, hostKey: 'AAAA', platform: 'linux' });
    const k9 = newWgKeyPair().publicKey;
    repo.putNodeSeal(host.db, 'host9', k9, 51820);
    assert.throws(() => withStoreSeals(host, vpc, new Map([['host2', { key: k9, port: 51820 }]])), /vpc1: host2 says its WireGuard key is .*, which is host9's/);
    assert.equal(repo.getNode(host.db, 'host9')?.wgKey, k9, 'host9 keeps its key');
    // One key for two hosts, or this host's key for another: refused.
    assert.throws(() => withStoreSeals(host, vpc, new Map([['host2', { key: k2, port: 1 }], ['host3', { key: k2, port: 1 }]])), /vpc1: host3 says its WireGuard key is .*, which is host2's/);
    assert.throws(() => withStoreSeals(host, vpc, new Map([['host2', { key: own.key, port: 1 }]])), /vpc1: host2 says its WireGuard key is .*, which is h1's/);
    // A cleartext VPC is applied as it is.
    const clear = { ...vpc, encrypt: 'none' as const, members: vpc.members.map((m) => ({ node: m.node, underlay: m.underlay })) };
    assert.equal(withStoreSeals(host, clear, new Map([['host2', { key: k2, port: 1 }]])), clear);
  });
});

test('a host\'s addresses in the store are believed from itself only, and bound a definition\'s members this host has no record of', async () => {
  const as = await signers();
  const reader = as('host1');
  const put = (signer: string, node: string, body: Record<string, unknown>): { key: string; value: string } => ({ key: nodeKey(node), value: as(signer).seal(nodeKey(node), JSON.stringify(body), 5) });
  const good = { ip4: '192.0.2.3', ip6: null, platform: 'linux', version: '0.7.0' };
  assert.deepEqual(nodeIn(reader, put('host3', 'host3', good)), { said: { node: 'host3', ...good }, prev: 5 });
  assert.equal(nodeIn(reader, put('host4', 'host3', good)), null, 'host4 speaking for host3');
  assert.equal(nodeIn(reader, put('host3', 'host3', { ...good, ip4: '2001:db8::3' })), null, 'an IPv6 address as ip4');
  assert.equal(nodeIn(reader, put('host3', 'host3', { ...good, ip4: 'host3;reboot' })), null, 'not an address');
  assert.equal(nodeIn(reader, put('host3', 'host3', { ...good, platform: 'windows' })), null, 'an unknown platform');
  assert.equal(nodeIn(reader, put('host3', 'host3', { ...good, version: '$(id)' })), null, 'a version that is no version');
  await withHost(async (host) => {
    const vpc = { name: 'vpc1', peerNetwork: '198.51.100.0/26', family: 4 as const, mtu: null, firewall: true, members: [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'host3', underlay: '192.0.2.200' }] };
    const said = new Map([['host3', { node: 'host3', ...good, platform: 'linux' as const }]]);
    assert.throws(() => checkUnderlaysSaid(vpc, 'h1', said, host), /^UserError: refused: member host3 of vpc1 has underlay 192\.0\.2\.200, but host3 says its addresses are 192\.0\.2\.3$/);
    checkUnderlaysSaid({ ...vpc, members: [vpc.members[0] as { node: string; underlay: string }, { node: 'host3', underlay: '192.0.2.3' }] }, 'h1', said, host);
    // A member that said nothing (an agent older than 0.7) is taken as the definition says.
    checkUnderlaysSaid(vpc, 'h1', new Map(), host);
  });
});
