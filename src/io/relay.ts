// Moving data between stdin/stdout and sockets: bytes or framed messages, backpressure both ways, half-close.
import { EXIT, Exit } from '../errors';
import { onCleanup } from '../lifecycle';
import type { AccessRules } from '../access';
import { receiveChecked } from '../net/server';
import type { Reporter } from '../output';
import { hasCode } from '../sys/errors';
import { FdWatcher } from '../sys/poll';
import { F_GETFL, F_SETFL, F_SETPIPE_SZ, MSG_TRUNC, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF, POLLHUP, SHUT_WR, SOCKADDR_UN_SIZE } from '../sys/platform/linux';
import { decodeAddress } from '../sys/sockaddr';
import {
  WOULD_BLOCK, closeQuietly, fcntl, seqpacketEnded, setsockoptInt, pollNow, read, recv, recvfrom, send, sendto, shutdown, write, type SocketType,
} from '../sys/socket';
import { createDecoder, encodeMessage, type Decoder, type FrameMode } from './framing';
import { FdWriter } from './writer';

const STREAM_CHUNK = 256 * 1024;
/** Reads of one descriptor in one turn of the event loop, so that no source starves the others. */
const READS_PER_TURN = 64;

export interface RelayConfig {
  type: SocketType;
  frame: FrameMode;
  maxSize: number;
  reporter: Reporter;
}

/** Counters a relay reports with -v. */
export interface RelayStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  oversize: number;
  dropped: number;
}

export function newStats(): RelayStats {
  return { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, oversize: 0, dropped: 0 };
}

/** Returns the -v line for stats. */
export function describeStats(s: RelayStats, messages: boolean): string {
  const base = `${s.bytesOut} bytes sent, ${s.bytesIn} bytes received`;
  if (!messages) return base;
  const extra = [s.oversize ? `${s.oversize} oversize` : '', s.dropped ? `${s.dropped} dropped` : ''].filter(Boolean);
  return `${s.messagesOut} messages sent, ${s.messagesIn} received (${base}${extra.length ? ', ' + extra.join(', ') : ''})`;
}

/** Something stdin's units are delivered to: a connection, or a datagram listener's last sender. */
export interface Outlet {
  /** Queues a unit (bytes for stream, one message otherwise). */
  accept(unit: Buffer): void;
  /** True while the outlet still holds unsent units. */
  readonly busy: boolean;
  /** No more units: shut down the write side once the queue is sent. */
  end(): void;
}

/**
 * Reusable stdin chunks of a stream relay: a chunk is free again once every outlet that took it has
 * released it, so that reads reuse warm memory instead of fresh pages that the GC frees at random.
 */
class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly held = new Map<ArrayBufferLike, { base: Buffer; count: number }>();

  constructor(private readonly size: number, private readonly keep: number) {}

  /** Returns a chunk of the pool's size, reused when one is free. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  /** Records that `count` outlets took units cut from base; with none, base is free at once. */
  hold(base: Buffer, count: number): void {
    if (count > 0) this.held.set(base.buffer, { base, count });
    else this.put(base);
  }

  /** One outlet is done with unit; a unit not cut from a pooled chunk is ignored. */
  release(unit: Buffer): void {
    const entry = this.held.get(unit.buffer);
    if (!entry || --entry.count > 0) return;
    this.held.delete(unit.buffer);
    this.put(entry.base);
  }

  private put(base: Buffer): void {
    if (this.free.length < this.keep) this.free.push(base);
  }
}

/**
 * usock's own stdin and stdout: stdin is read only while every outlet can take more, stdout is a
 * queued writer. The O_NONBLOCK flags libuv sets on them are put back at exit.
 */
export class Stdio {
  readonly out: FdWriter;
  private readonly inWatcher = new FdWatcher(0);
  private readonly outlets = new Set<Outlet>();
  private decoder: Decoder | null = null;
  private readSize = STREAM_CHUNK;
  private reading = false;
  private eof = false;
  private started = false;
  private readonly chunks = new ChunkPool(STREAM_CHUNK, 8);
  /** Called once stdin has ended and every unit has been handed to the outlets. */
  onEnd: () => void = () => {};

