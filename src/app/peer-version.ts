/**
 * Which meshvpc a peer runs, asked when it refused an operation it does not
 * know: refusals between versions name both.
 */
import type { NodeRecord } from '../core/types.js';
import { versionText } from '../core/version.js';
import type { Call } from './guest-guard.js';

/** The version `node` says in its hello; 'an older release' when it says none or does not answer. */
export function peerVersion(node: NodeRecord, call: Call): Promise<string> {
  return call<{ version?: unknown }>(node, { op: 'hello' }).then(
    (h) => versionText(h.version) ?? 'an older release',
    () => 'an older release',
  );
}
