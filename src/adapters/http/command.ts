/**
 * `meshvpc server`: the HTTP API and the web console, in the foreground
 * (systemd runs it: `meshvpc server mode=install` writes the unit).
 */
import { readFileSync, existsSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { UserError } from '../../core/errors.js';
import { parseListen, type Listen } from '../../core/listen.js';
import { openHost } from '../../app/host.js';
import { installServerUnit } from '../../app/server-unit.js';
import { memberVpcs } from '../../app/vpc.js';
import { checkToken } from '../../app/token.js';
import type { Invocation } from '../cli/args.js';
import { say } from '../cli/output.js';
import { createServer } from './server.js';

/** dist/src/adapters/http -> dist/web */
const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${key}=${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const log = (line: string): void => {
  process.stderr.write(`meshvpc server: ${line}\n`);
};

export async function run(inv: Invocation): Promise<number> {
  const p = inv.params;
  const mode = p.get('mode') ?? 'run';
  if (mode !== 'run' && mode !== 'install') throw new UserError(`unknown server mode ${JSON.stringify(mode)}; modes: run, install`);
  p.only(['mode', 'listen', 'cert', 'key', ...(mode === 'install' ? ['dryrun'] : [])], `server mode=${mode}`);
  const listen: Listen = parseListen(p.get('listen') ?? '127.0.0.1:8089', 'listen');
  const cert = p.get('cert');
  const key = p.get('key');
  if ((cert === undefined) !== (key === undefined)) throw new UserError('HTTPS needs both cert=FILE and key=FILE (PEM)');
  if (mode === 'install') {
    const r = await installServerUnit({ listen: p.get('listen') ?? '127.0.0.1:8089', cert: cert ?? null, key: key ?? null }, p.flag('dryrun'));
    if (r.dryrun) say(`[dryrun] ${r.path}:\n${r.content}${r.enable.map((c) => `[dryrun] ${c.join(' ')}`).join('\n')}`);
    else if (r.enabled) say(`${r.path} written, enabled and started`);
    else say(`${r.path} written; systemd is not running here, start it with: ${r.enable.map((c) => c.join(' ')).join('; ')}`);
    return 0;
  }
  const tls = cert !== undefined && key !== undefined ? { cert: readPem(cert, 'cert'), key: readPem(key, 'key') } : null;
  const host = await openHost();
  const server = createServer({
    host,
    checkToken: (token) => checkToken(host, token),
    memberVpcs: () => memberVpcs(host),
    webRoot: existsSync(join(WEB_ROOT, 'index.html')) ? WEB_ROOT : null,
    log,
  });
  const http = serve({
    fetch: server.app.fetch,
    hostname: listen.address,
    port: listen.port,
    ...(tls ? { createServer: createHttpsServer, serverOptions: tls } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    http.once('listening', resolve);
    http.once('error', (e: NodeJS.ErrnoException) => reject(new UserError(`cannot listen on ${listen.text}: ${e.code ?? e.message}`, e.code === 'EADDRINUSE' ? 'conflict' : 'invalid')));
  });
  log(`${host.self.nodename}: listening on ${tls ? 'https' : 'http'}://${listen.text} (API under /api/v1${existsSync(join(WEB_ROOT, 'index.html')) ? ', console at /' : '; the console is not built'})`);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      log('stopping');
      server.close();
      http.close();
      host.db.close();
      resolve(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
