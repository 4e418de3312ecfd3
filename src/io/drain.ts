// Closing a socket without a reset: shut down our side, read and discard what the peer still sends until it closes (bounded), then close.
import { FdWatcher } from '../sys/poll';
import { F_GETFL, F_SETFL, O_NONBLOCK, SHUT_WR } from '../sys/platform/linux';
import { closeQuietly, fcntl, read, WOULD_BLOCK } from '../sys/fd';
import { shutdown } from '../sys/socket';
import { setLongTimeout } from './timer';

const DISCARD = Buffer.allocUnsafe(64 * 1024);

/**
 * Shuts down fd's write side (the peer reads EOF after all that was written), then reads and discards
 * what the peer still sends until it closes or `seconds` pass, then closes fd. Closing a socket with
 * unread data makes the kernel send a reset, which can destroy a reply the peer has not read yet (curl:
 * "connection reset"); this never does. Resolves once fd is closed; never rejects. Owns fd.
 */
export function drainAndClose(fd: number, seconds: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      timer.clear();
      watcher.close();
      closeQuietly(fd);
      resolve();
    };
    const watcher = new FdWatcher(fd, finish);
    const timer = setLongTimeout(finish, seconds * 1000);
    try {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      shutdown(fd, SHUT_WR);
    } catch {
      return finish(); // the peer is gone already
    }
    watcher.onReadable(() => {
      for (;;) {
        let n: number | typeof WOULD_BLOCK;
        try {
          n = read(fd, DISCARD);
        } catch {
          return finish();
        }
        if (n === WOULD_BLOCK) return;
        if (n === 0) return finish();
      }
    });
  });
}