  constructor(private readonly reporter: Reporter) {
    for (const fd of [0, 1]) {
      try {
        const flags = fcntl(fd, F_GETFL);
        onCleanup(() => fcntl(fd, F_SETFL, flags));
      } catch {
        // not open: nothing to restore
      }
    }
    this.out = new FdWriter(new FdWatcher(1));
    for (const fd of [0, 1]) {
      try {
        fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE); // only pipes take it; larger pipes mean fewer reads
      } catch {
        // not a pipe, or the limit is lower
      }
    }
    this.out.onError = (err) => {
      // A closed stdout (`usock … | head`) ends usock quietly with status 0.
      if (hasCode(err, 'EPIPE')) setImmediate(() => { throw new Exit(EXIT.OK); });
      else setImmediate(() => { throw err; });
    };
  }

  /** Sets how stdin is cut into units: framed messages for dgram and seqpacket, chunks for stream. */
  configure(cfg: RelayConfig, stats: RelayStats): void {
    if (cfg.type === 'stream') return;
    if (cfg.frame === 'raw') this.readSize = cfg.maxSize;
    this.decoder = createDecoder(cfg.frame, cfg.maxSize, (p) => {
      stats.oversize++;
      this.reporter.warn(p.kind === 'oversize' ? 'oversize' : 'truncated',
        p.kind === 'oversize' ? `input message of ${p.length} bytes exceeds --max-size ${cfg.maxSize}: skipped`
          : `input ends inside a len32 frame (${p.length} bytes): not sent`, { length: p.length });
    });
  }

  /** True once stdin has ended. */
  get ended(): boolean {
    return this.eof;
  }

  /** Starts delivering stdin's units to outlet; an outlet added after EOF is ended at once. */
  addOutlet(outlet: Outlet): void {
    if (this.eof) {
      outlet.end();
      return;
    }
    this.outlets.add(outlet);
    this.started = true;
    this.kick();
  }

  /** Stops delivering to outlet (it closed). */
  removeOutlet(outlet: Outlet): void {
    this.outlets.delete(outlet);
    this.kick();
  }

  /** Stops reading stdin for good (the relay is over). */
  stop(): void {
    this.eof = true;
    this.inWatcher.close();
  }

  /** Reads stdin again if every outlet is idle; outlets call this when they drain. */
  kick(): void {
    if (this.eof || !this.started) return;
    const idle = this.outlets.size > 0 && [...this.outlets].every((o) => !o.busy);
    if (idle && !this.reading) {
      this.reading = true;
      this.inWatcher.onReadable(() => this.readStdin());
    } else if (!idle && this.reading) {
      this.reading = false;
      this.inWatcher.onReadable(null);
    }
  }

  private readStdin(): void {
    for (let i = 0; i < READS_PER_TURN && this.reading; i++) {
      // Stream chunks come from the pool; framed input keeps its buffers (messages may point into them).
      const buf = this.decoder ? Buffer.allocUnsafe(this.readSize) : this.chunks.take();
      let n: number;
      try {
        n = read(0, buf);
      } catch (err) {
        this.reporter.warn('stdin-error', `stdin: ${(err as Error).message}`);
        n = 0;
      }
      if (n === WOULD_BLOCK || n === 0) {
        if (!this.decoder) this.chunks.hold(buf, 0);
        if (n === 0) this.finishInput();
        return;
      }
      if (!this.decoder) this.chunks.hold(buf, this.outlets.size);
      const units = this.decoder ? this.decoder.push(buf.subarray(0, n)) : [buf.subarray(0, n)];
      this.deliver(units);
    }
  }

  /** An outlet is done with a unit it accepted (sent or dropped): its stream chunk may be reused. */
  release(unit: Buffer): void {
    this.chunks.release(unit);
  }

  private deliver(units: Buffer[]): void {
    for (const unit of units) for (const o of this.outlets) o.accept(unit);
    this.kick();
  }

  private finishInput(): void {
    if (this.decoder) this.deliver(this.decoder.end());
    this.eof = true;
    this.reading = false;
    this.inWatcher.close();
    for (const o of this.outlets) o.end();
    this.onEnd();
  }
}

export type CloseReason = 'eof' | 'error';

/**
 * Returns the exit status once a connection has closed, reporting what went wrong: 0; 69 when the peer
 * went away before any data either way (or reset the connection, or stopped reading, before it sent
 * anything); 74 when input was lost later on. inputEnded: stdin had reached its end.
 */
