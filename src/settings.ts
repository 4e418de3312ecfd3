// Turns parsed arguments into checked settings: the reporter, the relay configuration, numbers and modes.
import { UsageError } from './errors';
import type { FrameMode } from './io/framing';
import type { RelayConfig } from './io/relay';
import { Reporter } from './output';
import type { SocketType } from './sys/socket';

export interface CommonArgs {
  type: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  frame?: string;
  'max-size'?: number;
}

/** Returns the reporter for -v, -q and --json. */
export function reporterFor(argv: CommonArgs): Reporter {
  return new Reporter({ verbose: argv.verbose, quiet: argv.quiet, json: argv.json });
}

/** Returns n when it is a whole number in [min, max]; throws UsageError naming the option otherwise. */
export function wholeNumber(name: string, n: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`bad --${name} '${String(n)}': expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Returns n when it is a finite number of seconds >= 0; throws UsageError otherwise. */
export function seconds(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new UsageError(`bad --${name} '${String(n)}': expected seconds, 0 or more`);
  return n;
}

/** Returns the relay configuration of a command that moves data. Throws UsageError. */
export function relayConfig(argv: CommonArgs, type: SocketType, reporter: Reporter): RelayConfig {
  return {
    type,
    frame: (argv.frame ?? 'line') as FrameMode,
    maxSize: wholeNumber('max-size', argv['max-size'] ?? 262144, 1, 1 << 30),
    reporter,
  };
}
