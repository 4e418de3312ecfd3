// One connected socket relayed both ways: what it receives goes to a sink (stdout, or back to itself for an echo), the units a source (stdin) hands it are sent, half-closes passed on; with `descriptors`, SCM_RIGHTS descriptors travel with their units.
import { hasCode } from '../sys/errors';
import { sendWithDescriptors } from '../sys/msg';
import { FdWatcher } from '../sys/poll';
import { MSG_TRUNC, POLLHUP, SHUT_WR } from '../sys/platform/linux';
import { WOULD_BLOCK, closeQuietly, pollNow, read, write } from '../sys/fd';
import { recv, send, seqpacketEnded, shutdown } from '../sys/socket';
import type { Ancillary, CloseReason, ConnectionOptions, Sink } from './flow';
import { encodeMessage } from './framing';
import { ancillaryOf, enlargeBuffers, receiveBuffer, receiveReader, STREAM_CHUNK } from './receive';
import { newStats } from './stats';
import type { Outlet } from './stdio';

/** Reads of one socket in one turn of the event loop, so that no peer starves the others. */
const READS_PER_TURN = 64;
/** Bytes an echoing connection queues before it stops reading its peer. */
const ECHO_HIGH_WATER = 1024 * 1024;
/** How often a connection whose peer half-closed checks whether the peer has gone entirely (no event tells). */
const HANGUP_CHECK_MS = 50;

/** The errors of a sendmsg that refuse the descriptors rather than the bytes: the bytes go on without them. */
const DESCRIPTORS_REFUSED = ['ETOOMANYREFS', 'EPERM', 'EACCES'];

/**
 * A connected socket relayed to a sink and from a source. Finishes when both directions are over:
 * the peer has closed its side (everything received is in the sink) and the source has ended and
 * been sent, or the peer hung up entirely so that nothing more can reach it. An exception in any of
 * its callbacks finishes it with 'error' and touches nothing else. Owns fd and closes it, and the
 * descriptors of the units it holds (closed once sent or dropped).
 */
export class Connection implements Outlet {
  readonly watcher: FdWatcher;
  readonly stats = newStats();
  private readonly sink: Sink;
  private queue: Buffer[] = [];
  /** The descriptors to send with queued units (only units that carry some). */
  private readonly unitFds = new Map<Buffer, readonly number[]>();
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
  /** When the peer's data last arrived, or reading last resumed after a pause, or the source's end was sent (ms since the epoch). */
  private quietSince = 0;
  /** Pending while the write side waits for the peer to be quiet (shutdownDelayMs). */
  private shutdownTimer: NodeJS.Timeout | null = null;
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

  /**
   * Queues a unit to send (the source's; it is released once sent or dropped), with fds (owned by the
   * connection from now on: closed once sent with the unit, or when the unit is dropped).
   */
  accept(unit: Buffer, fds?: readonly number[]): void {
    if (this.writeShut || this.sendError || this.finished) {
      this.stats.dropped++;
      if (fds?.length) this.dropDescriptors(fds, this.sendError ? this.sendError.message : this.finished ? 'the connection is closed' : 'its write side is shut');
      this.opts.source?.release(unit);
      return;
    }
    if (fds?.length) this.unitFds.set(unit, fds);
    this.enqueue(unit);
    this.flushQueue();
  }

