/**
 * What this host does for a peer's request (`meshvpc remote`, the only thing
 * a peer's cluster key may run here): checked against who is calling, then
 * answered as data. The adapter in adapters/remote reads and writes the wire.
 */
import { atomically } from '../store/tx.js';
import { UserError } from '../core/errors.js';
import { authorize, authorizedBlob, deauthorize, keyBlob, readPublicKey, upgradeAuthorizedKeys } from '../cluster/keys.js';
import type { Hello, Request, Response } from '../cluster/protocol.js';
import { requestFromWire } from '../cluster/wire.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import { accept, collapse, forget, hostFacts, layersChange, preflight, reconcile, reconcileAccepted, refreshFdb, status } from './vpc-local.js';
import { VERSION } from '../core/version.js';
import { checkMoved, checkPair, checkSealClaims, checkUnderlays, checkUnpair, checkVpcChange, requireBound, type Caller } from '../core/authority.js';
import { sealIntro, selfSeal } from './seal.js';
import type { VpcWithMap } from '../core/types.js';
import { nodeName } from '../core/validate.js';
import { jailsHere } from './jail.js';
import { guestListHere, holdHere, LEASE_TTL_MS } from './guest-guard.js';
import { exclusively } from '../store/tx.js';
import { takeReport } from './guest-reports.js';

export async function hello(host: Host, vpc?: string): Promise<Hello> {
  return {
    ...host.self,
    platform: host.driver.platform,
    publicKey: readPublicKey(host.home),
    version: VERSION,
    ...sealIntro(host),
    ...(vpc === undefined ? {} : await hostFacts(host, vpc)),
  };
}

/** A definition from a peer: it must come from a member, and name known nodes at known addresses. */
function checkDefinition(host: Host, caller: Caller, def: VpcWithMap, what: string): void {
  checkVpcChange(caller, host.self.nodename, repo.getVpc(host.db, def.name), def, what);
  checkUnderlays(def, host.self, repo.listNodes(host.db));
  checkSealClaims(caller, def, { name: host.self.nodename, key: selfSeal(host).key }, repo.listNodes(host.db), repo.listVpcs(host.db));
}

/**
 * The caller's own WireGuard key in an encrypted definition it sent is its
 * word about itself: remembered (its node record and its member records in
 * every VPC here) before the definition is checked, so a refusal of the rest
 * does not leave this host on its old key. A key another node holds here is
 * not taken.
 */
function learnCallerKey(host: Host, caller: Caller, def: VpcWithMap | undefined): void {
  if (caller.kind !== 'member' || !def || def.encrypt !== 'wireguard') return;
  const me = def.members.find((m) => m.node === caller.node);
  if (!me?.wgKey || !me.wgPort || !repo.getNode(host.db, caller.node)) return;
  const taken = me.wgKey === selfSeal(host).key || repo.listNodes(host.db).some((n) => n.name !== caller.node && n.wgKey === me.wgKey);
  if (!taken) atomically(host.db, () => repo.putNodeSeal(host.db, caller.node, me.wgKey as string, me.wgPort as number));
}

