/** How the CLI shows `node mode=update`: a line per event as it happens, then what changed. */
import type { Endpoints, ToldOutcome, UpdateEvent, UpdateResult } from '../../app/node-update.js';
import { eventLine, quoteArg, summaryLine } from './converge-output.js';

function toldLine(o: ToldOutcome): string {
  const secs = o.seconds.toFixed(2);
  if (!o.ok) return `  ${o.host}: FAILED: ${o.error ?? ''} (${secs}s)`;
  return `  ${o.host}: ${o.result === 'unknown' ? 'has never met it (its VPC definitions will say where it is)' : `record ${o.result ?? ''}`} (${secs}s)`;
}

export function updateEventLine(e: UpdateEvent): string | null {
  switch (e.type) {
    case 'answered':
      return `${e.node}: answers at ${e.at} (meshvpc ${e.version})`;
    case 'told':
      return toldLine(e.outcome);
    case 'converge':
      return eventLine(e.event);
    case 'vpc_updated':
      return summaryLine(e.result);
  }
}

/** "ssh A -> B, ip4 C -> D": only what differs. */
export function endpointChanges(before: Endpoints, after: Endpoints): string {
  const parts = (['ssh', 'ip4', 'ip6'] as const).filter((k) => before[k] !== after[k]).map((k) => `${k} ${before[k] ?? '-'} -> ${after[k] ?? '-'}`);
  return parts.join(', ') || 'its record already says this';
}

export function updateLines(r: UpdateResult): string[] {
  const moved = (vpc: string): string => {
    const u = r.underlays.find((x) => x.vpc === vpc);
    return u ? `${r.name}'s underlay ${u.from} -> ${u.to}` : `${r.name}'s underlay already current here`;
  };
  if (r.dryrun) {
    return [
      `[dryrun] ${r.name}: ${endpointChanges(r.before, r.after)}`,
      ...r.planned.flatMap((p) => [`[dryrun] ${p.vpc}: ${moved(p.vpc)}`, ...p.commands.map((c) => `[dryrun] ${c.map(quoteArg).join(' ')}`)]),
      `[dryrun] would store it, tell the other members and re-apply ${r.vpcs.join(', ') || 'no VPC'} on every member`,
    ];
  }
  const done = r.converged.map((c) => `${c.vpc} on ${c.converged} of ${c.members} hosts`);
  return [`${r.name}: ${r.changed ? 'updated' : 'unchanged'} (${endpointChanges(r.before, r.after)}); ${done.length > 0 ? `re-applied ${done.join(', ')}` : 'in no VPC here'}`];
}
