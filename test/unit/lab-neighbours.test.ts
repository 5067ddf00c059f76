/**
 * The lab's permanent neighbour entries (src/lab/lab.ts): every host gets one
 * for every other host's underlay address, in each family the lab uses, and
 * none for itself. They keep 64 hosts inside the kernel's shared neighbour
 * tables (docs: lab-facts.md, "The lab's limits").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HOSTS, neighbourLines, underlayAddress, type LabHost } from '../../src/lab/lab.js';

const host = (index: number, family: 'v4' | 'v6' | 'both'): LabHost => ({
  index,
  name: `host${index}`,
  netns: `mvltest-h${index}`,
  dir: `/tmp/none/host${index}`,
  ip4: family === 'v6' ? null : underlayAddress('v4', index),
  ip6: family === 'v4' ? null : underlayAddress('v6', index),
  pid: 0,
});
const mac = (i: number): string => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;

test('each lab host gets a permanent entry for every other host, none for itself', () => {
  const hosts = [1, 2, 3].map((i) => host(i, 'v4'));
  const macs = new Map(hosts.map((h) => [h.index, mac(h.index)]));
  assert.deepEqual(neighbourLines(hosts[0] as LabHost, hosts, macs), [
    'neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent',
    'neigh replace 192.0.2.3 lladdr 02:00:00:00:00:03 dev eth0 nud permanent',
  ]);
  const v6 = [1, 2].map((i) => host(i, 'v6'));
  assert.deepEqual(neighbourLines(v6[1] as LabHost, v6, macs), ['neigh replace 2001:db8:0:1::1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent']);
  const both = [1, 2].map((i) => host(i, 'both'));
  assert.equal(neighbourLines(both[0] as LabHost, both, macs).length, 2, 'both families');
});

test('64 hosts: 63 entries each, 4032 in all, and the lab allows that many hosts', () => {
  const hosts = Array.from({ length: 64 }, (_, k) => host(k + 1, 'v4'));
  const macs = new Map(hosts.map((h) => [h.index, mac(h.index)]));
  const lines = hosts.map((h) => neighbourLines(h, hosts, macs));
  assert.ok(lines.every((l) => l.length === 63));
  assert.equal(lines.flat().length, 4032);
  assert.ok(MAX_HOSTS >= 65, 'a 64-host VPC and one host to join');
  // A host whose MAC could not be read gets no entry (ARP resolves it as before).
  assert.equal(neighbourLines(hosts[0] as LabHost, hosts, new Map([[2, mac(2)]])).length, 1);
});
