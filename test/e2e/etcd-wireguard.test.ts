/**
 * encrypt=wireguard with backend=etcd (4-host lab, 3 etcd members, an agent
 * on every host):
 * - a deploy before any agent wrote its key is refused, naming the hosts;
 * - a VPC deployed encrypted through the store: containers on its 3 members
 *   ping each other, and a capture on an underlay link shows WireGuard and
 *   not one VXLAN packet; each host's key is under its own seal key, signed
 *   by itself (the definition copies them);
 * - host4 (a valid certificate, no member) writes host2's seal key with a key
 *   of its own: host2's agent writes its own again, and every member's link
 *   keeps host2's real key;
 * - host2 rotates its key: each member's agent applies vpc1 again, no echo of
 *   two continuous flows into host2 is lost, and both peers hold only the new key;
 *   host2's old value written back (a replay) is believed by nobody;
 * - vpc mode=set encrypt=wireguard moves a cleartext VPC into WireGuard on
 *   every member (its tunnels then cross sealed), and encrypt=none back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, destroyLab, startLabProcess, type LabProcess, type LabState } from '../../src/lab/lab.js';
import { newWgKeyPair } from '../../src/cluster/wg-keys.js';
import { etcdctl, eventually, eventuallyReaches, mv, ok, sh, shOk, signedPut } from './lab-helpers.js';

const guest = (h: number): string => `203.0.113.${h}`;

/** Run `during` while tcpdump captures UDP on `host`'s underlay link; the packets `filter` keeps. */
async function captured(lab: LabState, host: number, filter: string, during: () => Promise<void>): Promise<string[]> {
  const file = join(tmpdir(), `meshvpc-etcd-wg-${lab.id}-${host}.pcap`);
  try {
    const cap = sh(lab, host, 'timeout', '10', 'tcpdump', '-n', '-U', '-Z', 'root', '-i', 'eth0', '-w', file, 'udp');
    await new Promise((res) => setTimeout(res, 1500));
    await during();
    await cap;
    return (await sh(lab, host, 'tcpdump', '-n', '-r', file, filter)).stdout.split('\n').filter((l) => l.trim() !== '');
  } finally {
    rmSync(file, { force: true });
  }
}

const publicKey = async (lab: LabState, h: number): Promise<string> => (await shOk(lab, h, 'wg', 'show', 'meshvpc-wg', 'public-key')).trim();
const peersOf = async (lab: LabState, h: number): Promise<string[]> => (await shOk(lab, h, 'wg', 'show', 'meshvpc-wg', 'peers')).split('\n').filter((l) => l !== '');

