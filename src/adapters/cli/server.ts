/**
 * `meshvpc server`: the HTTP API and the web console in the foreground, or
 * (mode=install) the systemd unit that runs it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../../core/errors.js';
import { parseListen } from '../../core/listen.js';
import { installServerUnit } from '../../app/server-unit.js';
import type { Invocation } from './args.js';
import { say } from './output.js';

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${key}=${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.get('mode') ?? 'run';
  if (mode !== 'run' && mode !== 'install') throw new UserError(`unknown server mode ${JSON.stringify(mode)}; modes: run, install`);
  p.only(['mode', 'listen', 'cert', 'key', ...(mode === 'install' ? ['dryrun'] : [])], `server mode=${mode}`);
  const listenText = p.get('listen') ?? '127.0.0.1:8089';
  const listen = parseListen(listenText, 'listen');
  const cert = p.get('cert');
  const key = p.get('key');
  if ((cert === undefined) !== (key === undefined)) throw new UserError('HTTPS needs both cert=FILE and key=FILE (PEM)');
  const tls = cert !== undefined && key !== undefined ? { cert: readPem(cert, 'cert'), key: readPem(key, 'key') } : null;
  if (mode === 'install') {
    // The unit runs from /: its paths must not depend on where this command ran.
    const r = await installServerUnit({ listen: listen.text, cert: cert === undefined ? null : resolve(cert), key: key === undefined ? null : resolve(key) }, p.flag('dryrun'));
    if (r.dryrun) say(`[dryrun] ${r.path}:\n${r.content}${r.enable.map((c) => `[dryrun] ${c.join(' ')}`).join('\n')}`);
    else if (r.enabled) say(`${r.path} written, enabled and started`);
    else say(`${r.path} written; systemd is not running here, start it with: ${r.enable.map((c) => c.join(' ')).join('; ')}`);
    return 0;
  }
  const { serveApi, log } = await import('../http/serve.js');
  const running = await serveApi(listen, tls);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      log('stopping');
      running.stop();
      resolve(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
