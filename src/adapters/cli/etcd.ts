/**
 * `meshvpc etcd`: this host's etcd member in the foreground (mode=run), or
 * (mode=install) the systemd unit that runs it.
 */
import { spawn } from 'node:child_process';
import { UserError, shown } from '../../core/errors.js';
import type { Invocation } from './args.js';
import { say } from './output.js';

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.require('mode', 'use one of run, install');
  if (mode !== 'run' && mode !== 'install') throw new UserError(`unknown etcd mode ${shown(mode)}; modes: run, install`);
  p.only(['mode', ...(mode === 'install' ? ['dryrun'] : [])], `etcd mode=${mode}`);
  if (inv.rest.length > 0) throw new UserError(`etcd mode=${mode} takes no other words (got ${shown(inv.rest.join(' '))})`);
  const { homeDir } = await import('../../store/db.js');
  if (mode === 'install') {
    const { installEtcdUnit } = await import('../../app/etcd-unit.js');
    const r = await installEtcdUnit(homeDir(), p.flag('dryrun'));
    if (r.dryrun) say(`[dryrun] ${r.path}:\n${r.content}${r.enable.map((c) => `[dryrun] ${c.join(' ')}`).join('\n')}`);
    else if (r.enabled) say(`${r.path} written, enabled and started`);
    else say(`${r.path} written; systemd is not running here, start it with: ${r.enable.map((c) => c.join(' ')).join('; ')}`);
    return 0;
  }
  const { openHost } = await import('../../app/host.js');
  const { memberArgv } = await import('../../app/cluster.js');
  const host = await openHost(undefined, 'read', false);
  let argv: string[];
  try {
    argv = memberArgv(host);
  } finally {
    host.db.close();
  }
  const [cmd, ...args] = argv;
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    const pass = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    process.on('SIGTERM', pass);
    process.on('SIGINT', pass);
    child.on('error', (e: NodeJS.ErrnoException) => reject(new UserError(e.code === 'ENOENT' ? 'etcd is not installed (Debian: apt-get install etcd-server)' : `cannot start etcd: ${e.message}`, 'failed')));
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', pass);
      process.off('SIGINT', pass);
      resolve(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1));
    });
  });
}