export function exitStatusOf(c: Connection, reporter: Reporter, inputEnded: boolean): number {
  const nothingBack = c.stats.bytesIn === 0;
  if (nothingBack && c.stats.bytesOut === 0 && !inputEnded && !c.reset) {
    reporter.warn('peer-gone', 'the peer closed the connection before any data', { ...c.stats });
    return EXIT.UNAVAILABLE;
  }
  if (c.reset) {
    reporter.warn('reset', `connection reset by the peer${nothingBack ? ' before it sent any data' : ''}`, { ...c.stats });
    return nothingBack ? EXIT.UNAVAILABLE : EXIT.IOERR;
  }
  if (!c.sendError || c.stats.dropped === 0) return EXIT.OK;
  const code = (c.sendError as { code?: string }).code ?? '';
  reporter.warn('undelivered', `peer stopped reading: ${c.stats.dropped} unit(s) of input not delivered (${code})`, { dropped: c.stats.dropped, code });
  return nothingBack && c.stats.bytesOut === 0 ? EXIT.UNAVAILABLE : EXIT.IOERR;
}

/** SO_SNDBUF/SO_RCVBUF of stream connections: 1 MiB keeps the bytes in cache between the two copies (4 MiB measured slower). */
const STREAM_SOCKET_BUFFER = 1024 * 1024;
const PIPE_SIZE = 1024 * 1024;

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
 * One connected socket relayed to stdio: its data goes to stdout, stdin's units come to it.
 * Finishes when both directions are over: the peer has closed its side (everything received is
 * queued for stdout) and stdin has ended and been sent, or the peer hung up entirely so that
 * nothing more can reach it. Owns fd and closes it.
 */
export class Connection implements Outlet {
  readonly watcher: FdWatcher;
  readonly stats = newStats();
  private queue: Buffer[] = [];
  private offset = 0; // bytes of queue[0] already sent (stream)
  private ending = false;
  private writeShut = false;
  private inputDone = false;
  private readPaused = false;
  private finished = false;
  private recvBuf: Buffer | null = null;
  /** Set when a send failed because the peer is gone; stdin units still queued are then undeliverable. */
  sendError: Error | null = null;
  /** Set when the peer reset the connection (it closed with our data unread, e.g. an access rule rejected us). */
  reset = false;
  /** Called for every message received (a dgram client re-arms its reply timer). */
  onMessage: () => void = () => {};
  private sentWaiters: Array<() => void> = [];

  constructor(
    readonly fd: number,
    private readonly cfg: RelayConfig,
    private readonly stdio: Stdio,
    private readonly onFinish: (conn: Connection, reason: CloseReason, err?: Error) => void,
  ) {
    this.watcher = new FdWatcher(fd);
    if (cfg.type === 'stream') enlargeBuffers(fd);
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Starts reading the socket and taking stdin's units. */
  start(withInput = true): void {
    this.watcher.onReadable(() => this.readSocket());
    if (withInput) this.stdio.addOutlet(this);
  }

  accept(unit: Buffer): void {
    if (this.writeShut || this.sendError || this.finished) {
      this.stats.dropped++;
      this.stdio.release(unit);
      return;
    }
    this.queue.push(unit);
    this.flushQueue();
  }

  end(): void {
    this.ending = true;
    this.flushQueue();
  }

  /** Calls cb once every queued unit has been sent (at once when none is queued). */
  whenSent(cb: () => void): void {
    if (this.queue.length === 0) cb();
    else this.sentWaiters.push(cb);
  }

  /** Ends the connection as if the peer had closed: the finish callback runs once stdout is drained. */
  finishNow(): void {
    this.finish('eof');
  }

  /** Stops everything and closes the socket; no callback. */
  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.releaseQueue();
    this.stdio.removeOutlet(this);
    this.watcher.close();
    closeQuietly(this.fd);
  }

  /** Empties the queue, handing its units back to stdin's pool. */
  private releaseQueue(): void {
    for (const unit of this.queue) this.stdio.release(unit);
    this.queue = [];
    this.offset = 0;
  }

