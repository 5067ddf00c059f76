/** How the API answers a refusal: the error kind as an HTTP status, the message in words. */
import { UserError, type ErrorKind } from '../../core/errors.js';
import { isSqliteError } from '../../store/faults.js';

export type ApiErrorKind = ErrorKind | 'unauthorized' | 'forbidden' | 'rate_limited';

export const HTTP_STATUS: Readonly<Record<ApiErrorKind, number>> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  quota: 409,
  busy: 423,
  unreachable: 502,
  host_key: 502,
  storage: 500,
  failed: 500,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
};

export interface ApiError {
  readonly status: number;
  readonly body: { readonly error: { readonly kind: ApiErrorKind; readonly message: string } };
}

export const apiError = (kind: ApiErrorKind, message: string): ApiError => ({ status: HTTP_STATUS[kind], body: { error: { kind, message } } });

/** Any failure of an operation, as the API reports it (one line, never a stack). */
export function fromThrown(e: unknown): ApiError {
  if (e instanceof UserError) return apiError(e.kind, e.message.split('\n')[0] ?? '');
  if (isSqliteError(e)) return apiError('storage', `this host's database failed: ${(e as Error).message.split('\n')[0]}`);
  return apiError('failed', (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'failed');
}
