/**
 * A host for unit tests: its own database in a temporary directory (made by
 * initenv), a driver given by the test, removed by close() (call it in a
 * finally, or use withHost).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initenv } from '../../src/app/initenv.js';
import type { Host } from '../../src/app/host.js';
import type { NetworkDriver } from '../../src/platform/driver.js';
import { openDb } from '../../src/store/db.js';
import { getSelf } from '../../src/store/repo.js';

/** A driver for tests that never touch the network. */
export const noDriver = { platform: 'linux' } as NetworkDriver;

export function openTestHost(nodename: string, ip: string, driver: NetworkDriver = noDriver): { host: Host; close(): void } {
  const home = mkdtempSync(join(tmpdir(), `mv-host-${nodename}-`));
  initenv(home, { nodename, nodeip: ip });
  const db = openDb(home, 'write');
  assert.ok(db);
  const self = getSelf(db);
  assert.ok(self);
  return {
    host: { db, home, self, driver },
    close: () => {
      db.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Run `fn` with a fresh host, removed however it ends. */
export async function withHost(fn: (h: Host) => Promise<void>, nodename = 'h1', ip = '192.0.2.1'): Promise<void> {
  const t = openTestHost(nodename, ip);
  try {
    await fn(t.host);
  } finally {
    t.close();
  }
}