  private flushQueue(): void {
    if (this.finished) return;
    try {
      while (this.queue.length) {
        const unit = this.queue[0]!;
        if (this.cfg.type === 'stream') {
          const n = write(this.fd, this.offset ? unit.subarray(this.offset) : unit);
          if (n === WOULD_BLOCK) return this.waitWritable();
          this.stats.bytesOut += n;
          this.offset += n;
          if (this.offset < unit.length) continue;
        } else {
          const n = send(this.fd, unit);
          if (n === WOULD_BLOCK) return this.waitWritable();
          this.stats.bytesOut += n;
          this.stats.messagesOut++;
        }
        this.stdio.release(this.queue.shift()!);
        this.offset = 0;
      }
    } catch (err) {
      if (hasCode(err, 'EMSGSIZE', 'ENOBUFS')) {
        this.stats.dropped++;
        this.cfg.reporter.warn('send-failed', `message of ${this.queue[0]!.length} bytes not sent: ${(err as Error).message}`);
        this.stdio.release(this.queue.shift()!);
        return this.flushQueue();
      }
      // The peer stopped reading (EPIPE, ECONNRESET, ECONNREFUSED): what it sent is still readable.
      this.sendError = err as Error;
      this.stats.dropped += this.queue.length;
      this.releaseQueue();
      this.watcher.onWritable(null);
      this.stdio.removeOutlet(this);
      // What the peer sent before it stopped reading is still to be read: finish only after its EOF.
      if (this.inputDone) this.finish('eof');
      return;
    }
    this.watcher.onWritable(null);
    const waiters = this.sentWaiters;
    this.sentWaiters = [];
    for (const cb of waiters) cb();
    if (this.ending && !this.writeShut) {
      this.writeShut = true;
      if (this.cfg.type !== 'dgram') {
        try {
          shutdown(this.fd, SHUT_WR);
        } catch {
          // already disconnected
        }
      }
      if (this.inputDone) return this.finish('eof');
    }
    this.stdio.kick();
  }

  private waitWritable(): void {
    this.watcher.onWritable(() => this.flushQueue());
    this.stdio.kick();
  }

  private readSocket(): void {
    if (this.finished) return;
    const out = this.stdio.out;
    try {
      for (let i = 0; i < READS_PER_TURN; i++) {
        if (out.full) return this.pauseForStdout();
        if (this.cfg.type === 'stream') {
          const buf = (this.recvBuf ??= Buffer.allocUnsafe(STREAM_CHUNK));
          const n = read(this.fd, buf);
          if (n === WOULD_BLOCK) break;
          if (n === 0) return this.peerEnded();
          this.stats.bytesIn += n;
          out.writeNow(buf.subarray(0, n));
          if (n < buf.length) break; // drained: the level-triggered poll calls again
        } else {
          const buf = (this.recvBuf ??= Buffer.allocUnsafe(this.cfg.maxSize));
          const n = recv(this.fd, buf, MSG_TRUNC);
          if (n === WOULD_BLOCK) break;
          if (n === 0 && this.cfg.type === 'seqpacket' && seqpacketEnded(this.fd)) {
            return this.peerEnded();
          }
          this.takeMessage(buf, n);
        }
      }
    } catch (err) {
      if (hasCode(err, 'ECONNRESET')) {
        this.reset = true; // nothing more to read or to send
        return this.finish('eof');
      }
      return this.finish('error', err as Error);
    } finally {
      out.flush();
    }
  }

  private takeMessage(buf: Buffer, n: number): void {
    if (n > buf.length) {
      this.stats.oversize++;
      this.cfg.reporter.warn('oversize', `received message of ${n} bytes exceeds --max-size ${this.cfg.maxSize}: dropped`, { length: n });
      return;
    }
    this.stats.messagesIn++;
    this.stats.bytesIn += n;
    for (const piece of encodeMessage(this.cfg.frame, buf.subarray(0, n))) this.stdio.out.push(piece);
    this.onMessage();
  }

  private pauseForStdout(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.watcher.onReadable(null);
    this.stdio.out.whenDrained(() => {
      this.readPaused = false;
      if (!this.finished) this.watcher.onReadable(() => this.readSocket());
    });
  }

  /** The peer closed its write side: finish now if our side is over too or the peer hung up entirely, else keep sending stdin. */
  private peerEnded(): void {
    this.inputDone = true;
    this.watcher.onReadable(null);
    const hungUp = (pollNow(this.fd, POLLHUP) & POLLHUP) !== 0;
    if (hungUp || this.writeShut || this.sendError) return this.finish('eof');
  }