  /**
   * Sends bytes, a view of a buffer its owner reuses after this call (a shared receive buffer), as a
   * unit: at once as far as the socket takes it, and a copy of the rest is queued. Without descriptors.
   */
  acceptView(bytes: Buffer): void {
    if (this.queue.length > 0 || this.writeShut || this.sendError || this.finished) return this.accept(Buffer.from(bytes));
    this.enqueue(bytes);
    this.flushQueue();
    if (this.queue[0] !== bytes) return; // sent (or dropped by a failure)
    this.queue[0] = Buffer.from(bytes.subarray(this.offset));
    this.queuedBytes -= this.offset;
    this.offset = 0;
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
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
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

  /** Sends unit from offset (stream) or whole (messages), with its descriptors on its first send; returns the bytes sent or WOULD_BLOCK, counted in stats. Throws SysError. */
  private sendUnit(unit: Buffer, offset: number): number | typeof WOULD_BLOCK {
    if (this.unitFds.size > 0 && offset === 0) {
      const fds = this.unitFds.get(unit);
      if (fds) return this.sendWithFds(unit, fds);
    }
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

  /**
   * Sends unit whole with fds attached (SCM_RIGHTS: on a stream the kernel keeps them with the first
   * byte sent, however much of the unit goes); once sent, the connection's copies are closed. When the
   * kernel refuses the descriptors (not the bytes), they are dropped and the unit is sent without them.
   * Returns the bytes sent or WOULD_BLOCK (fds kept for the next try). Throws SysError.
   */
  private sendWithFds(unit: Buffer, fds: readonly number[]): number | typeof WOULD_BLOCK {
    let n: number | typeof WOULD_BLOCK;
    try {
      n = sendWithDescriptors(this.fd, unit, fds);
    } catch (err) {
      if (!hasCode(err, ...DESCRIPTORS_REFUSED)) throw err;
      this.unitFds.delete(unit);
      this.dropDescriptors(fds, `refused by the kernel: ${(err as Error).message}`);
      return this.sendUnit(unit, 0);
    }
    if (n === WOULD_BLOCK) return n;
    this.unitFds.delete(unit);
    for (const fd of fds) closeQuietly(fd);
    this.stats.bytesOut += n;
    if (this.opts.type !== 'stream') this.stats.messagesOut++;
    return n;
  }

  /** Reports descriptors that will not be passed on (onDescriptorsDropped, or a warning without it), then closes them. */
  private dropDescriptors(fds: readonly number[], reason: string, outgoing = true): void {
    try {
      if (this.opts.onDescriptorsDropped) this.opts.onDescriptorsDropped(fds, reason, outgoing);
      else this.opts.diagnostics.warn('fds-dropped', `${fds.length} descriptor${fds.length === 1 ? '' : 's'} closed, not passed on: ${reason}`, { fds: fds.length });
    } finally {
      for (const fd of fds) closeQuietly(fd);
    }
  }

  /** Drops the descriptors of a unit leaving the queue unsent, saying why. */
  private dropUnitFds(unit: Buffer, reason: string): void {
    const fds = this.unitFds.get(unit);
    if (!fds) return;
    this.unitFds.delete(unit);
    this.dropDescriptors(fds, reason);
  }

  /** Empties the queue, handing its units back to the source (descriptors still attached are dropped, with reason). */
  private releaseQueue(reason = 'the connection is closed'): void {
    if (this.unitFds.size > 0) for (const unit of this.queue) this.dropUnitFds(unit, reason);
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
        this.dropUnitFds(this.queue[0]!, `their message was not sent: ${(err as Error).message}`);
        this.dequeue();
        return this.flushQueue();
      }
      return this.sendFailed(err as Error);
    }
    this.watcher.onWritable(null);
    this.callSentWaiters();
    if (this.ending && !this.writeShut && !this.shutdownTimer) {
      const delay = this.opts.shutdownDelayMs ?? 0;
      if (delay > 0 && !this.inputDone && this.opts.type !== 'dgram' && !this.opts.noShutdown) {
        this.quietSince = Date.now();
        this.shutdownTimer = setTimeout(() => this.shutDownWhenQuiet(), delay);
        return;
      }
      return this.shutDownWrite();
    }
    this.opts.source?.kick();
  }

  /** Everything is sent: shuts the write side down (dgram and noShutdown: only marks it), and finishes when the peer's side is over too. */
  private shutDownWrite(): void {
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    this.shutdownTimer = null;
    this.writeShut = true;
    if (this.opts.type !== 'dgram' && !this.opts.noShutdown) {
      try {
        shutdown(this.fd, SHUT_WR);
      } catch {
        // already disconnected
      }
    }
    if (this.inputDone) this.finish('eof');
  }

  /** Shuts the write side down once the peer has been quiet for shutdownDelayMs while being read; looks again until then. */
  private shutDownWhenQuiet(): void {
    this.shutdownTimer = null;
    if (this.finished || this.writeShut) return;
    const delay = this.opts.shutdownDelayMs!;
    const now = Date.now();
    // Reading paused for a full sink (a slow stdout): the peer may be sending, so that is not quiet.
    const left = this.readPaused ? delay : this.quietSince + delay - now;
    if (left > 0) {
      this.shutdownTimer = setTimeout(() => this.shutDownWhenQuiet(), left);
      return;
    }
    this.shutDownWrite();
  }

