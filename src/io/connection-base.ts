// What every connection does whatever its kind: its state from open to closed, taking units to send (./queued-sender), half-closes both ways, the shutdown delay, pausing for a full sink, finishing.
import { hasCode } from '../sys/errors';
import { FdWatcher } from '../sys/poll';
import { POLLHUP, SHUT_WR } from '../sys/platform/linux';
import { closeQuietly, pollNow } from '../sys/fd';
import { shutdown } from '../sys/socket';
import { type ConnectionState, isOver, isReading, move } from './connection-state';
import type { Ancillary, CloseReason, ConnectionOptions, Sink } from './flow';
import { QueuedSender } from './queued-sender';
import { newStats } from './stats';
import type { Outlet } from './stdio';

/** Reads of one socket in one turn of the event loop, so that no peer starves the others. */
const READS_PER_TURN = 64;
/** How often a connection whose peer half-closed checks whether the peer has gone entirely (no event tells). */
const HANGUP_CHECK_MS = 50;

/** Called once when a connection finishes, after its sink has drained. */
export type FinishCallback = (conn: Connection, reason: CloseReason, err?: Error) => void;

/**
 * A connected socket relayed to a sink and from a source; its kind (./stream-connection,
 * ./message-connection) reads the socket. Finishes when both directions are over: the peer has closed
 * its side (everything received is in the sink) and the source has ended and been sent, or the peer
 * hung up entirely so that nothing more can reach it. An exception in any of its callbacks finishes it
 * with 'error' and touches nothing else. Owns fd and closes it, and the descriptors of the units it holds.
 */
