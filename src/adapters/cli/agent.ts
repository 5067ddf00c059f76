/**
 * `meshvpc agent`: this host's agent in the foreground (mode=run, the
 * default), or (mode=install) the systemd unit that runs it. Each thing the
 * agent does is one line on stdout.
 */
import { UserError, shown } from '../../core/errors.js';
import type { Invocation } from './args.js';
import { say } from './output.js';
import type { AgentEvent } from '../../app/agent.js';

const line = (e: AgentEvent): string => {
  switch (e.type) {
    case 'connected':
      return `control plane reachable (revision ${e.revision})`;
    case 'unreachable':
      return `control plane unreachable: ${e.why} (the network here is left as it is)`;
    case 'applying':
      return `${e.vpc}: applying revision ${e.revision}`;
    case 'applied':
      return e.ok ? `${e.vpc}: applied revision ${e.revision}, ${e.changes} change${e.changes === 1 ? '' : 's'}` : `${e.vpc}: revision ${e.revision} FAILED: ${e.error ?? ''}`;
    case 'guests':
      return `${e.vpc}: guests of ${e.members} member${e.members === 1 ? '' : 's'} taken`;
    case 'forgot':
      return `${e.vpc}: no longer a member here: taken down and forgotten`;
    case 'republished':
      return `${e.vpc}: this host's guests in the store were changed by another writer: written again`;
    case 'seal_published':
      return `this host's WireGuard key ${e.key} written to the store`;
  }
};

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.get('mode') ?? 'run';
  if (mode !== 'run' && mode !== 'install') throw new UserError(`unknown agent mode ${shown(mode)}; modes: run, install`);
  p.only(['mode', ...(mode === 'install' ? ['dryrun'] : [])], `agent mode=${mode}`);
  if (inv.rest.length > 0) throw new UserError(`agent mode=${mode} takes no other words (got ${shown(inv.rest.join(' '))})`);
  const { homeDir } = await import('../../store/db.js');
  if (mode === 'install') {
    const { installAgentUnit } = await import('../../app/etcd-unit.js');
    const r = await installAgentUnit(homeDir(), p.flag('dryrun'));
    if (r.dryrun) say(`[dryrun] ${r.path}:\n${r.content}${r.enable.map((c) => `[dryrun] ${c.join(' ')}`).join('\n')}`);
    else if (r.enabled) say(`${r.path} written, enabled and started`);
    else say(`${r.path} written; systemd is not running here, start it with: ${r.enable.map((c) => c.join(' ')).join('; ')}`);
    return 0;
  }
  const { openHost } = await import('../../app/host.js');
  const { storeClient } = await import('../../app/store-backend.js');
  const { Agent } = await import('../../app/agent.js');
  const host = await openHost();
  try {
    const client = await storeClient(host);
    if (!client) throw new UserError('meshvpc agent works with backend=etcd, and this host has none: meshvpc cluster mode=init backend=etcd ... first (meshvpc cluster mode=show)');
    const stop = new AbortController();
    const quit = (): void => stop.abort();
    process.on('SIGTERM', quit);
    process.on('SIGINT', quit);
    try {
      await new Agent(host, client, (e) => say(`${new Date().toISOString()} ${line(e)}`)).run(stop.signal);
    } finally {
      process.off('SIGTERM', quit);
      process.off('SIGINT', quit);
    }
    return 0;
  } finally {
    host.db.close();
  }
}
