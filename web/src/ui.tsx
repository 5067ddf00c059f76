/** Small shared pieces: an action runner that keeps its error in words, and the error line. */
import { useState } from 'preact/hooks';
import { errorText, READ_ONLY_WHY } from './api';

export function useAction(): { busy: boolean; error: string | null; run: (fn: () => Promise<void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

export function ErrorLine(props: { error: string | null | undefined; testid?: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert" data-testid={props.testid ?? 'error'}>
      {props.error}
    </p>
  );
}

export const yesNo = (b: unknown): string => (b === true ? 'yes' : b === false ? 'no' : String(b ?? ''));

/** A control that changes something: disabled for a read token, with a title that says why. */
export const guard = (readOnly: boolean, busy = false): { disabled: boolean; title?: string } =>
  readOnly ? { disabled: true, title: READ_ONLY_WHY } : { disabled: busy };

/** The line under a form a read token cannot submit. */
export function ReadOnlyNote(props: { readOnly: boolean; what: string }) {
  if (!props.readOnly) return null;
  return (
    <p class="muted small" data-testid="read-only-note">
      This token may only read: {props.what} needs an admin token.
    </p>
  );
}

/** The end of a form that makes something: its submit button, why it is disabled, its error, its success. */
export function FormFooter(props: { readOnly: boolean; busy: boolean; error: string | null; done: string | null; label: string; busyLabel: string; what: string }) {
  return (
    <>
      <button type="submit" class="primary" {...guard(props.readOnly, props.busy)}>
        {props.busy ? props.busyLabel : props.label}
      </button>
      <ReadOnlyNote readOnly={props.readOnly} what={props.what} />
      <ErrorLine error={props.error} />
      {props.done && (
        <p class="ok" role="status">
          {props.done}
        </p>
      )}
    </>
  );
}

/** A form's fields, their change handler, and its action with its error and success line. */
export function useForm<T extends Record<string, string | boolean>>(initial: T) {
  const [f, setF] = useState(initial);
  const act = useAction();
  const [done, setDone] = useState<string | null>(null);
  const field = (k: keyof T) => (e: Event) => {
    const el = e.target as HTMLInputElement;
    setF({ ...f, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  return { f, setF, act, done, setDone, field };
}
