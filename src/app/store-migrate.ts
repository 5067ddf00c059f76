/**
 * cluster mode=migrate: an SSH-push cluster's VPCs move into etcd as they
 * are. A VPC goes in with its peer map unchanged (each VXLAN id taken in the
 * same transaction), so the agents that adopt it find nothing to change; one
 * the store already holds is left as the store has it.
 */
import { UserError } from '../core/errors.js';
import * as repo from '../store/repo.js';
import type { Host } from './host.js';
import type { ConvergeEvent, ConvergeResult } from './vpc-cluster.js';
import { storeClient } from './store-backend.js';
import { trustedBy } from './store-trust.js';

export interface Migrated {
  readonly vpc: string;
  /**
   * moved: written and followed; signed: the store held it as meshvpc 0.5 wrote it (unsigned),
   * the same network as here, and it was signed again by this host and followed; present: the
   * store already holds it; refused: see error.
   */
  readonly result: 'moved' | 'signed' | 'present' | 'refused';
  readonly error: string | null;
  readonly converge: ConvergeResult | null;
}

export interface MigrateResult {
  readonly node: string;
  readonly dryrun: boolean;
  readonly vpcs: readonly Migrated[];
  readonly ok: boolean;
}

export async function migrate(host: Host, input: { readonly dryrun?: boolean }, events: (e: ConvergeEvent) => void): Promise<MigrateResult> {
  const client = await storeClient(host);
  if (!client) throw new UserError('cluster mode=migrate moves VPCs into etcd, and this host has no etcd backend: meshvpc cluster mode=init backend=etcd ... first');
  const { convergeInStore, convergeTimeoutMs } = await import('./store-converge.js');
  const { signAgain } = await import('./store-definitions.js');
  const self = host.self.nodename;
  const out: Migrated[] = [];
  for (const vpc of repo.listVpcs(host.db).filter((v) => v.members.some((m) => m.node === self))) {
    let present = false;
    try {
      // Upgraded from 0.5: its unsigned definition is signed again, then followed like a move.
      const signed = !input.dryrun && (await signAgain(client, vpc, self));
      const converge = await convergeInStore(
        client,
        {
          name: vpc.name,
          next: (stored) => {
            if (stored && signed) return stored;
            if (stored) {
              present = true;
              throw new UserError(`${vpc.name} is in the store already`, 'conflict');
            }
            return vpc;
          },
          leaving: [],
          dryrun: input.dryrun ?? false,
          timeoutMs: convergeTimeoutMs(),
          by: host.self.nodename,
          what: 'cluster mode=migrate',
          trust: trustedBy(host, vpc.name),
        },
        events,
      );
      out.push({ vpc: vpc.name, result: signed ? 'signed' : 'moved', error: converge.ok ? null : 'not every member\'s agent applied it (see converge)', converge });
    } catch (e) {
      if (present) out.push({ vpc: vpc.name, result: 'present', error: null, converge: null });
      else out.push({ vpc: vpc.name, result: 'refused', error: e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e), converge: null });
    }
  }
  client.close();
  return { node: self, dryrun: input.dryrun ?? false, vpcs: out, ok: out.every((m) => m.result !== 'refused' && (m.converge?.ok ?? true)) };
}
