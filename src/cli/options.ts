// What several commands make of their settings: the reporter, the access rules, the spec of a server they bind, and arguments as the exact bytes the user gave.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors';
import type { FrameMode } from '../io/framing';
import { parseAccessRules, type AccessRules } from '../net/access';
import { isInherited, parseAddress, parseInherited, type NamedAddress, type SocketAddress } from '../net/address';
import { type InheritedRole, inspectInherited } from '../net/inherited';
import type { ServerSpec } from '../net/server';
import { cannotCreate } from '../net/socketfile';
import { Reporter } from '../report/reporter';
import { escapeBytes } from '../report/text';
import type { SocketType } from '../sys/socket';

/** Message framing settings: the framing of stdin/stdout and the largest message. */
export interface Framing {
  frame: FrameMode;
  maxSize: number;
}

/** Returns the reporter for -v, -q and --json. */
export function reporterOf(s: { json: boolean; verbose: boolean; quiet: boolean }): Reporter {
  return new Reporter({ verbose: s.verbose, quiet: s.quiet, json: s.json });
}

/** The settings of the access rules (common-options' accessOptions). */
export interface AccessSettings {
  readonly allowUid: readonly string[];
  readonly allowGid: readonly string[];
  readonly allowUser: readonly string[];
  readonly allowGroup: readonly string[];
}

/** Returns the access rules of --allow-*, or null when none is given. Throws UsageError for a bad id or an unknown name. */
export function accessRulesOf(s: AccessSettings): AccessRules | null {
  return parseAccessRules({ uids: s.allowUid, gids: s.allowGid, users: s.allowUser, groups: s.allowGroup });
}

/** The settings of a server a command binds: its address, --mode, --backlog and the access rules. */
export interface ServerSettings extends AccessSettings {
  readonly mode: number | undefined;
  readonly backlog: number;
}

/**
 * Returns the spec of the server a command binds at text: type, --mode, --backlog and the access rules,
 * all checked. Throws UsageError. The caller releases the address (openServer does).
 */
export function serverSpecOf(text: string, s: ServerSettings, type: SocketType, reporter: Reporter, name: string): ServerSpec {
  const rules = accessRulesOf(s);
  let address: SocketAddress;
  try {
    address = inheritableAddressOf(text); // fd:N and sd: too: --mode and --backlog do not apply to them (the specs' rules)
  } catch (err) {
    throw cannotCreate(err, name, text); // a long path's directory missing: 73, as bind would say
  }
  if (address.kind === 'abstract' && s.mode !== undefined) {
    address.release();
    throw new UsageError(
      `--mode does not apply to the abstract address ${text}: it has no file and no permissions`,
      'use --allow-uid, --allow-user, --allow-gid or --allow-group to limit who may connect',
    );
  }
  return { address, type, mode: s.mode, backlog: s.backlog, rules, diagnostics: reporter, name };
}

let commandLine: Buffer[] | null | undefined;

/** Returns usock's own arguments as the bytes the kernel holds (/proc/self/cmdline), or null where /proc does not show them. */
function commandLineBytes(): Buffer[] | null {
  if (commandLine !== undefined) return commandLine;
  try {
    const raw = readFileSync('/proc/self/cmdline');
    const parts: Buffer[] = [];
    for (let start = 0; start < raw.length; ) {
      const end = raw.indexOf(0, start);
      parts.push(raw.subarray(start, end < 0 ? raw.length : end));
      start = end < 0 ? raw.length : end + 1;
    }
    const own = process.argv.length - 2; // node and its script come first
    commandLine = own >= 0 && parts.length >= own ? parts.slice(parts.length - own) : null;
  } catch {
    commandLine = null;
  }
  return commandLine;
}

/**
 * Returns an argument as the user gave it: Node decodes arguments as UTF-8 and puts U+FFFD where bytes
 * are not; then the exact bytes are taken from the command line (as `ARG` or `--option=ARG`), so that
 * usock never binds or connects to a name the user did not write. Throws UsageError (64) where the
 * bytes cannot be told for sure: /proc does not show them, or two arguments that differ decode alike.
 */
export function exactArg(text: string): string | Buffer {
  if (!text.includes('\uFFFD')) return text;
  const found: Buffer[] = [];
  for (const raw of commandLineBytes() ?? []) {
    const eq = raw.indexOf(0x3d); // '='
    const value =
      raw.toString('utf8') === text
        ? raw
        : raw[0] === 0x2d && eq > 0 && raw.subarray(eq + 1).toString('utf8') === text
          ? raw.subarray(eq + 1)
          : null;
    if (value && !found.some((f) => f.equals(value))) found.push(value);
  }
  if (found.length === 1) return found[0]!;
  throw new UsageError(
    found.length === 0
      ? `'${text}' holds bytes that are not UTF-8, and /proc/self/cmdline does not show which`
      : `two arguments differ only in bytes that are not UTF-8 (${found.map(escapeBytes).join(', ')}): usock cannot tell which is which`,
    'give such names through a UTF-8 path, e.g. a symbolic link to the directory',
  );
}

/**
 * Returns the path or abstract name an argument names, byte for byte (see exactArg). Throws as
 * parseAddress does, and UsageError (64) for fd:N and sd: (they serve, or connect: see
 * inheritableAddressOf). The caller releases it.
 */
export function addressOf(text: string): NamedAddress {
  const address = inheritableAddressOf(text);
  if (isInherited(address)) {
    throw new UsageError(
      `${text}: an inherited socket does not apply here: give a path or @name`,
      "fd:N and sd: serve listen, echo-server, tap's LISTEN and --listen; connect takes fd:N",
    );
  }
  return address;
}

/** Returns the address an argument names, byte for byte (see exactArg): a path, @name, or an inherited socket (fd:N, sd:NAME, sd:). Throws as parseAddress does; the caller releases it. */
export function inheritableAddressOf(text: string): SocketAddress {
  return parseAddress(exactArg(text));
}

/**
 * Returns the socket type of the inherited socket text names (fd:N, sd:), checked for role as
 * net/inherited says; a different type given with -t is a UsageError. Throws UsageError (64), SysError.
 */
export function inheritedTypeOf(text: string, role: InheritedRole, given: SocketType | undefined): SocketType {
  const inherited = parseInherited(text);
  if (!inherited) throw new UsageError(`${text}: not an inherited socket`); // the caller checked the prefix
  return inspectInherited(inherited, role, given).type;
}
