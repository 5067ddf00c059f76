/**
 * `meshvpc remote`: the only thing a peer's cluster key may run here (the
 * authorized_keys entry forces this command). One JSON request on stdin, one
 * JSON response on stdout.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { authorize, deauthorize, readPublicKey } from '../cluster/keys.js';
import type { Hello, Request, Response } from '../cluster/protocol.js';
import { requestFromWire } from '../cluster/wire.js';
import * as repo from '../store/repo.js';
import { openHost, type Host } from './host.js';
import { accept, collapse, forget, layersChange, reconcile, status } from './vpc-local.js';
import { VERSION } from '../cli/version.js';

export function hello(host: Host): Hello {
  return { ...host.self, platform: host.driver.platform, publicKey: readPublicKey(host.home), version: VERSION };
}

async function handle(host: Host, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'hello':
      return hello(host);
    case 'pair': {
      const n = req.node;
      if (n.nodename === host.self.nodename) throw new UserError(`${n.nodename} is this host's own name`);
      host.db.transaction(() => {
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
      })();
      authorize(n.publicKey, n.nodename);
      return hello(host);
    }
    case 'unpair':
      repo.deleteNode(host.db, req.node);
      deauthorize(req.node);
      return { removed: req.node };
    case 'vpc_put':
      return { result: accept(host, req.vpc, req.force) };
    case 'vpc_apply':
      if (req.definition && req.definition.name !== req.vpc) throw new UserError(`bad request: definition of ${req.definition.name} sent to apply ${req.vpc}`);
      if (req.definition && !req.dryrun) accept(host, req.definition, false);
      return reconcile(host, req.vpc, layersChange(req.layers), req.dryrun);
    case 'vpc_collapse':
      return repo.getVpc(host.db, req.vpc) ? collapse(host, req.vpc) : { node: host.self.nodename, ops: [], commands: [], applied: true };
    case 'vpc_forget':
      return repo.getVpc(host.db, req.vpc) ? forget(host, req.vpc) : { node: host.self.nodename, ops: [], commands: [], applied: true };
    case 'vpc_status':
      return status(host, req.vpc);
    case 'jail_list': {
      const running = new Set(await host.driver.runningGuests());
      return repo.listJails(host.db).map((j) => ({ ...j, node: host.self.nodename, running: running.has(j.name) }));
    }
  }
}

export async function run(): Promise<number> {
  let response: Response;
  let host: Host | null = null;
  try {
    const req = requestFromWire(readFileSync(0, 'utf8'));
    host = await openHost();
    response = { ok: true, result: await handle(host, req) };
  } catch (e) {
    response = { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    host?.db.close();
  }
  process.stdout.write(`${JSON.stringify(response)}\n`);
  return 0;
}
