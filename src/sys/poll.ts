// Readiness of a descriptor on the event loop: one libuv poll handle per fd, driven through libuv's own functions (libc.ts uv()), or koffi.node.poll where those are missing.
import { lib, uv, type Uv } from './libc';
import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLLIN } from './platform/linux';

type Ready = () => void;
/** A poll handle's event: status (negative: an error) and libuv's event bits. */
type OnEvent = (status: number, events: number) => void;

const UV_READABLE = 1;
const UV_WRITABLE = 2;
const UV_DISCONNECT = 4;

let probeEpoll = -1;

/** True when epoll can watch fd (sockets, pipes, ttys); false for regular files, /dev/null and closed fds. */
export function isPollable(fd: number): boolean {
  const c = lib();
  if (probeEpoll < 0) probeEpoll = c.epoll_create1(EPOLL_CLOEXEC);
  const event = Buffer.alloc(12); // struct epoll_event: events, then 8 bytes of data
  event.writeUInt32LE(EPOLLIN, 0);
  if (c.epoll_ctl(probeEpoll, EPOLL_CTL_ADD, fd, event) < 0) return false;
  c.epoll_ctl(probeEpoll, EPOLL_CTL_DEL, fd, event);
  return true;
}

/** A started poll handle: start again with other events (UV_READABLE | UV_WRITABLE), stop, close for good. */
interface Poller {
  start(events: number): void;
  stop(): void;
  close(): void;
}

/** Returned where libuv will not watch the descriptor (epoll refuses regular files and /dev/null). */
const REFUSED = Symbol('refused');

/** What watches descriptors in this thread: libuv's functions called straight, or koffi.node.poll. */
export function pollBackend(): 'libuv' | 'koffi' {
  return uv() ? 'libuv' : 'koffi';
}

/** The handlers of the handles started through uv(), by handle address: one registered callback serves them all. */
const uvHandlers = new Map<number, OnEvent>();
let uvCallbacks: { poll: unknown; close: unknown } | null = null;

/**
 * Returns fd's poll handle, started for events, with onEvent called at each event; REFUSED where
 * libuv will not watch fd. Throws where libuv fails otherwise. The handle is the caller's to close,
 * the fd is not.
 */
function openPoller(fd: number, events: number, onEvent: OnEvent): Poller | typeof REFUSED {
  const u = uv();
  return u ? uvPoller(u, fd, events, onEvent) : koffiPoller(fd, events, onEvent);
}

/** openPoller through libuv's own functions: a uv_poll_t of libc memory, freed by uv_close's callback. */
function uvPoller(u: Uv, fd: number, events: number, onEvent: OnEvent): Poller | typeof REFUSED {
  const c = lib();
  uvCallbacks ??= {
    poll: c.koffi.register((handle: number, status: number, bits: number) => uvHandlers.get(handle)?.(status, bits), u.pollCb as never),
    close: c.koffi.register((handle: number) => c.free(handle), u.closeCb as never),
  };
  const { poll, close } = uvCallbacks;
  const handle = c.malloc(u.pollSize) as number;
  if (!handle) throw new Error('cannot watch a descriptor: out of memory');
  if (u.pollInit(handle, fd) < 0) {
    // libuv asked epoll, which refused fd
    c.free(handle);
    return REFUSED;
  }
  const start = (bits: number) => {
    const status = u.pollStart(handle, bits, poll);
    if (status < 0) throw new Error(`cannot watch descriptor ${fd}: libuv error ${status}`);
  };
  uvHandlers.set(handle, onEvent);
  try {
    start(events);
  } catch (err) {
    uvHandlers.delete(handle);
    u.close(handle, close);
    throw err;
  }
  return {
    start,
    stop: () => void u.pollStop(handle),
    close: () => {
      uvHandlers.delete(handle);
      u.close(handle, close);
    },
  };
}

/** The events koffi.node.poll reports, and asks for when a handle starts. */
interface KoffiPollEvents {
  readable?: boolean;
  writable?: boolean;
  disconnect?: boolean;
}
type KoffiPollCallback = (status: number, ev: KoffiPollEvents) => void;
interface KoffiPollHandle {
  start(opts: KoffiPollEvents, cb: KoffiPollCallback): void;
  stop(): void;
  close(): void;
}
/** koffi.node.poll(fd, events, cb): koffi's own libuv poll handle; its callback gets (status, events), though koffi's declarations omit status. */
type KoffiPoll = (fd: number, opts: KoffiPollEvents, cb: KoffiPollCallback) => KoffiPollHandle;

/** openPoller through koffi.node.poll, which aborts the process when libuv refuses a descriptor: epoll is asked first. */
function koffiPoller(fd: number, events: number, onEvent: OnEvent): Poller | typeof REFUSED {
  if (!isPollable(fd)) return REFUSED;
  const cb: KoffiPollCallback = (status, ev) =>
    onEvent(status, (ev.readable ? UV_READABLE : 0) | (ev.writable ? UV_WRITABLE : 0) | (ev.disconnect ? UV_DISCONNECT : 0));
  const opts = (bits: number) => ({ readable: (bits & UV_READABLE) !== 0, writable: (bits & UV_WRITABLE) !== 0 });
  const handle = (lib().koffi.node.poll as unknown as KoffiPoll)(fd, opts(events), cb);
  return {
    start: (bits) => handle.start(opts(bits), cb),
    stop: () => handle.stop(),
    close: () => handle.close(),
  };
}

/**
 * Calls back when fd is readable or writable. A descriptor epoll cannot watch (a regular file,
 * /dev/null) counts as always ready, since I/O on it never waits. Owns its poll handle, not the fd.
 */
export class FdWatcher {
  readonly fd: number;
  private poller: Poller | null = null;
  private pollable = true;
  private reader: Ready | null = null;
  private writer: Ready | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  private events = 0; // what the poll handle watches now: UV_READABLE | UV_WRITABLE
  private readonly onEvent: OnEvent = (status, events) => {
    if (status >= 0) return this.fire((events & (UV_READABLE | UV_DISCONNECT)) !== 0, (events & UV_WRITABLE) !== 0);
    // An error (POLLERR: the peer closed with our data unread) stops libuv's handle before this call:
    // the callbacks run, then whatever they still wait for is watched again (else it would never fire).
    this.events = 0;
    this.fire(true, true);
    this.update();
  };

  /** onFault gets an exception thrown by a callback (the owner closes what failed); without it the exception reaches the process's handler. */
  constructor(
    fd: number,
    private readonly onFault?: (err: unknown) => void,
  ) {
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
    this.poller?.close();
    this.poller = null;
  }

  private update(): void {
    if (this.closed) return;
    const events = (this.reader ? UV_READABLE : 0) | (this.writer ? UV_WRITABLE : 0);
    if (this.pollable && !this.poller && events) {
      let poller: Poller | typeof REFUSED;
      try {
        poller = openPoller(this.fd, events, this.onEvent);
      } catch {
        poller = REFUSED;
      }
      if (poller !== REFUSED) {
        this.poller = poller;
        this.events = events;
        return;
      }
      this.pollable = false;
    }
    if (!this.pollable) {
      if (events && !this.immediate)
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.fire(true, true);
          this.update();
        });
      return;
    }
    // Restarting a handle costs an epoll_ctl; the callbacks are looked up at each event anyway.
    if (!this.poller || events === this.events) return;
    this.events = events;
    if (events) this.poller.start(events);
    else this.poller.stop();
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
