/**
 * An error the user caused or can fix. Its message is printed as the one-line
 * error of the command, so it must name the bad value and what is allowed.
 */
const MAX_SHOWN = 40;

/**
 * Quote a bad value for an error message without letting it spoil the line.
 * Lives here, not in validate.ts, so the CLI's start-up path needs no IP library.
 */
export function shown(value: string): string {
  return JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}...` : value);
}

/**
 * What went wrong, in terms every face can act on: the CLI maps a kind to its
 * exit status (adapters/cli/exit-status.ts), the HTTP API to a status code, and a peer's refusal
 * keeps its kind across the wire.
 */
export const ERROR_KINDS = ['invalid', 'not_found', 'conflict', 'busy', 'unreachable', 'host_key', 'quota', 'storage', 'failed'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];


/** Facts a program acts on without reading the message (the VXLAN id another VPC holds, say). */
export type ErrorDetail = Readonly<Record<string, string | number>>;

export class UserError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind = 'invalid',
    readonly detail?: ErrorDetail,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const isErrorKind = (x: unknown): x is ErrorKind => typeof x === 'string' && (ERROR_KINDS as readonly string[]).includes(x);
