/**
 * The one entry to every operation, for every face: the CLI, the HTTP API
 * and anything later call `runOperation` with an operation id from the
 * catalog and input it checked with `parseInput`. Each operation's module
 * loads on first use, so a listing never pays for SSH or the drivers.
 */
import { UserError } from '../core/errors.js';
import type { Platform } from '../platform/driver.js';
import { operation, type Input } from './catalog.js';
import { hostPlatform, openHost, type Host } from './host.js';
import { homeDir } from '../store/db.js';
import type { ConvergeEvent, SyncOutcome, TeardownOutcome } from './vpc-cluster.js';
import type { PasswordSource, RemoveEvent } from './node.js';
import type { UpdateEvent } from './node-update.js';
import type { LayerMode } from './vpc.js';
import type { Peers } from '../cluster/peers.js';

/** Progress of a long operation, as it happens. */
export type OperationEvent =
  | ConvergeEvent
  | { readonly type: 'synced'; readonly outcome: SyncOutcome }
  | { readonly type: 'torn_down'; readonly outcome: TeardownOutcome }
  | RemoveEvent
  | UpdateEvent;

export interface Context {
  readonly events: (e: OperationEvent) => void;
  /** First contact's password (node mode=add); the API has none to give. */
  readonly password: PasswordSource;
  /** SSH connections to peers kept open between operations (a long-lived server); a CLI has none. */
  readonly peers?: Peers;
}

type Handler = (host: Host, input: Input, ctx: Context) => unknown;

/** The input as the operation's own type: parseInput made it from that operation's catalog entry. */
const as = <T>(input: Input): T => input as unknown as T;

const vpc = () => import('./vpc.js');

/**
 * The article's step-by-step modes and set push definitions over SSH: with backend=etcd the
 * store is the cluster's state (the agents would put back what they changed), so they are
 * refused there, naming what does the job. Returns true to go on.
 */
async function pushOnly(h: Host, mode: string): Promise<true> {
  const { getClusterConfig } = await import('../store/cluster-config.js');
  if (getClusterConfig(h.db)) throw new UserError(`vpc mode=${mode} is not available with backend=etcd yet: the cluster's state is in etcd; use vpc mode=deploy (define, or repeat), join or leave`);
  return true;
}
const node = () => import('./node.js');
const jail = () => import('./jail.js');
const token = () => import('./token.js');
const vm = () => import('./vm.js');

const layer = (mode: LayerMode): Handler => async (h, i) => (await vpc()).local(h, mode, as(i));

