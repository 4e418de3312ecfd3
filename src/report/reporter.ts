// Diagnostics on stderr: one line per event (-v, -q), or one JSON object per event (--json); error lines coloured where stderr takes colour.
import { writeSync } from 'node:fs';
import { POLLOUT } from '../sys/platform/linux';
import { pollWait } from '../sys/fd';
import { isTerminal } from '../sys/tty';

/** The colours of stderr lines; plain until loadColours finds that stderr takes colour. */
interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
}
const plain = (s: string) => s;
let paint: Paint = { red: plain, yellow: plain, cyan: plain, dim: plain };

/**
 * Loads chalk's stderr colours where they can apply: stderr is a TTY, or FORCE_COLOR asks for colour
 * (chalk's rules then decide; NO_COLOR turns colour off whatever the terminal). Elsewhere chalk is not
 * even loaded, which saves every scripted run its start-up cost.
 */
export async function loadColours(): Promise<void> {
  if (!isTerminal(2) && process.env.FORCE_COLOR === undefined) return;
  const { chalkStderr } = await import('chalk');
  if (process.env.NO_COLOR) chalkStderr.level = 0;
  paint = chalkStderr;
}

export interface OutputOptions {
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
}

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

/** Warnings of one kind shown in full before they are only counted. */
const IN_FULL = 5;
/** How often a count of the warnings not shown is printed. */
const SUMMARY_INTERVAL_MS = 10_000;

/** One kind of repeated warning (an event, and the uid it concerns where there is one) and what was not shown of it. */
interface Episode {
  shown: number;
  more: number;
  since: number;
  what: string;
  event: string;
  json: boolean;
  timer: NodeJS.Timeout;
}

const episodes = new Map<string, Episode>();

/** Prints the count of the warnings of an episode not shown since its last summary; the episode ends when there were none. */
function summarise(key: string, ending: boolean): void {
  const e = episodes.get(key);
  if (!e) return;
  if (e.more > 0) {
    const seconds = Math.max(1, Math.round((Date.now() - e.since) / 1000));
    writeStderr(
      (e.json
        ? JSON.stringify({ event: 'suppressed', of: e.event, count: e.more, what: e.what, seconds })
        : `${paint.yellow('usock:')} ${e.more.toLocaleString('en-US')} more ${e.what} in the last ${seconds} s`) + '\n',
    );
    e.more = 0;
    e.since = Date.now();
    if (!ending) return;
  }
  clearInterval(e.timer);
  episodes.delete(key);
}

/** Prints what the rate limit held back (at exit and on a signal). */
export function flushSummaries(): void {
  for (const key of [...episodes.keys()]) summarise(key, true);
}

/**
 * Reports events on stderr: one line each, or one JSON object each with --json. Warnings are
 * rate-limited: of each kind (event, and the peer's uid where known) the first few are shown in
 * full, the rest counted and summed up in one line every 10 s ("12,345 more rejected from uid
 * 65534 in the last 10 s"); a kind quiet for a whole interval starts afresh.
 */
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
    if (this.verbose) this.emit(event, text, fields, paint.dim);
  }

  /**
   * A warning shown unless -q: something was dropped, rejected or could not be delivered. `what` names
   * the kind in the summary of those not shown (default: the event, with the peer's uid).
   */
  warn(event: string, text: string, fields: Record<string, unknown> = {}, what?: string): void {
    if (this.quiet) return;
    const uid = (fields.peer as { uid?: number } | null | undefined)?.uid;
    const key = uid === undefined ? event : `${event}/${uid}`;
    let e = episodes.get(key);
    if (!e) {
      e = {
        shown: 0,
        more: 0,
        since: Date.now(),
        event,
        json: this.json,
        what: what ?? `'${event}' warnings${uid === undefined ? '' : ` about uid ${uid}`}`,
        timer: setInterval(() => summarise(key, false), SUMMARY_INTERVAL_MS).unref(),
      };
      episodes.set(key, e);
    }
    if (e.shown >= IN_FULL) {
      e.more++;
      return;
    }
    e.shown++;
    this.emit(event, text, fields, paint.yellow);
  }

  /** An event the command exists to report (activate's notifications, and its records with --json): shown unless -q, never rate-limited. */
  notice(event: string, text: string, fields: Record<string, unknown> = {}): void {
    if (!this.quiet) this.emit(event, text, fields, plain);
  }

  private emit(event: string, text: string, fields: Record<string, unknown>, colour: (s: string) => string): void {
    writeStderr((this.json ? JSON.stringify({ event, ...fields }) : `${colour('usock:')} ${text}`) + '\n');
  }
}

/** Returns error lines coloured for stderr when it is a TTY that takes colour (chalk's rules: NO_COLOR, FORCE_COLOR). */
export function colourErrorLines(lines: string[]): string[] {
  return lines.map((l) => {
    if (l.startsWith('hint:')) return paint.cyan('hint:') + l.slice(5);
    if (l.startsWith('usock:')) return paint.red('usock:') + l.slice(6);
    return l;
  });
}
