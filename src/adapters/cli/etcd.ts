/**
 * `meshvpc etcd`: this host's etcd member in the foreground (mode=run), or
 * (mode=install) the systemd unit that runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { unwatchFile, watchFile } from 'node:fs';
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
  const { clearRunnerState, currentCrlDigest, writeRunnerState } = await import('../../app/cluster-revoke.js');
  const { pkiPaths } = await import('../../cluster/pki.js');
  const home = homeDir();
  const argvNow = async (): Promise<string[]> => {
    const host = await openHost(undefined, 'read', false);
    try {
      return memberArgv(host);
    } finally {
      host.db.close();
    }
  };
  let argv = await argvNow();
  const crlPath = pkiPaths(home).crl;
  return new Promise<number>((resolve, reject) => {
    let child: ChildProcess;
    let digest = currentCrlDigest(home);
    let restarting = false;
    let stopping = false;
    const start = (): void => {
      const [cmd, ...args] = argv;
      child = spawn(cmd as string, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new UserError(e.code === 'ENOENT' ? 'etcd is not installed (Debian: apt-get install etcd-server)' : `cannot start etcd: ${e.message}`, 'failed'))));
      child.on('exit', (code, signal) => {
        if (restarting && !stopping) {
          restarting = false;
          start();
          // The CRL this etcd reads from now on: what etcd_crl waits for (app/cluster-revoke.ts).
          writeRunnerState(home, { pid: process.pid, crl: digest });
          // A CRL that changed again while etcd restarted.
          setImmediate(onCrl);
          return;
        }
        finish(() => resolve(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1)));
      });
    };
    const pass = (sig: NodeJS.Signals): void => {
      stopping = true;
      child.kill(sig);
    };
    // Connections opened before a CRL change survive it (docs/etcd.md): a new CRL restarts etcd.
    const onCrl = (): void => {
      const now = currentCrlDigest(home);
      if (now === digest || now === null || stopping || restarting) return;
      digest = now;
      restarting = true;
      process.stderr.write(`meshvpc: ${crlPath} changed: restarting etcd so connections opened before it are checked again\n`);
      void argvNow()
        .then((a) => {
          argv = a;
        })
        .catch(() => undefined)
        .finally(() => {
          if (!stopping) child.kill('SIGTERM');
        });
    };
    // A member added to a running cluster joins as a learner and makes itself a voter once in step.
    const promoting = new AbortController();
    void (async () => {
      const { promoteWhenReady } = await import('../../app/cluster-members.js');
      const host = await openHost(undefined, 'read', false);
      try {
        await promoteWhenReady(host, promoting.signal, (line) => process.stderr.write(`meshvpc: ${line}\n`));
      } finally {
        host.db.close();
      }
    })().catch((e: unknown) => process.stderr.write(`meshvpc: could not promote this etcd member: ${e instanceof Error ? e.message : String(e)}\n`));
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      promoting.abort();
      process.off('SIGTERM', pass);
      process.off('SIGINT', pass);
      unwatchFile(crlPath, onCrl);
      clearRunnerState(home);
      fn();
    };
    process.on('SIGTERM', pass);
    process.on('SIGINT', pass);
    watchFile(crlPath, { interval: 500 }, onCrl);
    start();
    writeRunnerState(home, { pid: process.pid, crl: digest });
  });
}
