/**
 * `meshvpc remote`: one JSON request on stdin, one JSON response on stdout.
 * sshd tells who is calling (the forced command's caller=); app/remote.ts
 * decides what that caller may do.
 */
import { readFileSync } from 'node:fs';
import type { Invocation } from '../cli/args.js';
import { callerOf, serveRequest } from '../../app/remote.js';
import { openHost } from '../../app/host.js';

export async function run(inv: Invocation): Promise<number> {
  // A wrong invocation is the installer's mistake, not a peer's request: the CLI's one-line error.
  inv.params.only(['caller'], 'remote');
  const caller = callerOf(inv.params.get('caller'), process.env.SSH_ORIGINAL_COMMAND);
  const response = await serveRequest(caller, readFileSync(0, 'utf8'), () => openHost());
  process.stdout.write(`${JSON.stringify(response)}\n`);
  return 0;
}
