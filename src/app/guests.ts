/**
 * What concerns every guest of a host, whatever its kind: bringing back the
 * ones marked astart=1 (the boot unit runs `guests mode=start_all` after
 * `vpc mode=apply` has rebuilt the VPC's bridge).
 */
import * as repo from '../store/repo.js';
import { nicsOf } from '../core/guests.js';
import { runningCheck } from './guest-guard.js';
import type { Host } from './host.js';

export interface StartAllOutcome {
  readonly jname: string;
  readonly kind: 'jail' | 'vm';
  readonly result: 'started' | 'running' | 'failed';
  readonly error: string | null;
}

export interface StartAllResult {
  readonly node: string;
  readonly guests: readonly StartAllOutcome[];
  readonly ok: boolean;
}

/** Start every astart=1 guest (on one VPC, or all) that is not running; one failure does not stop the others. */
export async function startAll(host: Host, input: { readonly vpc_name?: string }): Promise<StartAllResult> {
  const { jstart } = await import('./jail.js');
  const { bstart } = await import('./vm.js');
  const running = await runningCheck(host);
  const out: StartAllOutcome[] = [];
  for (const g of repo.listGuests(host.db)) {
    // A guest on several VPCs starts with the unit of any of them (its other bridges must exist by then).
    if (!g.astart || (input.vpc_name !== undefined && !nicsOf(g).some((n) => n.vpc === input.vpc_name))) continue;
    if (await running(g)) {
      out.push({ jname: g.name, kind: g.kind, result: 'running', error: null });
      continue;
    }
    try {
      await (g.kind === 'vm' ? bstart(host, { jname: g.name }) : jstart(host, { jname: g.name }));
      out.push({ jname: g.name, kind: g.kind, result: 'started', error: null });
    } catch (e) {
      out.push({ jname: g.name, kind: g.kind, result: 'failed', error: e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e) });
    }
  }
  return { node: host.self.nodename, guests: out, ok: out.every((o) => o.result !== 'failed') };
}
