/**
 * The host a command runs on: its database, its identity and its platform
 * driver. Opened once per command (or per remote request).
 */
import { platform as osPlatform } from 'node:os';
import { UserError } from '../core/errors.js';
import type { SelfNode } from '../core/types.js';
import { openDb, homeDir, type Db } from '../store/db.js';
import { getSelf } from '../store/repo.js';
import type { NetworkDriver, Platform } from '../platform/driver.js';
import { observedFrom } from '../core/observed.js';

export interface Host {
  readonly db: Db;
  readonly home: string;
  readonly self: SelfNode;
  readonly driver: NetworkDriver;
}

export function hostPlatform(): Platform {
  return osPlatform() === 'freebsd' ? 'freebsd' : 'linux';
}

/** Drivers load lazily: a command that never touches the network never pays for them. */
async function nativeDriver(platform: Platform): Promise<NetworkDriver> {
  const { systemExecutor } = await import('../platform/exec.js');
  if (platform === 'freebsd') return (await import('../platform/freebsd/driver.js')).freebsdDriver(systemExecutor);
  return (await import('../platform/linux/driver.js')).linuxDriver(systemExecutor);
}

/**
 * Another platform's driver on this host (platform=freebsd on Linux): it can
 * only plan. It sees an empty host, takes underlay MTUs from this host's own
 * routes, and refuses to apply anything.
 */
function foreignDriver(driver: NetworkDriver, native: NetworkDriver): NetworkDriver {
  const refuse = (): never => {
    throw new UserError(`platform=${driver.platform} on a ${native.platform} host only works with dryrun=1`);
  };
  return {
    ...driver,
    commandsFor: (op) => driver.commandsFor(op),
    observe: async () => observedFrom([]),
    underlayMtu: (remote) => native.underlayMtu(remote),
    underlayMtus: native.underlayMtus ? (remotes) => (native.underlayMtus as NonNullable<NetworkDriver['underlayMtus']>).call(native, remotes) : undefined,
    apply: async () => refuse(),
    guestStart: async () => refuse(),
    guestStop: async () => refuse(),
    runningGuests: async () => [],
    ...(driver.vm ? { vm: { ...driver.vm, start: async () => refuse(), stop: async () => refuse(), running: async () => false, tapIsOurs: async () => null } } : {}),
    ping: async () => null,
  };
}

export async function driverFor(platform: Platform): Promise<NetworkDriver> {
  const here = hostPlatform();
  const driver = await nativeDriver(platform);
  return platform === here ? driver : foreignDriver(driver, await nativeDriver(here));
}

/**
 * The host's state and driver. Listings pass access 'read': their database is
 * opened read-only, so they work on a read-only state directory. Neither way
 * creates a database: only initenv does.
 */
/**
 * A driver for operations that only read the database (listings of VPCs,
 * nodes, tokens): loading a platform driver costs a listing more than the
 * listing itself, so these get one that says it was not loaded.
 */
function absentDriver(platform: Platform): NetworkDriver {
  return new Proxy({ platform } as NetworkDriver, {
    get(target, prop) {
      if (prop === 'platform' || prop === 'then') return (target as unknown as Record<string | symbol, unknown>)[prop];
      throw new Error(`internal: driver.${String(prop)} used by an operation declared not to need the driver`);
    },
  });
}

export async function openHost(platform?: Platform, access: 'read' | 'write' = 'write', withDriver = true): Promise<Host> {
  const home = homeDir();
  const notInitialised = (): UserError =>
    new UserError(`this host is not initialised (no state in ${home}): run meshvpc initenv nodename=NAME nodeip=ADDR first`);
  const db = openDb(home, access);
  if (!db) throw notInitialised();
  const self = getSelf(db);
  if (!self) {
    db.close();
    throw notInitialised();
  }
  const chosen = platform ?? hostPlatform();
  return { db, home, self, driver: withDriver ? await driverFor(chosen) : absentDriver(chosen) };
}
