/**
 * node mode=update, the pure parts: what a peer's record and the VPCs become
 * when its address moves, every refusal before anything is contacted, what a
 * remote host may ask of this one (node_moved), and the catalog's checks.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { disagreement, endpoint, movedMembers, planMove } from '../../src/core/node-move.js';
import { checkMoved, checkUnderlays } from '../../src/core/authority.js';
import { requestFromWire } from '../../src/cluster/wire.js';
import { operation, parseInput } from '../../src/app/catalog.js';
import { UserError } from '../../src/core/errors.js';
import type { NodeRecord, VpcDef } from '../../src/core/types.js';

const self = { nodename: 'h1', ip4: '192.0.2.1', ip6: '2001:db8::1' };
const node = (name: string, i: number, over: Partial<NodeRecord> = {}): NodeRecord => ({
  name, sshAddress: `192.0.2.${i}`, sshPort: 22, sshUser: 'root', ip4: `192.0.2.${i}`, ip6: `2001:db8::${i}`, hostKey: `K${i}`, platform: 'linux', ...over,
});
const h2 = node('h2', 2);
const NODES = [h2, node('h3', 3)];
const vpc = (name: string, family: 4 | 6, members: string[], peerNetwork = '198.51.100.0/24'): VpcDef => ({
  name, peerNetwork, family, mtu: null, firewall: true,
  members: members.map((m) => ({ node: m, underlay: family === 6 ? `2001:db8::${m.slice(1)}` : `192.0.2.${m.slice(1)}` })),
});
const VPCS = [vpc('v4a', 4, ['h1', 'h2', 'h3']), vpc('v6a', 6, ['h1', 'h2']), vpc('other', 4, ['h1', 'h3'])];

function refused(run: () => unknown, message: RegExp, kind?: string): void {
  assert.throws(run, (e: unknown) => e instanceof UserError && message.test(e.message) && !e.message.includes('\n') && (kind === undefined || e.kind === kind));
}

describe('planMove', () => {
  test('ip= moves the IPv4 address, the SSH address reached over IPv4 and the underlay of IPv4 VPCs only', () => {
    const m = planMove(h2, { ip: '192.0.2.102' }, self, NODES, VPCS);
    assert.deepEqual(m.after, { ...h2, ip4: '192.0.2.102', sshAddress: '192.0.2.102' });
    assert.equal(m.changed, true);
    assert.deepEqual(m.underlays, [{ vpc: 'v4a', from: '192.0.2.2', to: '192.0.2.102' }]);
  });

  test('ip6= moves the IPv6 address and IPv6 VPCs; the SSH address stays when it is IPv4', () => {
    const m = planMove(h2, { ip6: '2001:db8::102' }, self, NODES, VPCS);
    assert.deepEqual(m.after, { ...h2, ip6: '2001:db8::102' });
    assert.deepEqual(m.underlays, [{ vpc: 'v6a', from: '2001:db8::2', to: '2001:db8::102' }]);
    const reachedOver6 = node('h2', 2, { sshAddress: '2001:db8::2' });
    assert.equal(planMove(reachedOver6, { ip6: '2001:db8::102' }, self, NODES, VPCS).after.sshAddress, '2001:db8::102');
    assert.equal(planMove(reachedOver6, { ip: '192.0.2.102' }, self, NODES, VPCS).after.sshAddress, '2001:db8::2');
  });

  test('port= alone changes only the SSH port and no VPC', () => {
    const m = planMove(h2, { port: 2222 }, self, NODES, VPCS);
    assert.deepEqual(m.after, { ...h2, sshPort: 2222 });
    assert.deepEqual(m.underlays, []);
  });

  test('the same values again: the record is unchanged, but VPCs that still hold the old address are found', () => {
    const m = planMove(h2, { ip: '192.0.2.2' }, self, NODES, VPCS);
    assert.equal(m.changed, false);
    assert.deepEqual(m.underlays, []);
    const moved = node('h2', 2, { ip4: '192.0.2.102', sshAddress: '192.0.2.102' });
    const lagging = planMove(moved, { ip: '192.0.2.102' }, self, [moved, NODES[1] as NodeRecord], VPCS);
    assert.equal(lagging.changed, false);
    assert.deepEqual(lagging.underlays, [{ vpc: 'v4a', from: '192.0.2.2', to: '192.0.2.102' }]);
  });

  test('refusals: nothing said, another node\'s or this host\'s address, a special address, inside a peer network', () => {
    refused(() => planMove(h2, {}, self, NODES, VPCS), /say what changed: node mode=update node=h2 ip=ADDR/);
    refused(() => planMove(h2, { ip: '192.0.2.3' }, self, NODES, VPCS), /^ip=192\.0\.2\.3 is already h3's address \(meshvpc node mode=list\); nothing was changed$/, 'conflict');
    refused(() => planMove(h2, { ip6: '2001:db8::3' }, self, NODES, VPCS), /ip6=2001:db8::3 is already h3's address/, 'conflict');
    refused(() => planMove(h2, { ip: '192.0.2.1' }, self, NODES, VPCS), /is already h1's \(this host's own\) address/, 'conflict');
    // A node's SSH address counts too, whatever its family fields say.
    refused(() => planMove(h2, { ip: '192.0.2.77' }, self, [h2, node('h3', 3, { sshAddress: '192.0.2.77' })], VPCS), /already h3's address/);
    refused(() => planMove(h2, { ip: '127.0.0.1' }, self, NODES, VPCS), /invalid ip "127\.0\.0\.1": it is a loopback/);
    refused(() => planMove(h2, { ip: '198.51.100.7' }, self, NODES, VPCS), /^ip=198\.51\.100\.7 lies in 198\.51\.100\.0\/24, the peer network of v4a/);
  });

  test('movedMembers and endpoint', () => {
    assert.deepEqual(movedMembers(vpc('v', 4, ['h1', 'h2']).members, 'h2', '192.0.2.102'), [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'h2', underlay: '192.0.2.102' }]);
    assert.equal(endpoint('192.0.2.7', 22), '192.0.2.7:22');
    assert.equal(endpoint('2001:db8::7', 2222), '[2001:db8::7]:2222');
  });
});

describe('the node speaks for its own addresses', () => {
  test('it must say it has the new address; the refusal names the initenv to run there', () => {
    assert.equal(disagreement('h2', '192.0.2.102:22', { ip: '192.0.2.102' }, { ip4: '192.0.2.102', ip6: null }), null);
    assert.equal(disagreement('h2', '192.0.2.2:2222', { port: 2222 }, { ip4: '192.0.2.2', ip6: null }), null);
    assert.equal(
      disagreement('h2', '192.0.2.102:22', { ip: '192.0.2.102' }, { ip4: '192.0.2.2', ip6: '2001:db8::2' }),
      'h2 answers at 192.0.2.102:22 but says its own address is IPv4 192.0.2.2: run meshvpc initenv nodename=h2 nodeip=192.0.2.102 nodeip6=2001:db8::2 on h2 first (a host speaks for its own addresses); nothing was changed',
    );
    assert.match(disagreement('h2', 'x', { ip6: '2001:db8::9' }, { ip4: null, ip6: null }) ?? '', /says its own address is IPv6 none: run meshvpc initenv nodename=h2 nodeip6=2001:db8::9 on h2/);
  });
});

describe('authority: who believes a moved address', () => {
  test('a definition from a member showing a known node at a new address is refused until this host has checked it', () => {
    const moved: VpcDef = { ...vpc('v4a', 4, ['h1', 'h2', 'h3']), members: movedMembers(vpc('v4a', 4, ['h1', 'h2', 'h3']).members, 'h2', '192.0.2.102') };
    const receiver = { nodename: 'h3', ip4: '192.0.2.3', ip6: null };
    const known = [node('h1', 1), h2];
    refused(() => checkUnderlays(moved, receiver, known), /member h2 of v4a has underlay 192\.0\.2\.102, but h2's IPv4 address here is 192\.0\.2\.2/);
    // After node_moved, checked with h2 itself, the receiver's record says so and the definition passes.
    checkUnderlays(moved, receiver, [node('h1', 1), { ...h2, ip4: '192.0.2.102', sshAddress: '192.0.2.102' }]);
  });

  test('node_moved: any bound member may ask, nobody may move the receiver itself, an unbound key may not ask', () => {
    checkMoved({ kind: 'member', node: 'h1' }, 'h2', self);
    checkMoved({ kind: 'member', node: 'h2' }, 'h2', self);
    checkMoved({ kind: 'root' }, 'h2', self);
    refused(() => checkMoved({ kind: 'member', node: 'h2' }, 'h1', self), /h1 is this host's own name; its addresses change only with its own meshvpc initenv/);
    refused(() => checkMoved({ kind: 'legacy' }, 'h2', self), /bound to its node/);
  });

  test('node_moved on the wire is checked like typed input', () => {
    assert.deepEqual(requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2', ip: '192.0.2.102', port: 22 })), { op: 'node_moved', node: 'h2', ip: '192.0.2.102', port: 22 });
    assert.deepEqual(requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2', ip6: '2001:DB8:0::102' })), { op: 'node_moved', node: 'h2', ip6: '2001:db8::102' });
    refused(() => requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2', ip: '999.1.1.1' })), /invalid ip "999\.1\.1\.1"/);
    refused(() => requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2', ip: '224.0.0.1' })), /multicast/);
    refused(() => requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2; rm', ip: '192.0.2.9' })), /invalid nodename/);
    refused(() => requestFromWire(JSON.stringify({ op: 'node_moved', node: 'h2', port: 70000 })), /port out of range/);
  });
});

describe('catalog: node mode=update', () => {
  const op = operation('node.update');
  test('addresses and port are checked like node mode=add and initenv input, from either face', () => {
    const cli = parseInput(op, new Map([['node', 'h2'], ['ip', '192.0.2.102'], ['port', '2222']]));
    const json = parseInput(op, new Map<string, unknown>([['node', 'h2'], ['ip', '192.0.2.102'], ['port', 2222]]), true);
    assert.deepEqual(cli, json);
    assert.deepEqual([cli.ip, cli.ip6, cli.port, cli.dryrun], ['192.0.2.102', undefined, 2222, undefined]);
    refused(() => parseInput(op, new Map([['node', 'h2'], ['ip', '999.1.1.1']])), /^invalid ip "999\.1\.1\.1": use an IPv4 address such as 192\.0\.2\.10$/);
    refused(() => parseInput(op, new Map([['node', 'h2'], ['ip6', '192.0.2.5']])), /^invalid ip6 "192\.0\.2\.5": use an IPv6 address/);
    refused(() => parseInput(op, new Map([['node', 'h2'], ['port', '0']])), /^invalid port "0"/);
    refused(() => parseInput(op, new Map([['ip', '192.0.2.5']])), /^missing node=/);
  });
});
