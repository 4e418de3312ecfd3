// Readiness of a descriptor on the event loop: one libuv poll handle per fd (koffi.node.poll).
import { lib } from './libc';

type Ready = () => void;

let probeEpoll = -1;

/** True when epoll can watch fd (sockets, pipes, ttys); false for regular files, /dev/null and closed fds. */
export function isPollable(fd: number): boolean {
  const c = lib();
  if (probeEpoll < 0) probeEpoll = c.epoll_create1(0o2000000);
  const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
  const event = Buffer.alloc(12);
  event.writeUInt32LE(1, 0);
  if (c.epoll_ctl(probeEpoll, EPOLL_CTL_ADD, fd, event) < 0) return false;
  c.epoll_ctl(probeEpoll, EPOLL_CTL_DEL, fd, event);
  return true;
}
interface PollHandle { start(opts: object, cb: (status: number, ev: unknown) => void): void; stop(): void; close(): void }

/**
 * Calls back when fd is readable or writable. A descriptor epoll cannot watch (a regular file,
 * /dev/null) counts as always ready, since I/O on it never waits. Owns its poll handle, not the fd.
 */
export class FdWatcher {
  readonly fd: number;
  private handle: PollHandle | null = null;
  private pollable = true;
  private reader: Ready | null = null;
  private writer: Ready | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  private events = 0; // what the poll handle watches now: 1 readable, 2 writable

  /** onFault gets an exception thrown by a callback (the owner closes what failed); without it the exception reaches the process's handler. */
  constructor(fd: number, private readonly onFault?: (err: unknown) => void) {
    this.fd = fd;
  }

  /** Calls cb once fd is readable (level-triggered: again while it stays so); null stops. */
  onReadable(cb: Ready | null): void {
    this.reader = cb;
    this.update();
  }

  /** Calls cb once fd is writable; null stops. */
  onWritable(cb: Ready | null): void {
    this.writer = cb;
    this.update();
  }

  /** Stops watching for good; closes the poll handle (the caller closes the fd after this). */
  close(): void {
    this.closed = true;
    this.reader = this.writer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.handle?.close();
    this.handle = null;
  }

  private update(): void {
    if (this.closed) return;
    const readable = this.reader !== null;
    const writable = this.writer !== null;
    if (this.pollable && !this.handle && (readable || writable)) {
      // koffi aborts the process when libuv refuses a descriptor, so ask epoll first.
      this.pollable = isPollable(this.fd);
    }
    if (this.pollable && !this.handle && (readable || writable)) {
      try {
        this.handle = (lib().koffi.node.poll as Function)(this.fd, { readable, writable }, (status: number, ev: any) =>
          this.fire(status < 0 || ev.readable || ev.disconnect, status < 0 || ev.writable),
        ) as unknown as PollHandle;
        this.events = (readable ? 1 : 0) | (writable ? 2 : 0);
        return;
      } catch {
        this.pollable = false;
      }
    }
    if (!this.pollable) {
      if ((readable || writable) && !this.immediate) this.immediate = setImmediate(() => {
        this.immediate = null;
        this.fire(true, true);
        this.update();
      });
      return;
    }
    if (!this.handle) return;
    // Restarting a handle costs an epoll_ctl; the callbacks are looked up at each event anyway.
    const events = (readable ? 1 : 0) | (writable ? 2 : 0);
    if (events === this.events) return;
    this.events = events;
    if (readable || writable) {
      this.handle.start({ readable, writable }, (status: number, ev: any) =>
        this.fire(status < 0 || ev.readable || ev.disconnect, status < 0 || ev.writable));
    } else {
      this.handle.stop();
    }
  }

  private fire(readable: boolean, writable: boolean): void {
    try {
      if (readable && this.reader) this.reader();
      if (writable && this.writer) this.writer();
    } catch (err) {
      // An exception must not unwind into koffi's libuv callback (the handle would go on firing
      // without reaching JavaScript): hand it to the owner, or rethrow it where process
      // 'uncaughtException' sees it.
      try {
        if (!this.onFault) throw err;
        this.onFault(err);
      } catch (fault) {
        setImmediate(() => {
          throw fault;
        });
      }
    }
  }
}

/** Resolves once fd is writable (at once for a descriptor epoll cannot watch). */
export function whenWritable(fd: number): Promise<void> {
  return new Promise((resolve) => {
    const watcher = new FdWatcher(fd);
    watcher.onWritable(() => {
      watcher.close();
      resolve();
    });
  });
}
