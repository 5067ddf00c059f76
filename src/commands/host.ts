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
import { PLATFORMS } from '../platform/driver.js';
import { systemExecutor } from '../platform/exec.js';
import { shown } from '../core/validate.js';

export interface Host {
  readonly db: Db;
  readonly home: string;
  readonly self: SelfNode;
  readonly driver: NetworkDriver;
}

export function hostPlatform(): Platform {
  return osPlatform() === 'freebsd' ? 'freebsd' : 'linux';
}

export function parsePlatform(value: string | undefined): Platform {
  if (value === undefined) return hostPlatform();
  if (!(PLATFORMS as readonly string[]).includes(value)) {
    throw new UserError(`invalid platform ${shown(value)}: use ${PLATFORMS.join(' or ')}`);
  }
  return value as Platform;
}

/** Drivers load lazily: a command that never touches the network never pays for them. */
export async function driverFor(platform: Platform): Promise<NetworkDriver> {
  if (platform === 'freebsd') {
    // FREEBSD_DRIVER_PENDING
    throw new UserError('the FreeBSD driver is not built yet');
  }
  return (await import('../platform/linux/driver.js')).linuxDriver(systemExecutor);
}

export async function openHost(platform?: Platform): Promise<Host> {
  const home = homeDir();
  const db = openDb(home);
  const self = getSelf(db);
  if (!self) {
    db.close();
    throw new UserError(`this host is not initialised (no state in ${home}): run meshvpc initenv nodename=NAME nodeip=ADDR first`);
  }
  return { db, home, self, driver: await driverFor(platform ?? hostPlatform()) };
}