async function handle(host: Host, caller: Caller, req: Request): Promise<unknown> {
  const stored = (name: string): VpcWithMap | null => repo.getVpc(host.db, name);
  switch (req.op) {
    case 'hello':
      return hello(host, req.vpc);
    case 'pair': {
      const n = req.node;
      checkPair(caller, { ...n, publicKeyBlob: keyBlob(n.publicKey) }, caller.kind === 'member' ? authorizedBlob(caller.node) : null, host.self, repo.listNodes(host.db));
      atomically(host.db, () => {
        repo.putNode(host.db, {
          name: n.nodename,
          sshAddress: n.sshAddress,
          sshPort: n.sshPort,
          sshUser: n.sshUser,
          ip4: n.ip4,
          ip6: n.ip6,
          hostKey: n.hostKey,
          platform: n.platform,
        });
        if (n.wgKey && n.wgPort) repo.putNodeSeal(host.db, n.nodename, n.wgKey, n.wgPort);
      });
      authorize(n.publicKey, n.nodename);
      return hello(host);
    }
    case 'unpair':
      checkUnpair(caller, req.node);
      repo.deleteNode(host.db, req.node);
      deauthorize(req.node);
      return { removed: req.node };
    case 'vpc_put':
      learnCallerKey(host, caller, req.vpc);
      checkDefinition(host, caller, req.vpc, 'define');
      await preflight(host, req.vpc, {});
      return { result: accept(host, req.vpc, req.force, [], req.policy ?? false), version: VERSION };
    case 'vpc_apply': {
      const def = req.definition;
      if (def && def.name !== req.vpc) throw new UserError(`bad request: definition of ${def.name} sent to apply ${req.vpc}`);
      if (def) learnCallerKey(host, caller, def);
      if (def) checkDefinition(host, caller, def, 'apply');
      else checkVpcChange(caller, host.self.nodename, stored(req.vpc), null, 'apply');
      const change = layersChange(req.layers);
      // Nothing is stored until the whole change is known to be possible here.
      if (def) await preflight(host, def, change);
      if (def && !req.dryrun) accept(host, def, false, req.renumber, req.policy ?? false);
      // A deploy's apply is remembered (core/applied.ts): the next deploy of the same may leave this host alone.
      return def ? reconcileAccepted(host, req.vpc, change, req.dryrun, def, { definition: def, layers: req.layers }) : reconcile(host, req.vpc, change, req.dryrun);
    }
    case 'vpc_collapse':
    case 'vpc_forget': {
      const here = stored(req.vpc);
      checkVpcChange(caller, host.self.nodename, here, null, req.op === 'vpc_collapse' ? 'collapse' : 'forget');
      if (!here) return { node: host.self.nodename, ops: [], commands: [], applied: true };
      return req.op === 'vpc_collapse' ? collapse(host, req.vpc) : forget(host, req.vpc);
    }
    case 'vpc_status':
      return status(host, req.vpc);
    case 'jail_list':
      return jailsHere(host);
    case 'guest_list':
      return guestListHere(host, req.vpc);
    case 'guest_hold':
    case 'guest_release': {
      // Only a member of the VPC (as this host holds it) takes turns adding guests to it.
      const vpc = stored(req.vpc);
      if (!vpc) throw new UserError(`no VPC named ${req.vpc} on ${host.self.nodename}`, 'not_found');
      const holder = caller.kind === 'member' ? caller.node : host.self.nodename;
      if (caller.kind !== 'root' && !vpc.members.some((m) => m.node === holder)) throw new UserError(`${holder} is not a member of ${req.vpc}: it cannot add guests to it`, 'conflict');
      if (req.op === 'guest_release') return { released: exclusively(host.db, () => repo.releaseLease(host.db, req.vpc, req.token)) };
      // A caller's lease lasts at most meshvpc's own TTL, whatever it asks.
      await holdHere(host, req.vpc, holder, req.token, Math.min(req.ttl_ms, LEASE_TTL_MS), req.wait_ms);
      return { held: true };
    }
    case 'guest_report': {
      const vpc = stored(req.vpc);
      if (!vpc) throw new UserError(`no VPC named ${req.vpc} on ${host.self.nodename}`, 'not_found');
      // A host reports its own guests only: the name it is bound to, nobody else's.
      if (caller.kind !== 'member' || caller.node !== req.node) throw new UserError(`a guest report comes from the member it is about: ${caller.kind === 'member' ? caller.node : 'this login'} cannot report for ${req.node}`, 'conflict');
      const mine = await takeReport(host, caller.node, vpc, req.guests);
      await refreshFdb(host, vpc.name);
      return { guests: mine, bridgeIps: [] };
    }
    case 'node_moved':
      checkMoved(caller, req.node, host.self);
      return (await import('./node-update.js')).moved(host, req);
    case 'etcd_join':
      return (await import('./cluster.js')).joinHere(host, caller, req);
    case 'etcd_forget':
      return (await import('./cluster.js')).forgetHere(host, caller, req);
    case 'etcd_crl':
      return (await import('./cluster-revoke.js')).crlHere(host, caller, req);
    case 'etcd_members':
      return (await import('./cluster-members.js')).membersHere(host, caller, req);
  }
}

/**
 * Who is calling. sshd runs the forced command of the caller's authorized_keys
 * entry (`meshvpc remote caller=NODE`) and sets SSH_ORIGINAL_COMMAND; a root
 * login by password or the admin's own key runs `meshvpc remote` plainly.
 */
export function callerOf(bound: string | undefined, sshOriginalCommand: string | undefined): Caller {
  if (bound !== undefined) return { kind: 'member', node: nodeName(bound, 'caller') };
  return sshOriginalCommand !== undefined ? { kind: 'legacy' } : { kind: 'root' };
}

/** Answer one request text from `caller`; every failure becomes a refusal with its kind, never a throw. */
export async function serveRequest(caller: Caller, text: string, open: () => Promise<Host>): Promise<Response> {
  let host: Host | null = null;
  try {
    const req = requestFromWire(text);
    if (caller.kind === 'legacy') {
      // Entries from meshvpc 0.1: bind them now; this request may only read.
      upgradeAuthorizedKeys();
      if (!['hello', 'jail_list', 'vpc_status'].includes(req.op)) requireBound(caller, req.op);
    }
    host = await open();
    return { ok: true, result: await handle(host, caller, req) };
  } catch (e) {
    return e instanceof UserError
      ? { ok: false, error: e.message, kind: e.kind, ...(e.detail ? { detail: e.detail } : {}) }
      : { ok: false, error: e instanceof Error ? e.message : String(e), kind: 'failed' };
  } finally {
    host?.db.close();
  }
}
