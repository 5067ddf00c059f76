/** src/core/authority.ts: what a peer may say, decided from the caller sshd bound, never from the request. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkPair, checkUnderlays, checkUnpair, checkVpcChange, requireBound, type Caller } from '../../src/core/authority.js';
import type { NodeRecord, VpcDef } from '../../src/core/types.js';
import { UserError } from '../../src/core/errors.js';

const self = { nodename: 'h2', ip4: '192.0.2.2', ip6: '2001:db8::2' };
const node = (name: string, i: number): NodeRecord => ({ name, sshAddress: `192.0.2.${i}`, sshPort: 22, sshUser: 'root', ip4: `192.0.2.${i}`, ip6: `2001:db8::${i}`, hostKey: 'K', platform: 'linux' });
const NODES = [node('h1', 1), node('h3', 3)];
const h1: Caller = { kind: 'member', node: 'h1' };
const vpc = (members: string[], name = 'v'): VpcDef => ({
  name, peerNetwork: '198.51.100.0/24', family: 4, mtu: null, firewall: true,
  members: members.map((m) => ({ node: m, underlay: m === 'h9' ? '192.0.2.9' : `192.0.2.${m.slice(1)}` })),
});
const intro = (over: Partial<Parameters<typeof checkPair>[1]> = {}): Parameters<typeof checkPair>[1] => ({ nodename: 'h1', ip4: '192.0.2.1', ip6: null, sshAddress: '192.0.2.1', publicKeyBlob: 'KEY1', ...over });

function refused(run: () => unknown, message: RegExp): void {
  assert.throws(run, (e: unknown) => e instanceof UserError && message.test(e.message) && !e.message.includes('\n'));
}

describe('pair: a host speaks only for itself', () => {
  test('a member re-registers itself with the key it authenticated with', () => {
    checkPair(h1, intro(), 'KEY1', self, NODES);
  });
  test('it cannot speak for another node, change its key, or claim another host\'s address', () => {
    refused(() => checkPair(h1, intro({ nodename: 'h3' }), 'KEY1', self, NODES), /h1 may only speak for itself, not for h3/);
    refused(() => checkPair(h1, intro({ publicKeyBlob: 'OTHER' }), 'KEY1', self, NODES), /other than the one it authenticated with/);
    refused(() => checkPair(h1, intro(), null, self, NODES), /other than the one it authenticated with/);
    refused(() => checkPair(h1, intro({ ip4: '192.0.2.3' }), 'KEY1', self, NODES), /claims 192\.0\.2\.3, which belongs to h3/);
    refused(() => checkPair(h1, intro({ sshAddress: '192.0.2.2' }), 'KEY1', self, NODES), /this host's own address/);
    refused(() => checkPair(h1, intro({ nodename: 'h2' }), 'KEY1', self, NODES), /this host's own name/);
  });
  test('a root login (first contact by password or the admin\'s key) may register any name; an unbound key may not', () => {
    checkPair({ kind: 'root' }, intro({ nodename: 'h7', ip4: '192.0.2.7', sshAddress: '192.0.2.7', publicKeyBlob: 'NEW' }), null, self, NODES);
    refused(() => checkPair({ kind: 'legacy' }, intro(), 'KEY1', self, NODES), /bound to its node/);
  });
});

describe('unpair and VPC changes', () => {
  test('a member removes only itself', () => {
    checkUnpair(h1, 'h1');
    refused(() => checkUnpair(h1, 'h3'), /h1 may only remove itself, not h3/);
    checkUnpair({ kind: 'root' }, 'h3');
  });
  test('a stored VPC is changed only by its members', () => {
    checkVpcChange(h1, 'h2', vpc(['h1', 'h2']), null, 'forget');
    refused(() => checkVpcChange(h1, 'h2', vpc(['h2', 'h3']), null, 'forget'), /h1 is not a member of v here, so it may not forget it/);
    // An offered definition that adds the caller does not make it a member of the stored one.
    refused(() => checkVpcChange(h1, 'h2', vpc(['h2', 'h3']), vpc(['h1', 'h2', 'h3']), 'define'), /h1 is not a member of v here/);
  });
  test('a new VPC must list both the sender and the receiver', () => {
    checkVpcChange(h1, 'h2', null, vpc(['h1', 'h2']), 'define');
    refused(() => checkVpcChange(h1, 'h2', null, vpc(['h2', 'h3']), 'define'), /h1 is not a member of the v it sent/);
    refused(() => checkVpcChange(h1, 'h2', null, vpc(['h1', 'h3']), 'define'), /does not include h2/);
  });
  test('an unbound key may read but not change', () => {
    refused(() => requireBound({ kind: 'legacy' }, 'vpc_apply'), /run the command again/);
    refused(() => checkVpcChange({ kind: 'legacy' }, 'h2', vpc(['h1', 'h2']), null, 'apply'), /bound to its node/);
  });
});

describe('underlays: known hosts at known addresses', () => {
  test('known members must be where this host knows them', () => {
    checkUnderlays(vpc(['h1', 'h2', 'h3']), self, NODES);
    refused(() => checkUnderlays({ ...vpc(['h1', 'h2']), members: [{ node: 'h1', underlay: '192.0.2.77' }, { node: 'h2', underlay: '192.0.2.2' }] }, self, NODES), /h1 of v has underlay 192\.0\.2\.77, but h1's IPv4 address here is 192\.0\.2\.1/);
    refused(() => checkUnderlays({ ...vpc(['h1', 'h2']), members: [{ node: 'h1', underlay: '192.0.2.1' }, { node: 'h2', underlay: '192.0.2.1' }] }, self, NODES), /h2 of v has underlay 192\.0\.2\.1/);
  });
  test('members never met are the sender\'s word, but may not take a known address', () => {
    checkUnderlays(vpc(['h1', 'h2', 'h9']), self, NODES);
    refused(() => checkUnderlays({ ...vpc(['h1', 'h2']), members: [...vpc(['h1', 'h2']).members, { node: 'h8', underlay: '192.0.2.3' }] }, self, NODES), /h8 of v claims 192\.0\.2\.3, which belongs to h3/);
    refused(() => checkUnderlays({ ...vpc(['h1', 'h2']), members: [...vpc(['h1']).members, { node: 'h8', underlay: '192.0.2.2' }] }, self, NODES), /which is h2's own address/);
  });
});