const HANDLERS: Readonly<Record<string, Handler>> = {
  'vpc.list': async (h) => (await import('./vpc-list.js')).list(h),
  'vpc.show': async (h, i) => (await import('./vpc-list.js')).show(h, as(i)),
  'vpc.init': async (h, i) => (await pushOnly(h, 'init')) && (await vpc()).init(h, as(i)),
  'vpc.init_peers': async (h, i) => (await pushOnly(h, 'init_peers')) && (await vpc()).initPeers(h, as(i)),
  'vpc.sync': async (h, i, c) => (await pushOnly(h, 'sync')) && (await vpc()).syncVpc(h, as(i), (outcome) => c.events({ type: 'synced', outcome })),
  'vpc.init_vxlan': layer('init_vxlan'),
  'vpc.init_bridge': layer('init_bridge'),
  'vpc.destroy_vxlan': layer('destroy_vxlan'),
  'vpc.destroy_bridge': layer('destroy_bridge'),
  'vpc.apply': layer('apply'),
  'vpc.down': layer('down'),
  'vpc.remove': layer('remove'),
  'vpc.deploy': async (h, i, c) => (await vpc()).deploy(h, as(i), c.events),
  'vpc.join': async (h, i, c) => (await vpc()).members(h, 'join', as(i), c.events),
  'vpc.leave': async (h, i, c) => (await vpc()).members(h, 'leave', as(i), c.events),
  'vpc.status': async (h, i, c) => (await vpc()).status(h, as(i), c.peers),
  'vpc.collapse': async (h, i, c) => (await vpc()).teardown(h, 'collapse', as(i), c.events),
  'vpc.destroy': async (h, i, c) => (await vpc()).teardown(h, 'destroy', as(i), c.events),
  'vpc.init_rc': async (h, i) => (await vpc()).bootFiles(h, as(i)),
  'node.add': async (h, i, c) => (await node()).add(h, as(i), c.password),
  'node.list': async (h) => (await import('./node-list.js')).list(h),
  'node.show': async (h, i) => (await import('./node-show.js')).show(h, as(i)),
  'node.remove': async (h, i, c) => (await node()).remove(h, as(i), c.events),
  'node.repin': async (h, i) => (await node()).repin(h, as(i)),
  'node.update': async (h, i, c) => (await import('./node-update.js')).update(h, as(i), c.events),
  jcreate: async (h, i) => (await jail()).jcreate(h, as(i)),
  jstart: async (h, i) => (await jail()).jstart(h, as(i)),
  jstop: async (h, i) => (await jail()).jstop(h, as(i)),
  jremove: async (h, i) => (await jail()).jremove(h, as(i)),
  jls: async (h, i) => (await jail()).jls(h, as(i)),
  jwhereis: async (h, i) => (await jail()).jwhereis(h, as(i)),
  // The command line to run inside the container; the CLI runs it on its terminal.
  jexec: async (h, i) => (await jail()).jexecArgv(h, as(i), i.argv as readonly string[]),
  bcreate: async (h, i) => (await vm()).bcreate(h, as(i)),
  bstart: async (h, i) => (await vm()).bstart(h, as(i)),
  bstop: async (h, i) => (await vm()).bstop(h, as(i)),
  bremove: async (h, i) => (await vm()).bremove(h, as(i)),
  bls: async (h) => (await vm()).bls(h),
  bconsole: async (h, i) => (await vm()).bconsole(h, as(i)),
  'guests.start_all': async (h, i) => (await import('./guests.js')).startAll(h, as(i)),
  'vpc.check_mtu': async (h, i) => (await import('./vpc-local.js')).checkMtu(h, (i as { vpc_name: string }).vpc_name, i.fix === true),
  'vpc.rotate_keys': async (h, i, c) => {
    const rotate = await import('./rotate.js');
    rotate.checkRotate(h, (i as { node?: string }).node);
    return rotate.rotateKeys(h, as(i), c.events);
  },
  'vpc.set': async (h, i, c) => (await vpc()).setPolicy(h, as(i), (outcome) => c.events({ type: 'synced', outcome })),
  'token.create': async (h, i) => (await token()).create(h, as(i)),
  'token.list': async (h) => (await token()).list(h),
  'token.revoke': async (h, i) => (await token()).revoke(h, as(i)),
  'cluster.init': async (h, i) => (await import('./cluster.js')).init(h, as(i)),
  'cluster.show': async (h) => (await import('./cluster.js')).show(h),
  'cluster.push_crl': async (h) => (await import('./cluster-revoke.js')).pushCurrentCrl(h),
  'cluster.add_member': async (h, i) => (await import('./cluster-members.js')).addMember(h, as(i)),
  'cluster.remove_member': async (h, i) => (await import('./cluster-members.js')).removeMember(h, as(i)),
  'cluster.migrate': async (h, i, c) => (await import('./store-migrate.js')).migrate(h, as(i), c.events),
};

/**
 * platform= names another platform's driver; on this host that can only plan,
 * so without dryrun=1 it is refused before any state is opened.
 */
export function platformOf(input: Input): Platform {
  const asked = input.platform as Platform | undefined;
  if (asked === undefined) return hostPlatform();
  if (asked !== hostPlatform() && input.dryrun !== true) {
    throw new UserError(`platform=${asked} on a ${hostPlatform()} host only works with dryrun=1`);
  }
  return asked;
}

/**
 * Run one operation. `host` is a host the caller keeps open (the server);
 * without one it is opened for this call, read-only for operations that only
 * read, and closed after.
 */
export async function runOperation(id: string, input: Input, ctx: Context, host?: Host): Promise<unknown> {
  // The one operation that makes the state every other one opens.
  if (id === 'initenv') return (await import('./initenv.js')).initenv(homeDir(), as(input));
  const handler = HANDLERS[id];
  if (!handler) throw new Error(`no handler for operation ${id}`);
  const op = operation(id);
  const platform = platformOf(input);
  if (host && platform === host.driver.platform) return handler(host, input, ctx);
  const opened = await openHost(platform, op.readOnly ? 'read' : 'write', op.dbOnly !== true);
  try {
    return await handler(opened, input, ctx);
  } finally {
    opened.db.close();
  }
}
