/**
 * The HTTP API and the web console, on hono. Each route only translates:
 * path and JSON body into the catalog's input (checked by the same parser as
 * the CLI's key=value), the operation's result into JSON, an error's kind
 * into a status. hono was chosen over fastify for its size (no dependencies,
 * ~4 MB installed, fast start and a small idle footprint on a router that
 * also serves a page) and its Web-standard Request/Response core, which the
 * tests can drive without a socket.
 */
import { Hono, type Context as HonoContext } from 'hono';
import { streamSSE } from 'hono/streaming';
import { bodyLimit } from 'hono/body-limit';
import { getConnInfo } from '@hono/node-server/conninfo';
import { UserError } from '../../core/errors.js';
import { mayChange } from '../../core/token.js';
import { VERSION } from '../../core/version.js';
import { operation, parseInput, type Input } from '../../app/catalog.js';
import { runOperation, type Context } from '../../app/operations.js';
import type { Host } from '../../app/host.js';
import type { StatusResult } from '../../app/vpc.js';
import type { Peers } from '../../cluster/peers.js';
import { apiError, fromThrown, type ApiError } from './errors.js';
import { bearer, cachedTokens, clientKey, LoginLimiter, type Caller } from './auth.js';
import { Bus, Jobs } from './jobs.js';
import { StatusCache, TunnelWatcher } from './watcher.js';
import { openApiDocument } from './openapi.js';
import { API_PREFIX, ROUTES, type Route } from './routes.js';
import { staticFiles } from './static.js';

/** What the server needs from the host it runs on. */
export interface ServerDeps {
  readonly host: Host;
  /** Looks a token up (hash compare in the host's database). */
  readonly checkToken: (token: string) => Caller | null;
  /** The VPCs this host is a member of (watched for tunnel changes). */
  readonly memberVpcs: () => string[];
  /** Where the built console lives; null serves none. */
  readonly webRoot: string | null;
  readonly log: (line: string) => void;
  /** A pool of peer connections for the status refreshes (closed with the server). */
  readonly peers?: Peers;
}

const KEEPALIVE_MS = 15_000;
/** Open event streams at once: each holds a connection and a queue. */
export const MAX_STREAMS = 64;
/** Events waiting for one slow stream before it is dropped. */
const MAX_QUEUED = 1000;
const MAX_BODY = 64 * 1024;

type Vars = { Variables: { caller: Caller } };

const send = (c: HonoContext, e: ApiError): Response => c.json(e.body, e.status as 400);

/** The JSON body as a map of arguments; an absent body is no arguments. */
async function bodyOf(c: HonoContext): Promise<Map<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError('the request body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError('the request body must be a JSON object');
  return new Map(Object.entries(raw));
}

/** The operation's input from the path, the body and the route's fixed values. */
async function inputOf(c: HonoContext, r: Route): Promise<Input> {
  const given = r.body ? await bodyOf(c) : new Map<string, unknown>();
  if (!r.body && (await c.req.text()).trim() !== '') throw new UserError(`${r.method} ${API_PREFIX}${r.path} takes no body`);
  for (const [param, argName] of Object.entries(r.params ?? {})) {
    if (given.has(argName)) throw new UserError(`${argName} is given by the path; leave it out of the body`);
    given.set(argName, c.req.param(param));
  }
  for (const [k, v] of Object.entries(r.fixed ?? {})) {
    if (given.has(k)) throw new UserError(`unknown field "${k}" for ${r.op}`);
    given.set(k, v);
  }
  return parseInput(operation(r.op), given, true);
}

export interface Server {
  readonly app: Hono<Vars>;
  readonly bus: Bus;
  readonly jobs: Jobs;
  close(): void;
}

