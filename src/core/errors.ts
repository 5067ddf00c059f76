/**
 * An error the user caused or can fix. Its message is printed as the one-line
 * error of the command, so it must name the bad value and what is allowed.
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
