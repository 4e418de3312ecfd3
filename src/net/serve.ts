// Starting a server command: its options checked (--mode, --backlog, --allow-*), then its address bound and reported.
import { parseAccessRules, type AccessArgs, type AccessRules } from '../access';
import type { Reporter } from '../output';
import { wholeNumber } from '../settings';
import type { SocketType } from '../sys/socket';
import { parseAddress } from './address';
import { bindServer, parseMode, type BoundSocket } from './socketfile';

export interface ServerArgs extends AccessArgs {
  address: string;
  mode?: string;
  backlog: number;
}

export interface ServerSettings {
  mode?: number;
  backlog: number;
  rules: AccessRules | null;
}

/** Returns the checked server options. Throws UsageError (64) for a bad mode or backlog, or an unknown user or group. */
export function serverSettings(argv: ServerArgs): ServerSettings {
  return {
    mode: parseMode(argv.mode),
    backlog: wholeNumber('backlog', argv.backlog, 1, 1 << 20),
    rules: parseAccessRules(argv),
  };
}

/**
 * Returns the socket of a server command bound at address (listening, for stream and seqpacket),
 * reporting a replaced stale socket and, with -v, that it listens. Throws as bindServer does; the caller owns the result.
 */
export function openServer(address: string, type: SocketType, s: ServerSettings, reporter: Reporter, command: string): BoundSocket {
  const server = bindServer(parseAddress(address), type, {
    mode: s.mode,
    backlog: s.backlog,
    onStaleReplaced: (path) => reporter.info('stale', `replaced stale socket ${path}`, { path }),
  });
  reporter.info('listening', `${command} listening on ${address} (${type})`, { address, type });
  return server;
}

/** Warns (unless -q) that --allow-* options were given to a command that is not serving, where they do nothing. */
export function warnRulesIgnored(argv: AccessArgs, reporter: Reporter): void {
  const given = (['allow-uid', 'allow-gid', 'allow-user', 'allow-group'] as const).some((k) => argv[k] !== undefined);
  if (given) reporter.warn('ignored', 'access rules only apply with --listen: ignored');
}
