// The one way out: any error turned into one `usock:` line (and at most one hint) and its exit status.
import { EXIT, UsockError } from '../errors';
import { SysError } from '../sys/errors';

export { EXIT };

/** Exit status by errno name, for a SysError (or a Node system error) that reaches the top. */
const BY_CODE: Record<string, number> = {
  ENOENT: EXIT.UNAVAILABLE,
  ECONNREFUSED: EXIT.UNAVAILABLE,
  ENOTDIR: EXIT.UNAVAILABLE,
  EPROTOTYPE: EXIT.UNAVAILABLE, // a socket of another type at the address
  EADDRINUSE: EXIT.CANTCREAT,
  EEXIST: EXIT.CANTCREAT,
  EACCES: EXIT.NOPERM,
  EPERM: EXIT.NOPERM,
  ENAMETOOLONG: EXIT.USAGE,
  EPIPE: EXIT.IOERR,
  ECONNRESET: EXIT.IOERR,
  EIO: EXIT.IOERR,
  ENOSPC: EXIT.IOERR,
  EDQUOT: EXIT.IOERR,
};

const HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing accepts connections there: the socket file may be stale, or of another type (try --type)',
  EPROTOTYPE: 'the socket is of another type: try -t dgram, -t seqpacket or -t stream (connect -z --type auto finds it)',
  EACCES: 'check the permissions of the socket file and of every directory above it (ls -ld)',
};

/** Returns the exit status for err. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsockError) return EXIT[err.kind];
  const kind = (err as { kind?: unknown } | null)?.kind; // e.g. io's FrameError, which imports nothing of this
  if (typeof kind === 'string' && kind in EXIT) return EXIT[kind as keyof typeof EXIT];
  const code = (err as { code?: string } | null)?.code;
  return (code ? BY_CODE[code] : undefined) ?? EXIT.FAILURE;
}

/** Returns the lines to print for err: `usock: …` and at most one `hint: …`. */
export function errorLines(err: unknown): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`usock: ${message.split('\n')[0]}`];
  const hint = err instanceof UsockError ? err.hint : err instanceof SysError ? HINTS[err.code] : undefined;
  if (hint) lines.push(`hint: ${hint}`);
  return lines;
}