export abstract class Connection implements Outlet {
  readonly watcher: FdWatcher;
  readonly stats = newStats();
  protected readonly sink: Sink;
  protected readonly sender: QueuedSender;
  private current: ConnectionState = 'open';
  /** The source has ended: the write side is shut once the queue is sent. */
  private sourceEnded = false;
  /** Reading is paused until the sink drains. */
  private readPaused = false;
  /** Set when a send failed because the peer is gone; units still queued are then undeliverable. */
  sendError: Error | null = null;
  /** Set when the peer reset the connection (it closed with our data unread, e.g. an access rule rejected us). */
  reset = false;
  /** Called for every message received (a dgram client re-arms its reply timer; -c counts). */
  onMessage: () => void = () => {};
  /** When the peer's data last arrived (ms since the epoch). */
  protected lastReceived = Date.now();
  /** When the peer's data last arrived, or reading last resumed after a pause, or the source's end was sent (ms since the epoch). */
  protected quietSince = 0;
  private hangupCheck: NodeJS.Timeout | null = null;
  /** Pending while the write side waits for the peer to be quiet (shutdownDelayMs). */
  private shutdownTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly fd: number,
    protected readonly opts: ConnectionOptions,
    private readonly onFinish: FinishCallback,
    kind: 'bytes' | 'messages',
  ) {
    this.watcher = new FdWatcher(fd, (err) => this.finish('error', err as Error));
    this.sink = opts.sink;
    this.sender = new QueuedSender({
      fd,
      kind,
      stats: this.stats,
      diagnostics: opts.diagnostics,
      release: (unit) => this.opts.source?.release(unit),
      dropDescriptors: (fds, reason) => this.dropDescriptors(fds, reason),
    });
  }

  /** Reads the socket once (one read, recv or recvmsg) into the sink; returns false when it is drained for now or its peer ended. Throws SysError. */
  protected abstract receiveOnce(): boolean;

  /** True when the end of the source is passed on as shutdown(SHUT_WR) (not for dgram, nor with noShutdown). */
  protected get shutsDown(): boolean {
    return !this.opts.noShutdown;
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.current;
  }

  /** True while units wait to be sent. */
  get busy(): boolean {
    return this.sender.busy;
  }

  /** Returns the bytes waiting to be sent. */
  get queued(): number {
    return this.sender.queued;
  }

  /** True once the socket is closed (finished or closed on purpose): it takes no more units. */
  get closed(): boolean {
    return isOver(this.current);
  }

  /** When data last moved either way (ms since the epoch): for idle timeouts. */
  get lastActive(): number {
    return Math.max(this.lastReceived, this.sender.lastSent);
  }

  /** Starts reading the socket and taking the source's units; without a source there is nothing to send, so its side ends at once. */
  start(): void {
    this.watcher.onReadable(() => this.readSocket());
    if (this.opts.source) this.opts.source.addOutlet(this);
    else this.end();
  }

  /**
   * Queues a unit to send (the source's; it is released once sent or dropped), with fds (owned by the
   * connection from now on: closed once sent with the unit, or when the unit is dropped).
   */
  accept(unit: Buffer, fds?: readonly number[]): void {
    if (this.sendError || this.current === 'write-shut' || this.closed) {
      this.stats.dropped++;
      if (fds?.length)
        this.dropDescriptors(
          fds,
          this.sendError ? this.sendError.message : this.closed ? 'the connection is closed' : 'its write side is shut',
        );
      this.opts.source?.release(unit);
      return;
    }
    this.sender.push(unit, fds);
    this.flushQueue();
  }

  /**
   * Sends bytes, a view of a buffer its owner reuses after this call (a shared receive buffer), as a
   * unit: at once as far as the socket takes it, and a copy of the rest is queued. Without descriptors.
   */
  acceptView(bytes: Buffer): void {
    if (this.sender.busy || this.sendError || this.current === 'write-shut' || this.closed) return this.accept(Buffer.from(bytes));
    this.sender.push(bytes);
    this.flushQueue();
    this.sender.keepCopyOf(bytes);
  }

  /** No more units: shut down the write side once the queue is sent. */
  end(): void {
    this.sourceEnded = true;
    this.flushQueue();
  }

  /** Calls cb once every queued unit has been sent, or dropped by a close (at once when none is queued). */
  whenSent(cb: () => void): void {
    this.sender.whenSent(cb);
  }

  /** Ends the connection as if the peer had closed: the finish callback runs once the sink is drained. */
  finishNow(): void {
    this.finish('eof');
  }

  /** Stops everything and closes the socket; no callback. */
  close(): void {
    if (this.closed) return;
    this.current = move(this.current, 'closed');
    this.closeSocket();
  }

  /** Closes the socket and everything watching it; units still queued are dropped. */
  private closeSocket(): void {
    if (this.hangupCheck) clearInterval(this.hangupCheck);
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    this.sender.dropAll('the connection is closed');
    this.opts.source?.removeOutlet(this);
    this.watcher.close();
    closeQuietly(this.fd);
    this.sender.callWaiters(); // their units are dropped: nothing is left to wait for
  }

  /** Finishes: closes the socket now, calls onFinish once the sink has written what it holds. */
  protected finish(reason: CloseReason, err?: Error): void {
    if (this.closed) return;
    this.current = move(this.current, 'draining');
    this.closeSocket();
    this.sink.whenDrained(() => {
      this.current = move(this.current, 'closed');
      this.onFinish(this, reason, err);
    });
  }

  /** Reports descriptors that will not be passed on (onDescriptorsDropped, or a warning without it). */

  /** Reports descriptors that will not be passed on, then closes them. */
  protected dropDescriptors(fds: readonly number[], reason: string, outgoing = true): void {
    try {
      const text = `${fds.length} descriptor${fds.length === 1 ? '' : 's'} closed, not passed on: ${reason}`;
      if (this.opts.onDescriptorsDropped) this.opts.onDescriptorsDropped(fds, reason, outgoing);
      else this.opts.diagnostics.warn('fds-dropped', text, { fds: fds.length });
    } finally {
      for (const fd of fds) closeQuietly(fd);
    }
  }

  private flushQueue(): void {
    if (this.closed) return;
    let empty: boolean;
    try {
      empty = this.sender.flush();
    } catch (err) {
      return this.sendFailed(err as Error);
    }
    if (!empty) {
      this.watcher.onWritable(() => this.flushQueue());
      this.opts.source?.kick();
      return;
    }
    this.watcher.onWritable(null);
    this.sender.callWaiters();
    if (this.closed) return; // a waiter finished it
    if (this.sourceEnded && this.current !== 'write-shut' && !this.shutdownTimer) {
      const delay = this.opts.shutdownDelayMs ?? 0;
      if (delay > 0 && this.current !== 'read-ended' && this.shutsDown) {
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
    if (this.shutsDown) {
      try {
        shutdown(this.fd, SHUT_WR);
      } catch {
        // already disconnected
      }
    }
    if (this.current === 'read-ended') return this.finish('eof');
    this.current = move(this.current, 'write-shut');
  }

  /** Shuts the write side down once the peer has been quiet for shutdownDelayMs while being read; looks again until then. */
  private shutDownWhenQuiet(): void {
    this.shutdownTimer = null;
    if (this.current !== 'open' && this.current !== 'read-ended') return;
    const delay = this.opts.shutdownDelayMs!;
    // Reading paused for a full sink (a slow stdout): the peer may be sending, so that is not quiet.
    const left = this.readPaused ? delay : this.quietSince + delay - Date.now();
    if (left > 0) {
      this.shutdownTimer = setTimeout(() => this.shutDownWhenQuiet(), left);
      return;
    }
    this.shutDownWrite();
  }

  /**
   * The peer stopped taking data (EPIPE, ECONNRESET; for dgram ECONNREFUSED or ENOENT: it is gone).
   * What it sent before is still to be read: see afterSendFailed.
   */
  private sendFailed(err: Error): void {
    this.sendError = err;
    this.stats.dropped += this.sender.dropAll(err.message);
    this.watcher.onWritable(null);
    this.opts.source?.removeOutlet(this); // an echo, with no one left to send to, finishes the connection there
    if (this.closed) return;
    this.sender.callWaiters();
    this.afterSendFailed();
  }

  /** A send failed for good: a stream or seqpacket connection finishes after the peer's EOF (at once when it came already). */
  protected afterSendFailed(): void {
    if (this.current === 'read-ended') this.finish('eof');
  }

  protected readSocket(): void {
    if (this.closed) return;
    const sink = this.sink;
    try {
      for (let i = 0; i < READS_PER_TURN; i++) {
        if (this.closed) return; // the sink finished it (an echo whose peer left)
        if (sink.full) return this.pauseForSink();
        if (!this.receiveOnce()) break;
      }
    } catch (err) {
      this.receiveFailed(err as Error);
    } finally {
      sink.flush();
    }
  }

  /** A receive failed: a reset ends the connection as an EOF would (nothing more to read or to send), anything else as an error. */
  protected receiveFailed(err: Error): void {
    if (hasCode(err, 'ECONNRESET')) {
      this.reset = true;
      return this.finish('eof');
    }
    this.finish('error', err);
  }

  /** Hands bytes and their ancillary data (if any) to the sink; a sink that cannot take descriptors gets the bytes, the descriptors are dropped. */
  protected deliver(bytes: Buffer, anc: Ancillary | undefined, queue: boolean): void {
    if (!anc) return queue ? this.sink.push(bytes) : this.sink.writeNow(bytes);
    if (this.sink.takeAncillary) return this.sink.takeAncillary(bytes, anc);
    if (anc.fds.length) this.dropDescriptors(anc.fds, 'this connection does not pass descriptors on', false);
    if (queue) this.sink.push(bytes);
    else this.sink.writeNow(bytes);
  }

  private pauseForSink(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.watcher.onReadable(null);
    this.sink.whenDrained(() => {
      this.readPaused = false;
      this.quietSince = Date.now();
      if (isReading(this.current)) this.watcher.onReadable(() => this.readSocket());
    });
  }

  /**
   * The peer closed its write side: the sink is told (a pipe or an echo passes the half-close on); then
   * finish now if our side is over too or the peer hung up entirely, else keep sending the source's
   * units, and finish as soon as the peer closes entirely (a lingering close: shutdown, then close).
   */
  protected peerEnded(): void {
    this.watcher.onReadable(null);
    const writeOver = this.current === 'write-shut';
    if (!writeOver) this.current = move(this.current, 'read-ended');
    this.sink.end?.();
    if (this.closed) return; // the sink's end finished it (an echo with nothing left to send back)
    // Waiting for the peer to be quiet before the shutdown: it has ended its side, so there is nothing left to wait for.
    if (this.shutdownTimer) return this.shutDownWrite();
    if (writeOver || this.sendError || this.hungUp()) return this.finish('eof');
    // The socket stays readable (at EOF) and writable: no event says when the peer closes; look every 50 ms.
    this.hangupCheck = setInterval(() => {
      if (this.hungUp()) this.finish('eof');
    }, HANGUP_CHECK_MS);
  }

  /** True when the peer has closed entirely: nothing more can be sent (POLLHUP). */
  private hungUp(): boolean {
    return (pollNow(this.fd, POLLHUP) & POLLHUP) !== 0;
  }
}
