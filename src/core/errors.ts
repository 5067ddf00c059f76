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

export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