test('backend=etcd with encrypt=wireguard: sealed tunnels through the agents, keys only from their hosts, rotation and set', { timeout: 900_000 }, async () => {
  const lab = await createLab({ hosts: 4, underlay: 'v4', etcd: 3 });
  const agents = new Map<number, LabProcess>();
  try {
    // Before any agent ran, no host has said its key: refused, naming them, and nothing stored.
    const early = await mv(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26', 'encrypt=wireguard');
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /vpc1 is encrypted, and host1, host2, host3 have no WireGuard key in the cluster's store: start meshvpc agent there/);
    assert.equal((await etcdctl(lab, 4, 'get', '--prefix', '--keys-only', '/meshvpc/v1/')).stdout.trim(), '', 'nothing in the store');
    for (const h of [1, 2, 3, 4]) agents.set(h, startLabProcess(lab, h, 'agent', ['meshvpc', 'agent']));
    for (const [h, a] of agents) await eventually(`host${h}'s agent wrote its key`, async () => /WireGuard key \S+ written to the store/.test(readFileSync(a.log, 'utf8')));
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc1', 'node_member=host1,host2,host3', 'peer_network=198.51.100.0/26', 'encrypt=wireguard'), /vpc1: 3 of 3 hosts converged/);
    for (const h of [1, 2, 3]) await ok(lab, h, 'jcreate', `jname=c${h}`, 'interface=vpc1', `ip4_addr=${guest(h)}/24`, 'runasap=1');

    // Each host's key is its own word in the store, which the definition copies.
    const envelope = JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', '/meshvpc/v1/vpc/vpc1')).stdout) as { by: string; body: string };
    const def = JSON.parse(envelope.body) as { encrypt: string; members: { node: string; wgKey?: string }[]; pairs: { sealSlot?: number }[] };
    assert.equal(def.encrypt, 'wireguard');
    assert.ok(def.pairs.every((p) => typeof p.sealSlot === 'number'), 'every pair has its seal block');
    for (const h of [1, 2, 3, 4]) {
      const seal = JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', `/meshvpc/v1/seal/host${h}`)).stdout) as { by: string; body: string };
      assert.equal(seal.by, `host${h}`);
      const key = (await shOk(lab, h, 'sh', '-c', 'wg pubkey < /var/db/meshvpc/wireguard/private.key')).trim();
      assert.equal((JSON.parse(seal.body) as { wgKey: string }).wgKey, key, `host${h}'s seal key is its own key's`);
      if (h < 4) assert.equal(await publicKey(lab, h), key, `host${h}'s link has it`);
      if (h < 4) assert.equal(def.members.find((m) => m.node === `host${h}`)?.wgKey, key);
    }

    // Pings cross, and the underlay carries WireGuard only.
    for (const [from, to] of [[1, 2], [2, 3], [3, 1]] as const) assert.equal((await eventuallyReaches(lab, from, `c${from}`, guest(to), 20)).code, 0, `c${from} reaches c${to}`);
    const vxlan = await captured(lab, 2, 'udp port 4789', async () => {
      for (const [from, to] of [[1, 2], [2, 3], [3, 2]] as const) assert.equal((await ok(lab, from, 'jexec', `jname=c${from}`, 'ping', '-c', '3', '-i', '0.2', '-W', '2', guest(to))).length > 0, true);
    });
    assert.deepEqual(vxlan, [], 'no VXLAN (cleartext guest frames) on host2\'s underlay');

    // host4 says host2's key is one of its own: host2's agent writes its own word again, and the
    // members' links keep host2's real key.
    const real2 = await publicKey(lab, 2);
    const fake = newWgKeyPair().publicKey;
    await signedPut(lab, '/meshvpc/v1/seal/host2', JSON.stringify({ wgKey: fake, wgPort: 51820 }));
    await eventually('host2 wrote its own key again', async () => {
      const v = JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', '/meshvpc/v1/seal/host2')).stdout) as { by: string };
      return v.by === 'host2';
    });
    assert.match(readFileSync(agents.get(2)?.log ?? '', 'utf8'), new RegExp(`this host's WireGuard key ${real2.replace(/[+/]/g, '\\$&')} written to the store`));
    for (const h of [1, 3]) {
      const peers = await peersOf(lab, h);
      assert.ok(peers.includes(real2) && !peers.includes(fake), `host${h} keeps host2's real key: ${peers.join(' ')}`);
    }
    assert.equal((await eventuallyReaches(lab, 1, 'c1', guest(2), 10)).code, 0);

    // host2's own signed value of its current key, kept to be written back after the rotation.
    const oldSeal = (await etcdctl(lab, 4, 'get', '--print-value-only', '/meshvpc/v1/seal/host2')).stdout.trim();

    // Rotation under two continuous flows into host2.
    const flows = [1, 3].map((h) => sh(lab, h, 'meshvpc', 'jexec', `jname=c${h}`, 'ping', '-c', '300', '-i', '0.05', guest(2)));
    await new Promise((res) => setTimeout(res, 3000));
    const rotated = await ok(lab, 2, 'vpc', 'mode=rotate_keys');
    assert.match(rotated, /host1: vpc1 applied with the new key/);
    assert.match(rotated, /host3: vpc1 applied with the new key/);
    assert.match(rotated, /host2: new key in the cluster's store; 2 of 2 member agents applied it/);
    for (const [i, f] of (await Promise.all(flows)).entries()) {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(f.stdout);
      console.log(`rotation with etcd, flow host${[1, 3][i]} -> host2: ${m?.[0] ?? f.stdout + f.stderr}`);
      assert.equal(m?.[1], '300');
      assert.equal(m?.[2], '300', 'no echo lost while the key changed');
    }
    const new2 = await publicKey(lab, 2);
    assert.notEqual(new2, real2);
    for (const h of [1, 3]) {
      const peers = await peersOf(lab, h);
      assert.ok(peers.includes(new2) && !peers.includes(real2), `host${h} has host2's new key only`);
    }

    // host4 writes host2's old value back (signed by host2 itself, but replacing an older
    // revision): the members do not believe it, host2 says its current key again, and no link
    // goes back to the old key.
    const logFrom = [1, 3].map((h) => readFileSync(agents.get(h)?.log ?? '', 'utf8').length);
    assert.equal((await etcdctl(lab, 4, 'put', '/meshvpc/v1/seal/host2', oldSeal)).code, 0);
    for (const [i, h] of [1, 3].entries()) {
      await eventually(`host${h} refused the old key`, async () => /host2's WireGuard key in the store is not believed: its value replaces revision \d+, older than revision \d+ believed here \(an old one written back\)/.test(readFileSync(agents.get(h)?.log ?? '', 'utf8').slice(logFrom[i])));
    }
    await eventually('host2 said its current key again', async () => {
      const v = JSON.parse((await etcdctl(lab, 4, 'get', '--print-value-only', '/meshvpc/v1/seal/host2')).stdout) as { body: string };
      return (JSON.parse(v.body) as { wgKey: string }).wgKey === new2;
    });
    for (const h of [1, 3]) {
      const peers = await peersOf(lab, h);
      assert.ok(peers.includes(new2) && !peers.includes(real2), `an old key written back: host${h} still has host2's new key only`);
    }
    assert.equal((await eventuallyReaches(lab, 1, 'c1', guest(2), 10)).code, 0);

    // A cleartext VPC moved into WireGuard and back by vpc mode=set.
    assert.match(await ok(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=vpc2', 'node_member=host1,host4', 'peer_network=198.51.100.64/26'), /vpc2: 2 of 2 hosts converged/);
    for (const h of [1, 4]) await ok(lab, h, 'jcreate', `jname=d${h}`, 'interface=vpc2', `ip4_addr=203.0.113.${100 + h}/24`, 'runasap=1');
    assert.equal((await eventuallyReaches(lab, 4, 'd4', '203.0.113.101', 20)).code, 0);
    assert.match(await ok(lab, 4, 'vpc', 'mode=set', 'vpc_name=vpc2', 'encrypt=wireguard'), /encrypt none -> wireguard[\s\S]*vpc2: set on 2 of 2 members/);
    const key1 = await publicKey(lab, 1);
    assert.ok((await peersOf(lab, 4)).includes(key1), 'host4 has host1 as a WireGuard peer');
    assert.equal((await eventuallyReaches(lab, 4, 'd4', '203.0.113.101', 20)).code, 0);
    const sealedVpc2 = await captured(lab, 4, 'udp port 4789', async () => {
      await ok(lab, 4, 'jexec', 'jname=d4', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '203.0.113.101');
    });
    assert.deepEqual(sealedVpc2, [], 'vpc2 crosses sealed');
    assert.match(await ok(lab, 1, 'vpc', 'mode=set', 'vpc_name=vpc2', 'encrypt=none'), /encrypt wireguard -> none[\s\S]*vpc2: set on 2 of 2 members/);
    assert.equal((await eventuallyReaches(lab, 4, 'd4', '203.0.113.101', 20)).code, 0);
    const clear = await captured(lab, 4, 'udp port 4789', async () => {
      await ok(lab, 4, 'jexec', 'jname=d4', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '203.0.113.101');
    });
    assert.ok(clear.length > 0, 'vpc2 crosses as VXLAN again');
    // vpc1 kept its seal all along.
    assert.equal((await eventuallyReaches(lab, 3, 'c3', guest(2), 10)).code, 0);
  } catch (e) {
    // What each agent said is the first thing to read when this fails.
    for (const [h, a] of agents) console.log(`--- host${h}'s agent:\n${readFileSync(a.log, 'utf8').split('\n').slice(-25).join('\n')}`);
    throw e;
  } finally {
    await destroyLab(lab);
  }
});
