/**
 * The OpenAPI 3.1 document of the API, made from the routes and the catalog:
 * a route's parameters and body are its operation's arguments, with the same
 * types, patterns, bounds and help the CLI shows.
 */
import { OPERATIONS, type Arg, type Operation } from '../../app/catalog.js';
import { VERSION } from '../../core/version.js';
import { API_PREFIX, ROUTES, type Route } from './routes.js';

type Schema = Record<string, unknown>;

function argSchema(a: Arg): Schema {
  const base: Schema = { description: a.help };
  switch (a.kind) {
    case 'string':
      return { ...base, type: 'string', ...a.schema };
    case 'integer':
      return { ...base, type: 'integer', ...a.schema };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'list':
      return { ...base, oneOf: [{ type: 'string', description: 'comma separated' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] };
  }
}

/** The catalog operation a route runs; null for the server's own (host, operation, events, openapi). */
const catalogOp = (r: Route): Operation | null => OPERATIONS.find((o) => o.id === r.op) ?? null;

const ERROR: Schema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['kind', 'message'], properties: { kind: { type: 'string' }, message: { type: 'string' } } } },
};

const errorResponse = (description: string): Schema => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

function bodySchema(r: Route, op: Operation): Schema {
  const fromPath = Object.values(r.params ?? {});
  const args = op.args.filter((a) => !fromPath.includes(a.name) && !(a.name in (r.fixed ?? {})));
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(args.map((a) => [a.name, argSchema(a)])),
    required: args.filter((a) => a.required !== undefined).map((a) => a.name),
  };
}

function pathItem(r: Route): Schema {
  const op = catalogOp(r);
  const params: Schema[] = Object.entries(r.params ?? {}).map(([p, argName]) => {
    const a = op?.args.find((x) => x.name === argName);
    return { name: p, in: 'path', required: true, description: a?.help ?? p, schema: a ? { type: 'string', ...(a.schema ?? {}) } : { type: 'string' } };
  });
  if (r.op === 'operation') params.push({ name: 'id', in: 'path', required: true, description: 'the id a 202 answer gave', schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } });
  const ok = r.status ?? 200;
  const success =
    r.op === 'events'
      ? { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }
      : r.long
        ? { description: 'started; follow the operation', content: { 'application/json': { schema: { $ref: '#/components/schemas/Started' } } } }
        : { description: 'the result', content: { 'application/json': { schema: {} } } };
  return {
    operationId: `${r.method.toLowerCase()}${r.path.replace(/[/:]+(\w)/g, (_m: string, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
    summary: r.summary,
    ...(op ? { description: `${op.summary}\n\nCLI: meshvpc ${op.command}${op.mode ? ` mode=${op.mode}` : ''}` } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(r.body && op ? { requestBody: { required: false, content: { 'application/json': { schema: bodySchema(r, op) } } } } : {}),
    responses: {
      [String(ok)]: success,
      '400': errorResponse('bad input: nothing was changed'),
      '401': errorResponse('no token, or an unknown one'),
      ...(r.method === 'GET' ? {} : { '403': errorResponse('a read token may only GET') }),
      '404': errorResponse('no such VPC, container or operation'),
      '409': errorResponse('conflicts with what exists'),
      '423': errorResponse('busy: another operation holds the VPC'),
      '429': errorResponse('too many failed logins from this address'),
      '502': errorResponse('a peer is unreachable or its host key changed'),
    },
  };
}

export function openApiDocument(): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const r of ROUTES) {
    const p = `${API_PREFIX}${r.path.replace(/:(\w+)/g, '{$1}')}`;
    paths[p] = { ...(paths[p] ?? {}), [r.method.toLowerCase()]: pathItem(r) };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'meshvpc API', version: VERSION, description: 'Multi-host private Ethernet segments (VPCs). Every call needs Authorization: Bearer TOKEN (meshvpc token mode=create).' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: ERROR,
        Started: { type: 'object', required: ['operation', 'id'], properties: { operation: { type: 'string' }, id: { type: 'string' } } },
      },
    },
  };
}
