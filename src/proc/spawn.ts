// Child processes: `sh -c CMD` or a program with chosen descriptors, their status in shell terms, and the peer's credentials in their environment.
import { spawn, type StdioOptions, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { UsockError } from '../errors';
import { describeErrno } from '../sys/errors';
import { F_GETFL, F_SETFL, O_NONBLOCK } from '../sys/platform/linux';
import { closeQuietly, fcntl, type Ucred } from '../sys/socket';

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

/** A started child and its end. */
export interface Running {
  child: ChildProcess;
  /** Resolves when the child has ended: its shell-style status, and the signal that killed it (null when it exited). */
  ended: Promise<{ status: number; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  stdio: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** Descriptors of this process to close once the child has its copies (or could not start). */
  closeAfter?: number[];
}

/**
 * Starts file with args; resolves once it runs. Rejects with UsockError (FAILURE) when it cannot be
 * started (ENOENT, EACCES...). Closes opts.closeAfter in this process once the child has its copies.
 */
export function start(file: string, args: string[], opts: StartOptions): Promise<Running> {
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: opts.stdio, env: opts.env ?? process.env });
  } finally {
    for (const fd of opts.closeAfter ?? []) closeQuietly(fd);
  }
  const ended = new Promise<{ status: number; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      const [code, text] = err.errno ? describeErrno(-err.errno) : [err.code ?? '', err.message];
      reject(new UsockError(`cannot run ${file}: ${text}${code ? ` (${code})` : ''}`, 'FAILURE'));
    });
    child.on('exit', (code, signal) => resolve({ status: statusOf(code, signal), signal }));
  });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve({ child, ended }));
    ended.catch(reject);
  });
}

/**
 * Starts `sh -c cmd` with fd as its stdin and stdout (made blocking, as programs expect). fd stays open
 * here: the caller closes it once the command has ended (io/drain's drainAndClose, so that a client whose
 * request was not read still gets its reply). Closes fd when the command cannot start.
 */
export async function startShellOn(cmd: string, fd: number, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  try {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return await start('/bin/sh', ['-c', cmd], { stdio: [fd, fd, 'inherit'], env });
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}