  /**
   * The peer stopped taking data (EPIPE, ECONNRESET; for dgram ECONNREFUSED or ENOENT: it is gone).
   * What it sent before is still to be read: a stream or seqpacket connection finishes after the
   * peer's EOF; a datagram peer sends no EOF, so what is queued is read at once and the connection finishes.
   */
  private sendFailed(err: Error): void {
    this.sendError = err;
    this.stats.dropped += this.queue.length;
    this.releaseQueue(err.message);
    this.watcher.onWritable(null);
    this.opts.source?.removeOutlet(this);
    // An echo has no one left to send to; its reading may be paused on its own queue, which no send will empty now.
    if (this.opts.sink === null) return this.finish('eof');
    this.callSentWaiters();
    if (this.opts.type === 'dgram') {
      this.opts.source?.stop();
      this.readSocket();
      return this.finish('eof');
    }
    if (this.inputDone) this.finish('eof');
  }

  /** Calls the whenSent callbacks: the queue is empty (sent, or dropped by a failure). */
  private callSentWaiters(): void {
    if (this.sentWaiters.length === 0) return;
    const waiters = this.sentWaiters;
    this.sentWaiters = [];
    for (const cb of waiters) cb();
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
        if (this.opts.descriptors) {
          if (!this.readWithAncillary()) break;
        } else if (this.opts.type === 'stream') {
          const buf = receiveBuffer(STREAM_CHUNK);
          const n = read(this.fd, buf);
          if (n === WOULD_BLOCK) break;
          if (n === 0) return this.peerEnded();
          this.stats.bytesIn += n;
          this.lastActive = this.quietSince = Date.now();
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

  /**
   * One receive of a connection with `descriptors` (recvmsg into the shared buffer, with room for
   * SCM_MAX_FD descriptors): the unit goes to the sink with its ancillary data. Returns false when the
   * socket is drained or its peer ended. Throws SysError.
   */
  private readWithAncillary(): boolean {
    const stream = this.opts.type === 'stream';
    const reader = receiveReader(stream ? STREAM_CHUNK : this.opts.maxSize);
    const n = reader.receive(this.fd, stream ? 0 : MSG_TRUNC);
    if (n === WOULD_BLOCK) return false;
    const anc = ancillaryOf(reader);
    // A descriptor needs a byte on a stream, but a seqpacket message of 0 bytes may carry some.
    if (n === 0 && !anc && (stream || (this.opts.type === 'seqpacket' && seqpacketEnded(this.fd)))) {
      this.peerEnded();
      return false;
    }
    if (stream) {
      this.stats.bytesIn += n;
      this.lastActive = this.quietSince = Date.now();
      this.deliver(reader.data.subarray(0, n), anc);
      // A short read means drained (the level-triggered poll calls again), unless descriptors cut it short.
      return n === reader.data.length || anc !== undefined;
    }
    this.takeMessage(reader.data, n, anc);
    return true;
  }

  /** Hands bytes and their ancillary data (if any) to the sink; a sink that cannot take descriptors gets the bytes, the descriptors are dropped. */
  private deliver(bytes: Buffer, anc: Ancillary | undefined, queue = false): void {
    if (!anc) return queue ? this.sink.push(bytes) : this.sink.writeNow(bytes);
    if (this.sink.takeAncillary) return this.sink.takeAncillary(bytes, anc);
    if (anc.fds.length) this.dropDescriptors(anc.fds, 'this connection does not pass descriptors on', false);
    if (queue) this.sink.push(bytes);
    else this.sink.writeNow(bytes);
  }

  private takeMessage(buf: Buffer, n: number, anc?: Ancillary): void {
    if (n > buf.length) {
      this.stats.oversize++;
      this.opts.diagnostics.warn('oversize', `received message of ${n} bytes exceeds --max-size ${this.opts.maxSize}: dropped`, { length: n });
      if (anc?.fds.length) this.dropDescriptors(anc.fds, `their message of ${n} bytes exceeds --max-size ${this.opts.maxSize}`, false);
      return;
    }
    this.stats.messagesIn++;
    this.stats.bytesIn += n;
    this.lastActive = this.quietSince = Date.now();
    const pieces = encodeMessage(this.opts.frame, buf.subarray(0, n));
    // The descriptors go with the first piece (the message itself when raw).
    for (let i = 0; i < pieces.length; i++) this.deliver(pieces[i]!, i === 0 ? anc : undefined, true);
    this.onMessage();
  }

  private pauseForSink(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.watcher.onReadable(null);
    this.sink.whenDrained(() => {
      this.readPaused = false;
      this.quietSince = Date.now();
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
    // Waiting for the peer to be quiet before the shutdown: it has ended its side, so there is nothing left to wait for.
    if (this.shutdownTimer) return this.shutDownWrite();
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
