// Diagnostics on stderr: one line per event (-v, -q), or one JSON object per event (--json); error lines coloured where stderr takes colour.
import { writeSync } from 'node:fs';
import { chalkStderr } from 'chalk';
import { POLLOUT } from '../sys/platform/linux';
import { pollWait } from '../sys/socket';

// NO_COLOR (no-color.org): any non-empty value turns colour off, whatever the terminal.
if (process.env.NO_COLOR) chalkStderr.level = 0;

export interface OutputOptions { verbose?: boolean; quiet?: boolean; json?: boolean }

/** How long one stderr line may wait for a full non-blocking stderr before it is dropped. */
const STDERR_WAIT_MS = 1000;

/**
 * Writes text to stderr. stderr may share its open file with stdout, which usock makes non-blocking:
 * a full stderr is waited for (poll, at most 1 s a line), never spun on. Never throws.
 */
export function writeStderr(text: string): void {
  let buf = Buffer.from(text);
  const deadline = Date.now() + STDERR_WAIT_MS;
  while (buf.length) {
    try {
      buf = buf.subarray(writeSync(2, buf));
    } catch (err) {
      const left = deadline - Date.now();
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || left <= 0) return;
      try {
        pollWait(2, POLLOUT, left);
      } catch {
        return;
      }
    }
  }
}

/** Reports events on stderr: one line each, or one JSON object each with --json. */
export class Reporter {
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly json: boolean;

  constructor(opts: OutputOptions) {
    this.verbose = !!opts.verbose && !opts.quiet;
    this.quiet = !!opts.quiet;
    this.json = !!opts.json;
  }

  /** A diagnostic shown only with -v. */
  info(event: string, text: string, fields: Record<string, unknown> = {}): void {
    if (this.verbose) this.emit(event, text, fields, chalkStderr.dim);
  }

  /** A warning shown unless -q: something was dropped, rejected or could not be delivered. */
  warn(event: string, text: string, fields: Record<string, unknown> = {}): void {
    if (!this.quiet) this.emit(event, text, fields, chalkStderr.yellow);
  }

  private emit(event: string, text: string, fields: Record<string, unknown>, colour: (s: string) => string): void {
    writeStderr((this.json ? JSON.stringify({ event, ...fields }) : `${colour('usock:')} ${text}`) + '\n');
  }
}

/** Returns error lines coloured for stderr when it is a TTY that takes colour (chalk's rules: NO_COLOR, FORCE_COLOR). */
export function colourErrorLines(lines: string[]): string[] {
  return lines.map((l) => {
    if (l.startsWith('hint:')) return chalkStderr.cyan('hint:') + l.slice(5);
    if (l.startsWith('usock:')) return chalkStderr.red('usock:') + l.slice(6);
    return l;
  });
}
