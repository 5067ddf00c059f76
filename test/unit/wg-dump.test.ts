/** src/platform/wg-dump.ts: `wg show NAME dump`, read the same way on Linux and FreeBSD. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWgDump } from '../../src/platform/wg-dump.js';
import { endpointText, planSeal, sealSpec, WG_ALIAS, WG_IFNAME } from '../../src/core/seal.js';
import { observedFrom } from '../../src/core/observed.js';
import { identities, KEY_FILE, link, sealedVpc, WG_KEYS, WG_PORT } from './seal-fixtures.js';

const K = WG_KEYS as Record<'node1' | 'node2' | 'node3' | 'node4', string>;
/** Not a key of any fixture: what the dump's first field (the private key) would hold. */
const PRIVATE = 'ECo7h3W99Rp/Ub04878mIT57k+Id/Dyw6IJYbr3e5FY=';

/**
 * As wireguard-tools prints it (tab-separated): the interface line (private
 * key, public key, listen port, fwmark), then per peer its public key,
 * preshared key, endpoint, allowed ips, latest handshake, rx, tx, keepalive.
 */
const DUMP = [
  [PRIVATE, K.node1, '51820', 'off'],
  [K.node2, '(none)', '192.0.2.2:51820', '198.51.100.6/32', '1763829465', '148296', '92512', 'off'],
  // Never heard from and given no endpoint yet: "(none)" for both, zeros for the counters.
  [K.node3, '(none)', '(none)', '(none)', '0', '0', '0', 'off'],
  [K.node4, '(none)', '[2001:db8::4]:51999', '198.51.100.22/32,fd00:99::16/128', '1763829401', '1048576', '2097152', '25'],
]
  .map((f) => f.join('\t'))
  .join('\n');

test('a dump: the link\'s key and port, and each peer with its endpoint, allowed IPs, handshake and counters', () => {
  assert.deepEqual(parseWgDump(`${DUMP}\n`), {
    publicKey: K.node1,
    port: 51820,
    peers: [
      { key: K.node2, endpoint: '192.0.2.2:51820', allowedIps: ['198.51.100.6/32'], handshake: 1763829465, rxBytes: 148296, txBytes: 92512 },
      { key: K.node3, endpoint: null, allowedIps: [], handshake: 0, rxBytes: 0, txBytes: 0 },
      { key: K.node4, endpoint: '[2001:db8::4]:51999', allowedIps: ['198.51.100.22/32', 'fd00:99::16/128'], handshake: 1763829401, rxBytes: 1048576, txBytes: 2097152 },
    ],
  });
});

test('a link just made: no key, port 0, no peers', () => {
  assert.deepEqual(parseWgDump('(none)\t(none)\t0\toff\n'), { publicKey: null, port: 0, peers: [] });
  // A set fwmark prints in hex; it changes nothing here.
  assert.deepEqual(parseWgDump(`${PRIVATE}\t${K.node1}\t51820\t0xca6c\n`), { publicKey: K.node1, port: 51820, peers: [] });
});

test('what is not a dump gives null; a line too short to be a peer is skipped', () => {
  assert.equal(parseWgDump(''), null);
  assert.equal(parseWgDump('\n\n'), null);
  assert.equal(parseWgDump('Unable to access interface: No such device\n'), null);
  const cut = `${DUMP.split('\n').slice(0, 2).join('\n')}\n${K.node3}\t(none)\t(none)\n`;
  assert.deepEqual(parseWgDump(cut)?.peers.map((p) => p.key), [K.node2]);
  // Counters that are not numbers read as 0, not NaN.
  const odd = parseWgDump(`(none)\t(none)\tx\toff\n${K.node2}\t(none)\t(none)\t(none)\t-\t?\t\toff\n`);
  assert.deepEqual(odd, { publicKey: null, port: 0, peers: [{ key: K.node2, endpoint: null, allowedIps: [], handshake: 0, rxBytes: 0, txBytes: 0 }] });
});

test('the dump of a link as meshvpc set it up plans nothing: endpoints and allowed IPs read back as planSeal writes them', () => {
  const taken = new Set<number>();
  const vpcs = [sealedVpc('a', ['node1', 'node2', 'node3'], 6, { taken }), sealedVpc('b', ['node1', 'node2'], 4, { taken, peerNetwork: 'fd00:99::/64' })];
  const spec = sealSpec({ self: 'node1', vpcs, identity: { key: K.node1, port: WG_PORT }, peers: identities(vpcs, 'node1'), underlayMtu: new Map() });
  assert.ok(spec);
  // As wg prints them: the peers in its own order, the allowed IPs of each in the order they were given.
  const dump = [
    [PRIVATE, K.node1, String(WG_PORT), 'off'],
    ...[...spec.peers].reverse().map((p) => [p.key, '(none)', endpointText(p.endpoint, p.port), p.allowedIps.join(','), '0', '0', '0', 'off']),
  ]
    .map((f) => f.join('\t'))
    .join('\n');
  assert.match(dump, /\[2001:db8::2\]:51820\t198\.51\.100\.6\/32,fd00:99::6\/128/);
  const observed = observedFrom([link({ name: WG_IFNAME, alias: WG_ALIAS, mtu: spec.mtu, addresses: [...spec.addresses] })]);
  assert.deepEqual(planSeal(spec, observed, parseWgDump(dump), KEY_FILE), []);
});
