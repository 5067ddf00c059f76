/**
 * How the CLI shows a convergence (deploy, join, leave): a line per event as
 * it happens, then a summary line, exactly as meshvpc has always printed
 * them; or, with --json, nothing along the way and the result as JSON.
 */
import type { ConvergeEvent, ConvergeResult, HostOutcome, SyncOutcome, SyncResult } from '../../app/vpc-cluster.js';
import type { MtuSpread } from '../../core/mtu-claims.js';

/** An argument as a shell would need it quoted (for the dry-run lines). */
export const quoteArg = (a: string): string => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
const changes = (n: number | null): string => (n === 0 || n === null ? 'no changes' : plural(n, 'change'));

function hostLine(o: HostOutcome): string {
  const secs = o.seconds.toFixed(2);
  if (!o.ok) return `  ${o.host}: FAILED: ${o.error ?? ''} (${secs}s)`;
  if (o.current === true) return `  ${o.host}: current, left alone (${secs}s)`;
  const verb = o.role === 'leaving' ? 'left,' : o.dryrun ? 'would apply' : 'converged,';
  return `  ${o.host}: ${verb} ${changes(o.changes)} (${secs}s)`;
}

/** The line an event prints, or null for the steps only the API and console show (accepted, connected, applying). */
export function eventLine(e: ConvergeEvent): string | null {
  switch (e.type) {
    case 'checking':
      return `${e.vpc}: checking ${plural(e.peers, 'peer')}`;
    case 'accepted':
    case 'connected':
    case 'applying':
      return null;
    case 'unreachable':
      return `  ${e.host}: UNREACHABLE: ${e.error}`;
    case 'older_peer':
      return `  ${e.host}: runs meshvpc ${e.version} (this host ${e.ours}): it checks the VPC only when it applies it; upgrade it`;
    case 'host':
      return hostLine(e.outcome);
    case 'reallocating':
      return `${e.vpc}: VXLAN id${e.vnis.length === 1 ? '' : 's'} ${e.vnis.join(', ')} taken meanwhile by another VPC; allocating others (round ${e.round})`;
    case 'dryrun_command':
      return `  [dryrun] ${e.host}: ${e.argv.map(quoteArg).join(' ')}`;
    case 'userspace_wireguard':
      return `warning: ${e.host}: its kernel has no WireGuard, so wireguard-go (userspace) carries the VPC: expect a small fraction of the kernel's throughput (see bench/RESULTS.md)`;
    case 'mtu_differs':
      return mtuWarning(e);
  }
}

/** "a, b and c" */
const listed = (xs: readonly string[]): string => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1] ?? ''}`);

/**
 * warning: vpc1: host3's link carries 1400, so its tunnels and the segment use 1350 (others 1450);
 * with a link too small for a MIN_TUNNEL_MTU tunnel, what is lost and what to do.
 */
export function mtuWarning(m: MtuSpread): string {
  const [first, ...rest] = m.smaller;
  if (!first) return `warning: ${m.vpc}: the members' links differ`;
  const links = listed([`${first.node}'s link carries ${first.link}`, ...rest.map((x) => `${x.node}'s ${x.link}`)]);
  const line = `warning: ${m.vpc}: ${links}, so ${rest.length === 0 ? 'its' : 'their'} tunnels and the segment use ${m.segment} (others ${m.others})`;
  const tiny = m.smaller.filter((x) => x.tunnel < m.segment);
  if (tiny.length === 0) return line;
  return `${line}; ${listed(tiny.map((x) => x.node))} cannot take in ${m.segment}-byte frames (a link of ${m.needs} can): raise ${tiny.length === 1 ? 'its link MTU' : 'their link MTUs'}`;
}

export function summaryLine(r: ConvergeResult): string {
  const t = r.timing;
  return (
    `${r.vpc}: ${r.converged} of ${r.members} hosts converged${r.leaving > 0 ? `, ${r.leftCleanly} of ${r.leaving} leaving hosts cleaned up` : ''}, ` +
    `${plural(r.changes, 'change')}${r.current.length > 0 ? `, ${r.current.length} left alone as current` : ''} (${r.seconds.toFixed(2)}s; connect ${t.connectMs}ms, ${t.checkMs === null ? '' : `check ${t.checkMs}ms, `}sync+apply ${t.applyMs}ms)`
  );
}

/** `sync`: a line per peer as it answers, then the summary; or the result as JSON. */
export function syncLine(o: SyncOutcome): string {
  const secs = o.seconds.toFixed(2);
  return o.ok ? `  ${o.host}: synced: ${o.result ?? ''} (${secs}s)` : `  ${o.host}: FAILED: ${o.error ?? ''} (${secs}s)`;
}

export function syncSummary(r: SyncResult): string {
  if (r.dryrun) return `[dryrun] would send ${r.vpc} (${plural(r.pairs, 'pair')}) to ${r.peers.join(', ') || 'no other member'}`;
  return `${r.vpc}: synced to ${r.synced} of ${r.hosts.length} peers`;
}

