// One connected socket relayed both ways: what it receives goes to a sink (stdout, or back to itself for an echo), the units a source (stdin) hands it are sent, half-closes passed on.
import { hasCode } from '../sys/errors';
import { FdWatcher } from '../sys/poll';
import { MSG_TRUNC, POLLHUP, SHUT_WR, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../sys/platform/linux';
import {
  WOULD_BLOCK, closeQuietly, pollNow, read, recv, send, seqpacketEnded, setsockoptInt, shutdown, write, type SocketType,
} from '../sys/socket';
import { encodeMessage, type FrameMode } from './framing';
import { newStats, type Diagnostics } from './stats';
import type { Outlet } from './stdio';

const STREAM_CHUNK = 256 * 1024;
/** Reads of one socket in one turn of the event loop, so that no peer starves the others. */
const READS_PER_TURN = 64;
/** Bytes an echoing connection queues before it stops reading its peer. */
const ECHO_HIGH_WATER = 1024 * 1024;
/** How often a connection whose peer half-closed checks whether the peer has gone entirely (no event tells). */
const HANGUP_CHECK_MS = 50;

/** SO_SNDBUF/SO_RCVBUF of stream connections: 1 MiB keeps the bytes in cache between the two copies (4 MiB measured slower). */
const STREAM_SOCKET_BUFFER = 1024 * 1024;

/** Where a connection's received data goes: stdout's FdWriter, or the connection itself when it echoes. */
export interface Sink {
  /** Writes bytes at once where nothing waits before them, queuing a copy of the rest; bytes may be reused afterwards. */
  writeNow(bytes: Buffer): void;
  /** Queues bytes (a copy, unless the sink takes them as they are). */
  push(bytes: Buffer): void;
  /** Writes what can be written now. */
  flush(): void;
  /** True while the sink holds more than it wants: stop reading until drained. */
  readonly full: boolean;
  /** Calls cb once everything queued has been written. */
  whenDrained(cb: () => void): void;
  /** The peer closed its write side: nothing more will come (a pipe passes the half-close on). */
  end?(): void;
}

/** Where a connection's units to send come from: stdin's StdinReader, or the other side of a pipe (io/pipe). */
export interface Source {
  /** The connection starts taking units. */
  addOutlet(outlet: Outlet): void;
  /** The connection takes no more units (it closed, or its peer stopped reading). */
  removeOutlet(outlet: Outlet): void;
  /** The connection sent what it held: the source may produce again. */
  kick(): void;
  /** The connection is done with a unit (sent or dropped). */
  release(unit: Buffer): void;
  /** Stops producing for good. */
  stop(): void;
}

export interface ConnectionOptions {
  type: SocketType;
  /** How a received message is framed for the sink; 'raw' passes it as it is. */
  frame: FrameMode;
  /** The largest message received; larger ones are dropped and reported. */
  maxSize: number;
  diagnostics: Diagnostics;
  /** Where received data goes; null: the connection echoes it back to the peer. */
  sink: Sink | null;
  /** Where units to send come from (stdin, or a pipe's other side); null when nothing but echoes is sent. */
  source: Source | null;
  /** At the source's end keep the write side open (no shutdown(SHUT_WR)): for daemons that drop a client's pending replies at its EOF. */
  noShutdown?: boolean;
}

/** How a connection ended: 'eof' (both directions over, or ended on purpose) or 'error' (err says why). */
export type CloseReason = 'eof' | 'error';

/**
 * Receive buffers shared by every connection, one per size: a read's data leaves the buffer before
 * readSocket returns (written, or copied into a queue), so a thousand connections need one buffer, not
 * a thousand.
 */
const receiveBuffers = new Map<number, Buffer>();

function receiveBuffer(size: number): Buffer {
  let buf = receiveBuffers.get(size);
  if (!buf) receiveBuffers.set(size, (buf = Buffer.allocUnsafe(size)));
  return buf;
}

/** Asks for larger kernel buffers on a stream socket (fewer wake-ups per byte); the kernel caps them, failures are harmless. */
function enlargeBuffers(fd: number): void {
  for (const opt of [SO_SNDBUF, SO_RCVBUF]) {
    try {
      setsockoptInt(fd, SOL_SOCKET, opt, STREAM_SOCKET_BUFFER);
    } catch {
      // keep the default
    }
  }
}

/**
 * A connected socket relayed to a sink and from a source. Finishes when both directions are over:
 * the peer has closed its side (everything received is in the sink) and the source has ended and
 * been sent, or the peer hung up entirely so that nothing more can reach it. An exception in any of
 * its callbacks finishes it with 'error' and touches nothing else. Owns fd and closes it.
 */
export class Connection implements Outlet {
  readonly watcher: FdWatcher;
  readonly stats = newStats();
  private readonly sink: Sink;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private offset = 0; // bytes of queue[0] already sent (stream)
  private ending = false;
  private writeShut = false;
  private inputDone = false;
  private readPaused = false;
  private finished = false;
  /** Set when a send failed because the peer is gone; units still queued are then undeliverable. */
  sendError: Error | null = null;
  /** Set when the peer reset the connection (it closed with our data unread, e.g. an access rule rejected us). */
  reset = false;
  /** Called for every message received (a dgram client re-arms its reply timer; -c counts). */
  onMessage: () => void = () => {};
  /** When data last moved either way (ms since the epoch): for idle timeouts. */
  lastActive = Date.now();
  private hangupCheck: NodeJS.Timeout | null = null;
  private sentWaiters: Array<() => void> = [];

  constructor(
    readonly fd: number,
    private readonly opts: ConnectionOptions,
    private readonly onFinish: (conn: Connection, reason: CloseReason, err?: Error) => void,
  ) {
    this.watcher = new FdWatcher(fd, (err) => this.finish('error', err as Error));
    this.sink = opts.sink ?? this.echoSink();
    if (opts.type === 'stream') enlargeBuffers(fd);
  }

  /** True while units wait to be sent. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Returns the bytes waiting to be sent. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** True once the connection is closed (finished or closed on purpose): it takes no more units. */
  get closed(): boolean {
    return this.finished;
  }

  /** Starts reading the socket and, with a source, taking its units; without a source or an echo there is nothing to send, so its side ends at once. */
  start(): void {
    this.watcher.onReadable(() => this.readSocket());
    if (this.opts.source) this.opts.source.addOutlet(this);
    else if (this.opts.sink) this.end();
  }

  /** Queues a unit to send (the source's; it is released once sent or dropped). */
  accept(unit: Buffer): void {
    if (this.writeShut || this.sendError || this.finished) {
      this.stats.dropped++;
      this.opts.source?.release(unit);
      return;
    }
    this.enqueue(unit);
    this.flushQueue();
  }

  /** No more units: shut down the write side once the queue is sent. */
  end(): void {
    this.ending = true;
    this.flushQueue();
  }

  /** Calls cb once every queued unit has been sent, or dropped by a close (at once when none is queued). */
  whenSent(cb: () => void): void {
    if (this.queue.length === 0) cb();
    else this.sentWaiters.push(cb);
  }

  /** Ends the connection as if the peer had closed: the finish callback runs once the sink is drained. */
  finishNow(): void {
    this.finish('eof');
  }

  /** Stops everything and closes the socket; no callback. */
  close(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.hangupCheck) clearInterval(this.hangupCheck);
    this.releaseQueue();
    this.opts.source?.removeOutlet(this);
    this.watcher.close();
    closeQuietly(this.fd);
    const waiters = this.sentWaiters; // their units are dropped: nothing is left to wait for
    this.sentWaiters = [];
    for (const cb of waiters) cb();
  }

  /** The sink of an echoing connection: what it receives is sent back, and it stops reading while too much waits. */
  private echoSink(): Sink {
    const self = this;
    const sendCopy = (bytes: Buffer) => {
      if (self.finished || self.writeShut) return;
      if (self.queue.length === 0) {
        const n = self.sendUnit(bytes, 0);
        if (n === bytes.length && self.opts.type === 'stream') return;
        if (n !== WOULD_BLOCK && self.opts.type !== 'stream') return;
        if (n !== WOULD_BLOCK) bytes = bytes.subarray(n);
      }
      self.enqueue(Buffer.from(bytes));
      self.watcher.onWritable(() => self.flushQueue());
    };
    return {
      writeNow: sendCopy,
      push: sendCopy,
      flush: () => {},
      get full() {
        return self.queuedBytes >= ECHO_HIGH_WATER;
      },
      whenDrained: (cb) => self.whenSent(cb),
    };
  }

  private enqueue(unit: Buffer): void {
    this.queue.push(unit);
    this.queuedBytes += unit.length;
  }

  /** Sends unit from offset (stream) or whole (messages); returns the bytes sent or WOULD_BLOCK, counted in stats. Throws SysError. */
  private sendUnit(unit: Buffer, offset: number): number | typeof WOULD_BLOCK {
    if (this.opts.type === 'stream') {
      const n = write(this.fd, offset ? unit.subarray(offset) : unit);
      if (n !== WOULD_BLOCK) this.stats.bytesOut += n;
      return n;
    }
    const n = send(this.fd, unit);
    if (n !== WOULD_BLOCK) {
      this.stats.bytesOut += n;
      this.stats.messagesOut++;
    }
    return n;
  }

  /** Empties the queue, handing its units back to the source. */
  private releaseQueue(): void {
    for (const unit of this.queue) this.opts.source?.release(unit);
    this.queue = [];
    this.queuedBytes = 0;
    this.offset = 0;
  }

  private dequeue(): void {
    const unit = this.queue.shift()!;
    this.queuedBytes -= unit.length;
    this.offset = 0;
    this.opts.source?.release(unit);
  }

  private flushQueue(): void {
    if (this.finished) return;
    try {
      while (this.queue.length) {
        const unit = this.queue[0]!;
        const n = this.sendUnit(unit, this.offset);
        if (n === WOULD_BLOCK) return this.waitWritable();
        this.lastActive = Date.now();
        if (this.opts.type === 'stream' && this.offset + n < unit.length) {
          this.offset += n;
          continue;
        }
        this.dequeue();
      }
    } catch (err) {
      if (hasCode(err, 'EMSGSIZE', 'ENOBUFS')) {
        this.stats.refused++;
        this.opts.diagnostics.warn('send-failed', `message of ${this.queue[0]!.length} bytes not sent: ${(err as Error).message}`);
        this.dequeue();
        return this.flushQueue();
      }
      return this.sendFailed(err as Error);
    }
    this.watcher.onWritable(null);
    const waiters = this.sentWaiters;
    this.sentWaiters = [];
    for (const cb of waiters) cb();
    if (this.ending && !this.writeShut) {
      this.writeShut = true;
      if (this.opts.type !== 'dgram' && !this.opts.noShutdown) {
        try {
          shutdown(this.fd, SHUT_WR);
        } catch {
          // already disconnected
        }
      }
      if (this.inputDone) return this.finish('eof');
    }
    this.opts.source?.kick();
  }

  /**
   * The peer stopped taking data (EPIPE, ECONNRESET; for dgram ECONNREFUSED or ENOENT: it is gone).
   * What it sent before is still to be read: a stream or seqpacket connection finishes after the
   * peer's EOF; a datagram peer sends no EOF, so what is queued is read at once and the connection finishes.
   */
  private sendFailed(err: Error): void {
    this.sendError = err;
    this.stats.dropped += this.queue.length;
    this.releaseQueue();
    this.watcher.onWritable(null);
    this.opts.source?.removeOutlet(this);
    if (this.opts.type === 'dgram') {
      this.opts.source?.stop();
      this.readSocket();
      return this.finish('eof');
    }
    if (this.inputDone) this.finish('eof');
  }

  private waitWritable(): void {
    this.watcher.onWritable(() => this.flushQueue());
    this.opts.source?.kick();
  }

  private readSocket(): void {
    if (this.finished) return;
    const sink = this.sink;
    try {
      for (let i = 0; i < READS_PER_TURN; i++) {
        if (sink.full) return this.pauseForSink();
        if (this.opts.type === 'stream') {
          const buf = receiveBuffer(STREAM_CHUNK);
          const n = read(this.fd, buf);
          if (n === WOULD_BLOCK) break;
          if (n === 0) return this.peerEnded();
          this.stats.bytesIn += n;
          this.lastActive = Date.now();
          sink.writeNow(buf.subarray(0, n));
          if (n < buf.length) break; // drained: the level-triggered poll calls again
        } else {
          const buf = receiveBuffer(this.opts.maxSize);
          const n = recv(this.fd, buf, MSG_TRUNC);
          if (n === WOULD_BLOCK) break;
          if (n === 0 && this.opts.type === 'seqpacket' && seqpacketEnded(this.fd)) return this.peerEnded();
          this.takeMessage(buf, n);
        }
      }
    } catch (err) {
      if (hasCode(err, 'ECONNRESET')) {
        this.reset = true; // nothing more to read or to send
        return this.finish('eof');
      }
      if (this.opts.type === 'dgram' && hasCode(err, 'ECONNREFUSED')) return; // a send of ours was refused: sendFailed ends it
      return this.finish('error', err as Error);
    } finally {
      sink.flush();
    }
  }

  private takeMessage(buf: Buffer, n: number): void {
    if (n > buf.length) {
      this.stats.oversize++;
      this.opts.diagnostics.warn('oversize', `received message of ${n} bytes exceeds --max-size ${this.opts.maxSize}: dropped`, { length: n });
      return;
    }
    this.stats.messagesIn++;
    this.stats.bytesIn += n;
    this.lastActive = Date.now();
    for (const piece of encodeMessage(this.opts.frame, buf.subarray(0, n))) this.sink.push(piece);
    this.onMessage();
  }

  private pauseForSink(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.watcher.onReadable(null);
    this.sink.whenDrained(() => {
      this.readPaused = false;
      if (!this.finished && !this.inputDone) this.watcher.onReadable(() => this.readSocket());
    });
  }

  /**
   * The peer closed its write side: an echo ends its own side once everything is sent back; otherwise
   * finish now if our side is over too or the peer hung up entirely, else keep sending the source's
   * units, and finish as soon as the peer closes entirely (a lingering close: shutdown, then close).
   */
  private peerEnded(): void {
    this.inputDone = true;
    this.watcher.onReadable(null);
    if (this.opts.sink === null) return this.end();
    this.sink.end?.();
    if (this.hungUp() || this.writeShut || this.sendError) return this.finish('eof');
    // The socket stays readable (at EOF) and writable: no event says when the peer closes; look every 50 ms.
    this.hangupCheck = setInterval(() => {
      if (this.hungUp()) this.finish('eof');
    }, HANGUP_CHECK_MS);
  }

  /** True when the peer has closed entirely: nothing more can be sent (POLLHUP). */
  private hungUp(): boolean {
    return (pollNow(this.fd, POLLHUP) & POLLHUP) !== 0;
  }

  private finish(reason: CloseReason, err?: Error): void {
    if (this.finished) return;
    this.close();
    this.sink.whenDrained(() => this.onFinish(this, reason, err));
  }
}