export function createServer(deps: ServerDeps): Server {
  const { host, log } = deps;
  const bus = new Bus();
  const jobs = new Jobs(bus);
  const limiter = new LoginLimiter();
  const checkToken = cachedTokens(deps.checkToken);
  const noPassword = async (): Promise<null> => null;
  const ctx = (events: Context['events'] = () => undefined): Context => ({ events, password: noPassword });
  // Status is asked every few seconds: its SSH connections stay open between refreshes.
  const pool = deps.peers ?? null;
  const status = new StatusCache(
    (vpc) => runOperation('vpc.status', parseInput(operation('vpc.status'), new Map([['vpc_name', vpc]]), true), { ...ctx(), ...(pool ? { peers: pool } : {}) }, host) as Promise<StatusResult>,
  );
  const watcher = new TunnelWatcher(bus, deps.memberVpcs, status);
  watcher.start();

  /** For each job being started: what to call on its first event. */
  const firstEvent = new Map<string, () => void>();
  const app = new Hono<Vars>();
  app.onError((e, c) => send(c, fromThrown(e)));

  app.use(`${API_PREFIX}/*`, async (c, next) => {
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    const client = (() => {
      try {
        return getConnInfo(c).remote.address ?? 'unknown';
      } catch {
        return 'unknown';
      }
    })();
    const key = clientKey(client);
    const wait = limiter.blockedFor(key);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      return send(c, apiError('rate_limited', `too many failed logins from ${client}; try again in ${wait} s`));
    }
    const token = bearer(c.req.header('authorization'));
    const caller = token === null ? null : checkToken(token);
    if (!caller) {
      const n = limiter.fail(key);
      log(`failed login from ${client} (${token === null ? 'no token' : 'unknown token'}; ${n} in the last minute)`);
      return send(c, apiError('unauthorized', token === null ? 'no token: send Authorization: Bearer TOKEN (meshvpc token mode=create)' : 'that token was not accepted'));
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !mayChange(caller.role)) {
      return send(c, apiError('forbidden', `token ${caller.name} is read-only: it may only GET`));
    }
    c.set('caller', caller);
    return next();
  });
  app.use(`${API_PREFIX}/*`, bodyLimit({ maxSize: MAX_BODY, onError: (c) => send(c, apiError('invalid', `the request body is larger than ${MAX_BODY} bytes`)) }));

  const own: Readonly<Record<string, (c: HonoContext) => Response | Promise<Response>>> = {
    host: (c) => {
      const caller = c.get('caller');
      // The caller's own token name and role, so a console can offer only what the token may do.
      return c.json({ nodename: host.self.nodename, ip4: host.self.ip4, ip6: host.self.ip6, platform: host.driver.platform, version: VERSION, token: { name: caller.name, role: caller.role } });
    },
    openapi: (c) => c.json(openApiDocument()),
    operation: (c) => {
      const job = jobs.get(c.req.param('id') ?? '');
      if (!job) return send(c, apiError('not_found', `no operation ${JSON.stringify((c.req.param('id') ?? '').slice(0, 40))} (operations are kept while the server runs)`));
      return c.json(job);
    },
    events: (c) => {
      // HEAD runs the GET handler and drops the body unread: it must not take a stream.
      if (c.req.method === 'HEAD') return c.body(null, 200, { 'Content-Type': 'text/event-stream' });
      if (bus.size >= MAX_STREAMS) return send(c, apiError('busy', `${MAX_STREAMS} event streams are open already; close one or try again later`));
      return streamSSE(c, async (stream) => {
        const queue: string[] = [];
        let wake: (() => void) | null = null;
        let open = true;
        const end = (): void => {
          open = false;
          unsubscribe();
          wake?.();
        };
        const unsubscribe = bus.subscribe((e) => {
          // A client that stops reading is dropped, not buffered for without end.
          if (queue.length >= MAX_QUEUED) {
            log(`dropped an event stream that fell ${MAX_QUEUED} events behind`);
            end();
            stream.abort();
            return;
          }
          queue.push(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
          wake?.();
        });
        stream.onAbort(end);
        try {
          await stream.write(': meshvpc events\n\n');
          while (open) {
            while (open && queue.length > 0) await stream.write(queue.shift() as string);
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, KEEPALIVE_MS).unref();
            });
            wake = null;
            if (queue.length === 0 && open) await stream.write(': keepalive\n\n');
          }
        } finally {
          unsubscribe();
        }
      });
    },
  };

  for (const r of ROUTES) {
    const path = `${API_PREFIX}${r.path}`;
    const handler = async (c: HonoContext): Promise<Response> => {
      const special = own[r.op];
      if (special) return special(c);
      const input = await inputOf(c, r);
      if (r.op === 'vpc.status') return c.json(await status.get(input.vpc_name as string));
      if (!r.long) return c.json((await runOperation(r.op, input, ctx(), host)) ?? null, (r.status ?? 200) as 200);
      let refusal: ApiError | null = null;
      const { job, done } = jobs.start(
        r.op,
        (input.vpc_name as string | undefined) ?? null,
        async (events) => {
          const tell = (e: Parameters<typeof events>[0]): void => {
            events(e);
            firstEvent.get(job.id)?.();
          };
          try {
            const result = (await runOperation(r.op, input, ctx(tell), host)) as { ok?: boolean };
            return { ok: result.ok !== false, result };
          } finally {
            // Whatever the status cache holds for the VPC was read before this change.
            if (typeof input.vpc_name === 'string') status.forget(input.vpc_name);
          }
        },
        (e) => {
          refusal = fromThrown(e);
          return refusal.body.error;
        },
      );
      // A refusal comes before any work (no such VPC, an unknown node): answer it as one, not as an
      // operation. Every long operation says `accepted` once its checks have passed, so an error
      // before its first event is a refusal, and one after it is the operation's failure.
      let signalled: () => void = () => undefined;
      const first = new Promise<void>((res) => (signalled = res));
      firstEvent.set(job.id, signalled);
      await Promise.race([done, first]);
      firstEvent.delete(job.id);
      if (refusal !== null && job.events.length === 0) {
        jobs.drop(job.id);
        return send(c, refusal);
      }
      jobs.announce(job.id);
      return c.json({ operation: `${API_PREFIX}/operations/${job.id}`, id: job.id }, 202);
    };
    app.on(r.method, path, handler);
  }
  app.all(`${API_PREFIX}/*`, (c) => send(c, apiError('not_found', `no API route ${c.req.method} ${new URL(c.req.url).pathname}; see ${API_PREFIX}/openapi.json`)));
  if (deps.webRoot) app.get('/*', staticFiles(deps.webRoot));

  return {
    app,
    bus,
    jobs,
    close: () => {
      watcher.stop();
      pool?.close();
    },
  };
}