  private finish(reason: CloseReason, err?: Error): void {
    if (this.finished) return;
    this.close();
    this.stdio.out.whenDrained(() => this.onFinish(this, reason, err));
  }
}

/**
 * A datagram socket bound to a name: receives from any sender (named or not); stdin's messages go
 * to the most recent sender that has an address, and wait while there is none. Does not own fd.
 */
export class DatagramListener implements Outlet {
  readonly watcher: FdWatcher;
  readonly stats = newStats();
  private queue: Buffer[] = [];
  private replyTo: Buffer | null = null;
  private readonly from = Buffer.alloc(SOCKADDR_UN_SIZE);
  private readonly fromLen = new Uint32Array(1);
  private readonly buf: Buffer;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  /** With rules, fd must have SO_PASSCRED (passCredentials): a datagram from a sender they reject is dropped and reported, never written. */
  constructor(readonly fd: number, private readonly cfg: RelayConfig, private readonly stdio: Stdio, private readonly rules: AccessRules | null = null) {
    this.watcher = new FdWatcher(fd);
    this.buf = Buffer.allocUnsafe(cfg.maxSize);
  }

  /** Receives one datagram into buf and its sender's address into from/fromLen; returns its real length, WOULD_BLOCK, or null when the rules rejected it. */
  private receive(): number | null {
    if (!this.rules) return recvfrom(this.fd, this.buf, MSG_TRUNC, this.from, this.fromLen);
    const msg = receiveChecked(this.fd, this.buf, this.from, this.fromLen, this.rules, this.cfg.reporter);
    return msg === WOULD_BLOCK || msg === null ? msg : msg.length;
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  start(): void {
    this.watcher.onReadable(() => this.readSocket());
    this.stdio.addOutlet(this);
  }

  accept(unit: Buffer): void {
    this.queue.push(unit);
    this.flushQueue();
  }

  end(): void {}

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.watcher.close();
  }

  private readSocket(): void {
    const out = this.stdio.out;
    try {
      for (let i = 0; i < READS_PER_TURN; i++) {
        if (out.full) {
          this.watcher.onReadable(null);
          out.whenDrained(() => !this.closed && this.watcher.onReadable(() => this.readSocket()));
          return;
        }
        const n = this.receive();
        if (n === WOULD_BLOCK) break;
        if (n === null) {
          this.stats.dropped++;
          continue;
        }
        const len = this.fromLen[0]!;
        if (len > 2 && (!this.replyTo || this.replyTo.length !== len || this.from.compare(this.replyTo, 0, len, 0, len) !== 0)) {
          this.replyTo = Buffer.from(this.from.subarray(0, len));
          this.cfg.reporter.info('sender', `replies go to ${decodeAddress(this.replyTo, len)}`, { address: decodeAddress(this.replyTo, len) });
          if (this.queue.length) setImmediate(() => this.flushQueue());
        }
        if (n > this.buf.length) {
          this.stats.oversize++;
          this.cfg.reporter.warn('oversize', `received message of ${n} bytes exceeds --max-size ${this.cfg.maxSize}: dropped`, { length: n });
          continue;
        }
        this.stats.messagesIn++;
        this.stats.bytesIn += n;
        for (const piece of encodeMessage(this.cfg.frame, this.buf.subarray(0, n))) out.push(piece);
      }
    } catch (err) {
      this.cfg.reporter.warn('recv-failed', (err as Error).message);
    } finally {
      out.flush();
    }
  }

  private flushQueue(): void {
    if (this.closed || this.retry) return;
    while (this.queue.length && this.replyTo) {
      let n: number;
      try {
        n = sendto(this.fd, this.queue[0]!, this.replyTo);
      } catch (err) {
        this.stats.dropped++;
        this.cfg.reporter.warn('send-failed', `message to ${decodeAddress(this.replyTo, this.replyTo.length)} not delivered: ${(err as Error).message}`);
        this.queue.shift();
        continue;
      }
      if (n === WOULD_BLOCK) {
        // The receiver's queue is full; an unconnected socket cannot poll for it, so try again shortly.
        this.retry = setTimeout(() => { this.retry = null; this.flushQueue(); }, 2);
        return;
      }
      this.stats.messagesOut++;
      this.stats.bytesOut += n;
      this.queue.shift();
    }
    this.stdio.kick();
  }
}
