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
