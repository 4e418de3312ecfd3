// --exec: run `sh -c CMD` with its stdin and stdout on a connection and the peer's credentials in its environment.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { EXIT } from './errors';
import { F_GETFL, F_SETFL, O_NONBLOCK } from './sys/platform/linux';
import { closeQuietly, fcntl, type Ucred } from './sys/socket';

/** Returns the environment for a command serving a peer: USOCK_PEER_PID, USOCK_PEER_UID, USOCK_PEER_GID. */
export function peerEnvironment(peer: Ucred | null): NodeJS.ProcessEnv {
  if (!peer) return { ...process.env };
  return { ...process.env, USOCK_PEER_PID: String(peer.pid), USOCK_PEER_UID: String(peer.uid), USOCK_PEER_GID: String(peer.gid) };
}

/** Returns a shell-style status for a child's end: its code, or 128 + the signal number. */
export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + ((signal && constants.signals[signal]) || 0);
}

/**
 * Runs `sh -c cmd` with fd as its stdin and stdout (made blocking, as programs expect); returns its status.
 * Closes fd in this process once the child has its copy.
 */
export function runOnConnection(cmd: string, fd: number, peer: Ucred | null): Promise<number> {
  try {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: [fd, fd, 'inherit'], env: peerEnvironment(peer) });
    return new Promise((resolve) => {
      child.on('error', () => resolve(EXIT.FAILURE));
      child.on('exit', (code, signal) => resolve(statusOf(code, signal)));
    });
  } finally {
    closeQuietly(fd);
  }
}
