// Diagnostics on stderr (-v, -q, --json) and report output on stdout (tables on a TTY, tab-separated or JSON otherwise).
import { writeSync } from 'node:fs';
import chalk, { chalkStderr } from 'chalk';

// NO_COLOR (no-color.org): any non-empty value turns colour off, whatever the terminal.
if (process.env.NO_COLOR) chalk.level = chalkStderr.level = 0;

export interface OutputOptions { verbose?: boolean; quiet?: boolean; json?: boolean }

/** Writes all of text to fd, waiting out EAGAIN on a non-blocking descriptor. Throws on other errors. */
export function writeAllSync(fd: number, text: string | Buffer): void {
  let buf = typeof text === 'string' ? Buffer.from(text) : text;
  while (buf.length) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
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
    const line = this.json ? JSON.stringify({ event, ...fields }) : `${colour('usock:')} ${text}`;
    try {
      writeAllSync(2, line + '\n');
    } catch {
      // stderr is gone: nothing left to tell.
    }
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

/** Formats credentials for a diagnostic line. */
export function describePeer(c: { pid: number; uid: number; gid: number } | null | undefined): string {
  return c ? `pid ${c.pid} uid ${c.uid} gid ${c.gid}` : 'unknown peer';
}
