// The failures every layer may report: exit statuses (sysexits) by name, and UsockError, which names its kind; src/cli/exit.ts turns either into a status.

/** Exit statuses (sysexits.h); a command's run resolves to one of these (or a child's status). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  NOPERM: 77,
  /** A command found but not runnable (as the shell says it). */
  CANNOT_EXECUTE: 126,
  /** A command not found (as the shell says it). */
  COMMAND_NOT_FOUND: 127,
} as const;

/** What kind of failure an error is; the exit status is EXIT[kind]. */
export type FailureKind = keyof typeof EXIT;

/** An error a user can cause, with its kind and an optional hint line. */
export class UsockError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsockError';
  }
}

/** Bad input from the user: an unknown option, a bad value, an option that does not apply (64). */
export class UsageError extends UsockError {
  constructor(message: string, hint?: string) {
    super(message, 'USAGE', hint);
    this.name = 'UsageError';
  }
}
