// Child processes: `sh -c CMD` or a program with chosen descriptors, their status in shell terms, and the peer's credentials in their environment.
import { spawn, type StdioOptions, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { UsockError } from '../errors';
import { describeErrno } from '../sys/errors';
import { F_GETFL, F_SETFL, O_NONBLOCK } from '../sys/platform/linux';
import { closeQuietly, fcntl } from '../sys/fd';
import type { Ucred } from '../sys/socket';

/** Returns the environment for a command serving a peer: USOCK_PEER_PID, USOCK_PEER_UID, USOCK_PEER_GID (none when the peer is unknown). */
export function peerEnvironment(peer: Ucred | null): NodeJS.ProcessEnv {
  if (!peer) return { ...process.env };
  return { ...process.env, USOCK_PEER_PID: String(peer.pid), USOCK_PEER_UID: String(peer.uid), USOCK_PEER_GID: String(peer.gid) };
}

/** Returns a shell-style status for a child's end: its code, or 128 + the signal number. */
export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + ((signal && constants.signals[signal]) || 0);
}

/** The variables of socket activation (sd_listen_fds(3)): meant for usock itself, never passed on to a command it runs. */
export const ACTIVATION_VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

/** Returns a copy of env without the ACTIVATION_VARIABLES. */
export function withoutActivation(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of ACTIVATION_VARIABLES) delete out[name];
  return out;
}

/** A started child and its end. */
export interface Running {
  child: ChildProcess;
  /** Resolves when the child has ended: its shell-style status, and the signal that killed it (null when it exited). */
  ended: Promise<{ status: number; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  stdio: StdioOptions;
  /** The child's environment (default usock's), always without usock's own LISTEN_* (see withoutActivation). */
  env?: NodeJS.ProcessEnv;
  /** LISTEN_* of a socket activation that usock itself performs (activate), set after usock's own are removed. */
  activation?: Record<string, string>;
  /** Descriptors of this process to close once the child has its copies (or could not start). */
  closeAfter?: number[];
}

/** A command that could not be started, with the errno name of why (ENOENT, EACCES, EMFILE...). */
export class StartError extends UsockError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message, 'FAILURE');
    this.name = 'StartError';
  }
}

/** The errors of a start that say the process is short of something that frees up (descriptors, processes, memory): try again later. */
const SHORTAGES = ['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM'];

/** True when err says a command could not start for a shortage that passes (EMFILE, ENFILE, EAGAIN, ENOMEM), from start or from creating its descriptors. */
export function isShortage(err: unknown): boolean {
  return SHORTAGES.includes((err as { code?: string } | null)?.code ?? '');
}

/** Returns the StartError for a failed start of file: errno-style errors named in usock's words. */
function startError(file: string, err: NodeJS.ErrnoException): StartError {
  const [code, text] = err.errno ? describeErrno(Math.abs(err.errno)) : [err.code ?? '', err.message];
  return new StartError(`cannot run ${file}: ${text}${code ? ` (${code})` : ''}`, code);
}

/**
 * Starts file with args; resolves once it runs. Rejects with StartError (FAILURE) when it cannot be
 * started (ENOENT, EACCES, EMFILE...: see isShortage). Closes opts.closeAfter in this process once
 * the child has its copies (or could not start).
 */
export function start(file: string, args: string[], opts: StartOptions): Promise<Running> {
  let child: ChildProcess;
  try {
    const env = { ...withoutActivation(opts.env ?? process.env), ...opts.activation };
    child = spawn(file, args, { stdio: opts.stdio, env });
  } catch (err) {
    return Promise.reject(startError(file, err as NodeJS.ErrnoException)); // ENOMEM and the like are thrown, not emitted
  } finally {
    for (const fd of opts.closeAfter ?? []) closeQuietly(fd);
  }
  const ended = new Promise<{ status: number; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(startError(file, err)));
    child.on('exit', (code, signal) => resolve({ status: statusOf(code, signal), signal }));
  });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve({ child, ended }));
    ended.catch(reject);
  });
}

/**
 * Starts `sh -c cmd` with fd (a socket, made blocking, as programs expect) as its stdin and stdout. fd
 * stays open here, the caller's: it closes fd once the command has ended (io/drain's drainAndClose, so
 * that a client whose request was not read still gets its reply), or, when the command cannot start
 * (StartError), closes it or tries again later (isShortage).
 */
export async function startShellOn(cmd: string, fd: number, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return start('/bin/sh', ['-c', cmd], { stdio: [fd, fd, 'inherit'], env });
}
