/** The CLI's exit statuses: the only place in meshvpc that has them. */
import type { ErrorKind } from '../../core/errors.js';

/** The CLI's exit status per kind (README, Commands): 2 bad input, 3 host key, 4 busy, 5 storage, 1 did not converge. */
export const EXIT_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 2,
  not_found: 2,
  conflict: 2,
  quota: 2,
  host_key: 3,
  busy: 4,
  storage: 5,
  unreachable: 1,
  failed: 1,
};

export const exitStatus = (kind: ErrorKind): number => EXIT_STATUS[kind];

/** What each exit status means, in words: `meshvpc help` and the man page both print these. */
export const EXIT_MEANINGS: readonly { readonly code: number; readonly meaning: string }[] = [
  { code: 0, meaning: 'done' },
  { code: 1, meaning: 'failed (e.g. a peer did not converge or is unreachable)' },
  { code: 2, meaning: 'bad input (nothing changed)' },
  { code: 3, meaning: "a peer's host key changed" },
  { code: 4, meaning: 'busy (another command holds the VPC)' },
  { code: 5, meaning: "this host's database cannot be used (full disk, read-only, corrupt, too new)" },
];
