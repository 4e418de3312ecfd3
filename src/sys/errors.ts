// The typed error every libc wrapper throws: syscall, errno name, number and path.
import { getSystemErrorMap } from 'node:util';
import { EDQUOT } from './platform/linux';

let errorMap: Map<number, [string, string]> | undefined;
/** errnos that Node's map lacks (libuv names no such error) and usock's exit statuses tell apart: errno(3). */
const UNNAMED_BY_NODE: Record<number, [string, string]> = { [EDQUOT]: ['EDQUOT', 'Disk quota exceeded'] };

/** Returns [code, message] for a positive errno, e.g. [ 'ENOENT', 'No such file or directory' ]. */
export function describeErrno(errno: number): [string, string] {
  errorMap ??= getSystemErrorMap();
  const entry = errorMap.get(-errno) ?? UNNAMED_BY_NODE[errno];
  if (!entry) return [`E${errno}`, `Unknown error ${errno}`];
  const [code, message] = entry;
  return [code, message.charAt(0).toUpperCase() + message.slice(1)];
}

export class SysError extends Error {
  readonly syscall: string;
  readonly code: string;
  readonly errno: number;
  readonly path?: string;

  constructor(syscall: string, errno: number, path?: string) {
    const [code, text] = describeErrno(errno);
    super(`${syscall}${path === undefined ? '' : ` ${path}`}: ${text} (${code})`);
    this.name = 'SysError';
    this.syscall = syscall;
    this.code = code;
    this.errno = errno;
    if (path !== undefined) this.path = path;
  }
}

/** True when err is a SysError (or a Node system error) with one of the given codes. */
export function hasCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: string }).code ?? '');
}

/**
 * Returns err as a SysError when it is a Node system error (as node:fs throws: its own message,
 * `EACCES: permission denied, lstat '/x'`, is not usock's form): of syscall on path, each taken from
 * the Node error when not given; anything else is returned as it is.
 */
export function asSysError(err: unknown, syscall?: string, path?: string): unknown {
  if (err instanceof SysError || typeof err !== 'object' || err === null) return err;
  const node = err as { errno?: unknown; code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof node.errno !== 'number' || typeof node.code !== 'string' || node.errno === 0) return err;
  const nodePath = typeof node.path === 'string' ? node.path : undefined;
  return new SysError(syscall ?? (typeof node.syscall === 'string' ? node.syscall : 'system call'), Math.abs(node.errno), path ?? nodePath);
}
