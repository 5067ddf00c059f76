/** Shared by the freebsd-*.test.ts files: fixtures and the 3-host VPC they describe. */
import { readdirSync, readFileSync } from 'node:fs';
import { allocatePeerMap } from '../../src/core/peermap.js';
import { buildHostSpec, type HostSpec } from '../../src/core/spec.js';
import { network } from '../../src/core/validate.js';

/** Tests run from dist/test/unit; three levels up is the repository root. */
export function fixture(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/freebsd/${name}`, import.meta.url), 'utf8');
}

const REAL = new URL('../../../test/fixtures/freebsd-real/', import.meta.url);

/** The files of test/fixtures/freebsd-real (real output published by others), README aside. */
export function realFixtureNames(): string[] {
  return readdirSync(REAL).filter((f) => f !== 'README.md').sort();
}

/**
 * A real capture without its leading `#@` lines (source, FreeBSD version,
 * whitespace), which no FreeBSD command prints. Every capture must cite its source.
 */
export function realFixture(name: string): string {
  const text = readFileSync(new URL(name, REAL), 'utf8');
  const lines = text.split('\n');
  const meta = lines.findIndex((l) => !l.startsWith('#@'));
  if (!lines.slice(0, meta).some((l) => /^#@ source: \S/.test(l))) throw new Error(`${name} has no "#@ source:" line`);
  return lines.slice(meta).join('\n');
}

/** The lines of one interface in `ifconfig -a` text, as `ifconfig NAME` prints them. */
export function ifconfigBlock(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${name}: flags=`));
  if (start < 0) throw new Error(`no interface ${name} in the fixture`);
  let end = start + 1;
  while (end < lines.length && /^\s/.test(lines[end] ?? '')) end++;
  return `${lines.slice(start, end).join('\n')}\n`;
}

export const MEMBERS = ['node1', 'node2', 'node3'] as const;

export const UNDERLAY = {
  4: new Map([['node1', '192.0.2.1'], ['node2', '192.0.2.2'], ['node3', '192.0.2.3']]),
  6: new Map([['node1', '2001:db8::1'], ['node2', '2001:db8::2'], ['node3', '2001:db8::3']]),
} as const;

export interface SpecOptions {
  readonly bridge?: boolean;
  readonly bridgeIps?: readonly string[];
  readonly owned?: readonly string[];
}

/** VPC vpc1 over node1..node3, peer network 10.100.0.0/24, seen from `self`. */
export function threeHostSpec(self: string, family: 4 | 6, opts: SpecOptions = {}): HostSpec {
  const pairs = allocatePeerMap({
    members: [...MEMBERS],
    network: network('10.100.0.0/24', 'peer_network'),
    existing: [],
    takenVnis: new Set(),
  });
  return buildHostSpec({
    vpc: 'vpc1',
    self,
    pairs,
    family,
    underlay: UNDERLAY[family],
    underlayMtu: new Map(MEMBERS.map((m) => [m, 1500])),
    mtu: null,
    layers: { vxlan: true, bridge: opts.bridge ?? true },
    bridgeIps: opts.bridgeIps ?? [],
    owned: opts.owned ?? [],
  });
}

/** A guest on vpc1 and what setting it up runs once `ifconfig epair create` printed epair3a. */
export const GUEST = { name: 'web1', bridge: 'vpc1', mtu: 1430, hostIf: 'mvweb1a', addresses: ['10.10.11.1/24'] };
export const GUEST_SETUP_LINES: readonly string[] = [
  'ifconfig epair3a name mvweb1a',
  'ifconfig mvweb1a mtu 1430 description guest-web1',
  'ifconfig epair3b mtu 1430',
  'ifconfig vpc1 addm mvweb1a',
  'ifconfig mvweb1a up',
  'jail -c name=web1 path=/ host.hostname=web1 vnet persist allow.raw_sockets vnet.interface=epair3b',
  'jexec web1 ifconfig epair3b name eth0',
  'jexec web1 ifconfig lo0 up',
  'jexec web1 ifconfig eth0 mtu 1430 up',
  'jexec web1 ifconfig eth0 inet 10.10.11.1/24 alias',
];
