/**
 * This host's WireGuard link, kept in step with its encrypted VPCs. It is
 * host-wide (one link, one port, one key for every encrypted VPC), so it is
 * reconciled from all VPCs at once, like the firewall, and before a VPC's
 * tunnels: a sealed tunnel is never made before its link is up, so when the
 * link cannot come up the tunnels are not made at all rather than in
 * cleartext (and the firewall drops VXLAN to a seal address that would leave
 * by any other way).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../core/errors.js';
import { DEFAULT_WG_PORT, planSeal, sealSpec, WG_IFNAME, type SealIdentity } from '../core/seal.js';
import type { Op } from '../core/ops.js';
import type { VpcWithMap } from '../core/types.js';
import { ensureWgKey, wgKeyFile } from '../cluster/wg-keys.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';

/** This host's WireGuard public key (made on first use) and port. */
export function selfSeal(host: Pick<Host, 'db' | 'home'>): SealIdentity {
  return { key: ensureWgKey(host.home).publicKey, port: repo.getSelfWgPort(host.db) ?? DEFAULT_WG_PORT };
}

/** The same, as `hello` and `pair` say it. */
export function sealIntro(host: Pick<Host, 'db' | 'home'>): { wgKey: string; wgPort: number } {
  const { key, port } = selfSeal(host);
  return { wgKey: key, wgPort: port };
}

/** The VPCs whose tunnels this host keeps, with one of them as it is about to become. */
export function activeVpcs(host: Host, override?: { readonly vpc: VpcWithMap; readonly vxlan: boolean }): VpcWithMap[] {
  const stored = repo.listVpcs(host.db).filter((v) => v.name !== override?.vpc.name && repo.getLocal(host.db, v.name).vxlan);
  return override?.vxlan ? [...stored, override.vpc] : stored;
}

/** The ops that bring the WireGuard link to what the active VPCs need (and apply them unless dryrun). */
export async function reconcileSeal(host: Host, vpcs: readonly VpcWithMap[], dryrun: boolean): Promise<Op[]> {
  const self = host.self.nodename;
  const encrypted = vpcs.filter((v) => v.encrypt === 'wireguard' && v.members.some((m) => m.node === self));
  const driver = host.driver.seal;
  if (!driver) {
    if (encrypted.length === 0) return [];
    throw new UserError(`encrypt=wireguard is not available on ${host.driver.platform} hosts yet`);
  }
  const observed = await host.driver.observe();
  // A creation marker with no link of that name behind it claims nothing.
  if (!observed.has(WG_IFNAME) && !dryrun) rmSync(creatingFile(host), { force: true });
  if (encrypted.length === 0 && !observed.has(WG_IFNAME)) return [];
  // A peer's key and port: what it said itself (its node record) where this host knows it, else
  // what its encrypted VPCs here agree on (checkSealClaims keeps them agreeing).
  const known = new Map(repo.listNodes(host.db).flatMap((n) => (n.wgKey && n.wgPort ? [[n.name, { key: n.wgKey, port: n.wgPort }] as const] : [])));
  const peers = new Map<string, SealIdentity>();
  const endpoints = new Set<string>();
  for (const v of [...encrypted].sort((x, y) => (x.name < y.name ? -1 : 1))) {
    for (const m of v.members) {
      if (m.node === self) continue;
      endpoints.add(m.underlay);
      const id = known.get(m.node) ?? (m.wgKey && m.wgPort ? { key: m.wgKey, port: m.wgPort } : undefined);
      if (id && !peers.has(m.node)) peers.set(m.node, id);
    }
  }
  const underlayMtu = new Map<string, number>();
  for (const a of endpoints) underlayMtu.set(a, await host.driver.underlayMtu(a));
  const spec = sealSpec({ self, vpcs: encrypted, identity: selfSeal(host), peers, underlayMtu });
  const ops = planSeal(spec, observed, observed.has(WG_IFNAME) ? await driver.observe(WG_IFNAME) : null, wgKeyFile(host.home), existsSync(creatingFile(host)));
  if (dryrun || ops.length === 0) return ops;
  // Said before the link exists and unsaid once it carries meshvpc's mark: a run that dies in
  // between leaves the marker, and the next run knows the unmarked link is its own.
  const creates = ops.some((o) => o.op === 'create_wireguard');
  if (creates) writeFileSync(creatingFile(host), `${process.pid}\n`, { mode: 0o600 });
  try {
    await driver.apply(ops);
    rmSync(lastErrorFile(host), { force: true });
    rmSync(creatingFile(host), { force: true });
  } catch (e) {
    // Nothing of that name made: nothing to claim later.
    if (creates && !(await host.driver.observe()).has(WG_IFNAME)) rmSync(creatingFile(host), { force: true });
    const why = e instanceof Error ? e.message : String(e);
    writeFileSync(lastErrorFile(host), `${why}\n`, { mode: 0o600 });
    throw new UserError(
      `the WireGuard link ${WG_IFNAME} could not come up: ${why}; ` +
        `the tunnels of ${encrypted.map((v) => v.name).join(', ')} are not made in cleartext instead`,
    );
  }
  return ops;
}

const lastErrorFile = (host: Pick<Host, 'home'>): string => join(dirname(wgKeyFile(host.home)), 'last-error');
const creatingFile = (host: Pick<Host, 'home'>): string => join(dirname(wgKeyFile(host.home)), 'creating');

/** How this host's encrypted tunnels are carried now: the implementation, or why there is no link. */
export async function sealState(host: Host): Promise<string> {
  const impl = await host.driver.seal?.impl(WG_IFNAME);
  if (impl) return impl;
  const why = existsSync(lastErrorFile(host)) ? readFileSync(lastErrorFile(host), 'utf8').trim().slice(0, 300) : 'not made yet (vpc mode=apply makes it)';
  return `down: ${why}`;
}
