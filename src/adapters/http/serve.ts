/**
 * The API and console on a socket: opens this host, builds the hono app and
 * listens (HTTPS with a certificate), until stopped. Logs go to stderr.
 */
import { existsSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { UserError } from '../../core/errors.js';
import type { Listen } from '../../core/listen.js';
import { openHost } from '../../app/host.js';
import { memberVpcs } from '../../app/vpc-list.js';
import { checkToken } from '../../app/token.js';
import { clearInheritedLocks } from '../../app/locks.js';
import { createServer } from './server.js';
import { peerPool } from '../../app/peer-pool.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/web, seen from the bundle (dist/bundle) or from the compiled tree (dist/src/adapters/http). */
const WEB_ROOT = [join(here, '..', 'web'), join(here, '..', '..', '..', 'web')].find((d) => existsSync(join(d, 'index.html'))) ?? null;

export interface Tls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Running {
  readonly url: string;
  readonly console: boolean;
  stop(): void;
}

const isLoopback = (address: string): boolean => address === '::1' || address.startsWith('127.');

export const log = (line: string): void => {
  process.stderr.write(`meshvpc server: ${line}\n`);
};

export async function serveApi(listen: Listen, tls: Tls | null): Promise<Running> {
  const host = await openHost();
  const cleared = clearInheritedLocks(host.db);
  if (cleared > 0) log(`cleared ${cleared} lock(s) left under this process's pid by an earlier process`);
  if (!tls && !isLoopback(listen.address)) log(`warning: listening on ${listen.text} without TLS: tokens cross the network in clear (give cert= and key=)`);
  const hasConsole = WEB_ROOT !== null;
  const server = createServer({
    host,
    // Kept open while status is asked for (every few seconds), closed after a minute unused.
    peers: peerPool(host, 60_000),
    checkToken: (token) => checkToken(host, token),
    memberVpcs: () => memberVpcs(host),
    webRoot: WEB_ROOT,
    log,
  });
  const http = serve({
    fetch: server.app.fetch,
    hostname: listen.address,
    port: listen.port,
    ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('listening', resolve);
      http.once('error', (e: NodeJS.ErrnoException) => reject(new UserError(`cannot listen on ${listen.text}: ${e.code ?? e.message}`, e.code === 'EADDRINUSE' ? 'conflict' : 'invalid')));
    });
  } catch (e) {
    server.close();
    host.db.close();
    throw e;
  }
  const url = `${tls ? 'https' : 'http'}://${listen.text}`;
  log(`${host.self.nodename}: listening on ${url} (API under /api/v1${hasConsole ? ', console at /' : '; the console is not built'})`);
  return {
    url,
    console: hasConsole,
    stop: () => {
      server.close();
      http.close();
      host.db.close();
    },
  };
}
