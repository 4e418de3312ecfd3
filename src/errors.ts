// Exit codes (sysexits) and the mapping from any error to usock's one-line message and status.
import { SysError } from './sys/errors';

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  CANTCREAT: 73,
  IOERR: 74,
  NOPERM: 77,
} as const;

/** An error with a chosen exit status and an optional hint line. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, readonly hint?: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad input from the user: exit 64. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.USAGE, hint);
    this.name = 'UsageError';
  }
}

/** Thrown to end the process at once with a status, after clean-up (e.g. stdout was closed). */
export class Exit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

const BY_CODE: Record<string, number> = {
  ENOENT: EXIT.UNAVAILABLE,
  ECONNREFUSED: EXIT.UNAVAILABLE,
  ENOTDIR: EXIT.UNAVAILABLE,
  EADDRINUSE: EXIT.CANTCREAT,
  EEXIST: EXIT.CANTCREAT,
  EACCES: EXIT.NOPERM,
  EPERM: EXIT.NOPERM,
  ENAMETOOLONG: EXIT.USAGE,
  EPIPE: EXIT.IOERR,
  ECONNRESET: EXIT.IOERR,
  EIO: EXIT.IOERR,
};

const HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing accepts connections there: the socket file may be stale, or of another type (try --type)',
  EPROTOTYPE: 'the socket is of another type: try -t dgram, -t seqpacket or -t stream (connect -z --type auto finds it)',
  EACCES: 'check the permissions of the socket file and of every directory above it (ls -ld)',
};

/** Returns the exit status for err. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError || err instanceof Exit) return err.exitCode;
  if (err instanceof SysError) return BY_CODE[err.code] ?? EXIT.FAILURE;
  const code = (err as { code?: string } | null)?.code;
  return (code ? BY_CODE[code] : undefined) ?? EXIT.FAILURE;
}

/** Returns the lines to print for err: `usock: …` and at most one `hint: …`. */
export function errorLines(err: unknown): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`usock: ${message.split('\n')[0]}`];
  const hint = err instanceof CliError ? err.hint : err instanceof SysError ? HINTS[err.code] : undefined;
  if (hint) lines.push(`hint: ${hint}`);
  return lines;
}
