/**
 * Run one task per host with a bounded number in flight. A failed host never
 * stops the others; every host's outcome is returned (and reported as it ends).
 */
import { UserError, type ErrorDetail, type ErrorKind } from '../core/errors.js';

export type Outcome<T> =
  | { readonly key: string; readonly ok: true; readonly value: T; readonly ms: number }
  /** kind and detail when the failure said what it was (a UserError, here or from a peer). */
  | { readonly key: string; readonly ok: false; readonly error: string; readonly kind?: ErrorKind; readonly detail?: ErrorDetail; readonly ms: number };

export async function fanout<T>(
  keys: readonly string[],
  limit: number,
  task: (key: string) => Promise<T>,
  onDone?: (outcome: Outcome<T>) => void,
): Promise<Outcome<T>[]> {
  const results: Outcome<T>[] = new Array(keys.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++;
      const key = keys[i] as string;
      const started = Date.now();
      let outcome: Outcome<T>;
      try {
        outcome = { key, ok: true, value: await task(key), ms: Date.now() - started };
      } catch (e) {
        const known = e instanceof UserError ? { kind: e.kind, ...(e.detail ? { detail: e.detail } : {}) } : {};
        outcome = { key, ok: false, error: e instanceof Error ? e.message : String(e), ...known, ms: Date.now() - started };
      }
      results[i] = outcome;
      onDone?.(outcome);
    }
  };
  const workers = Number.isFinite(limit) ? Math.max(1, Math.min(Math.floor(limit), keys.length)) : 1;
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
