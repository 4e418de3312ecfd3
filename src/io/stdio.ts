// usock's own stdin and stdout: their file flags recorded before anything changes them and put back at exit, stdout as the one queued writer, stdin cut into units for outlets.
import { FdWatcher } from '../sys/poll';
import { F_GETFL, F_SETFL, F_SETPIPE_SZ, O_NONBLOCK } from '../sys/platform/linux';
import { WOULD_BLOCK, fcntl, read } from '../sys/fd';
import { isPollable } from '../sys/poll';
import { ChunkPool } from './chunk-pool';
import { createDecoder, type Decoder, type FrameMode } from './framing';
import { STREAM_CHUNK } from './receive';
import type { Diagnostics } from '../sys/diagnostics';
import { FdWriter } from './writer';

const PIPE_SIZE = 1024 * 1024;
/** Reads of stdin in one turn of the event loop, so that it does not starve the sockets. */
const READS_PER_TURN = 64;

const savedFlags = new Map<number, number>();

/** Records the file flags of fds 0, 1 and 2 as usock found them; call before anything (a stream of Node's) can change them. */
export function recordStdioFlags(): void {
  for (const fd of [0, 1, 2]) {
    if (savedFlags.has(fd)) continue;
    try {
      savedFlags.set(fd, fcntl(fd, F_GETFL));
    } catch {
      // not open
    }
  }
}

/** Puts back the flags recordStdioFlags saw (the open files are shared with the shell and other processes). Never throws. */
export function restoreStdioFlags(): void {
  for (const [fd, flags] of savedFlags) {
    try {
      if (fcntl(fd, F_GETFL) !== flags) fcntl(fd, F_SETFL, flags);
    } catch {
      // closed meanwhile
    }
  }
}

/** Makes fd non-blocking (after recording its flags) when epoll can watch it, with a larger pipe buffer where it is a pipe. */
function useNonBlocking(fd: number): void {
  recordStdioFlags();
  if (!isPollable(fd)) return; // a regular file or /dev/null: I/O on it never waits
  try {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  } catch {
    return;
  }
  try {
    fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE); // only pipes take it; larger pipes mean fewer wake-ups
  } catch {
    // not a pipe, or the limit is lower
  }
}

let stdout: FdWriter | null = null;
const stdoutFailureListeners: Array<(err: Error) => void> = [];

/** Returns the one writer of stdout (made non-blocking on first use); every stdout write of usock goes through it. */
export function stdoutWriter(): FdWriter {
  if (stdout) return stdout;
  useNonBlocking(1);
  stdout = new FdWriter(new FdWatcher(1));
  stdout.onError = (err) => {
    for (const listener of stdoutFailureListeners) listener(err);
  };
  return stdout;
}

let stderr: FdWriter | null = null;

/** Returns a queued writer of stderr (made non-blocking on first use, its flags put back at exit): for output that must not stall a relay, such as tap's records. */
export function stderrWriter(): FdWriter {
  if (stderr) return stderr;
  useNonBlocking(2);
  stderr = new FdWriter(new FdWatcher(2));
  return stderr;
}

/** Writes out what stdout still holds, waiting at most timeoutMs for its reader: on a signal, so that no frame is left half written. */
export function finishStdout(timeoutMs: number): void {
  stdout?.drainSync(timeoutMs);
}

/** Calls listener when a write to stdout fails (EPIPE when its reader left, ENOSPC, EIO...). */
export function onStdoutFailure(listener: (err: Error) => void): void {
  stdoutFailureListeners.push(listener);
}

/** Queues text for stdout and resolves once it is written (at once when stdout has failed: its failure is reported elsewhere). */
export function printOut(text: string | Buffer): Promise<void> {
  const out = stdoutWriter();
  out.push(typeof text === 'string' ? Buffer.from(text) : text, true);
  out.flush();
  return new Promise((resolve) => out.whenDrained(resolve));
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

/** How stdin is cut into units: byte chunks (stream), or messages framed as `frame`. */
export interface InputFraming {
  type: 'stream' | 'dgram' | 'seqpacket';
  frame: FrameMode;
  maxSize: number;
}

/**
 * usock's stdin as a source of units for outlets: it is read only while every outlet can take more
 * (backpressure), cut into byte chunks (from a pool) or framed messages.
 */
export class StdinReader {
  private readonly watcher: FdWatcher;
  private readonly outlets = new Set<Outlet>();
  private decoder: Decoder | null = null;
  private readSize = STREAM_CHUNK;
  private reading = false;
  private eof = false;
  private started = false;
  private readonly chunks = new ChunkPool(STREAM_CHUNK, 8);
  private readonly onFault: (err: unknown) => void;
  /** Input messages skipped: larger than --max-size, or cut short at the end of input. */
  skipped = 0;
  /** Called once stdin has ended and every unit has been handed to the outlets. */
  onEnd: () => void = () => {};

  /** onFault gets a malformed len32 frame once the units before it are delivered and the outlets ended (as at EOF). */
  constructor(
    framing: InputFraming,
    private readonly diagnostics: Diagnostics,
    onFault: (err: unknown) => void,
  ) {
    useNonBlocking(0);
    this.watcher = new FdWatcher(0, onFault);
    this.onFault = onFault;
    if (framing.type === 'stream') return;
    if (framing.frame === 'raw') this.readSize = framing.maxSize;
    this.decoder = createDecoder(framing.frame, framing.maxSize, (p) => {
      this.skipped++;
      this.diagnostics.warn(
        p.kind === 'oversize' ? 'oversize' : 'truncated',
        p.kind === 'oversize'
          ? `input message of ${p.length} bytes exceeds --max-size ${framing.maxSize}: skipped`
          : `input ends inside a len32 frame (${p.expected === undefined ? 'in its header' : `${p.length} of ${p.expected} bytes`}): not sent`,
        { length: p.length, expected: p.expected ?? null },
      );
    });
  }

  /** True once stdin has ended (or reading stopped for good). */
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

  /** Stops delivering to outlet (it closed, or its peer stopped reading). */
  removeOutlet(outlet: Outlet): void {
    this.outlets.delete(outlet);
    this.kick();
  }

  /** Stops reading stdin for good (the relay is over). */
  stop(): void {
    this.eof = true;
    this.reading = false;
    this.watcher.close();
  }

  /** Reads stdin again if every outlet is idle; outlets call this when they drain. */
  kick(): void {
    if (this.eof || !this.started) return;
    let idle = this.outlets.size > 0;
    for (const o of this.outlets) if (o.busy) idle = false;
    if (idle && !this.reading) {
      this.reading = true;
      this.watcher.onReadable(() => this.readStdin());
    } else if (!idle && this.reading) {
      this.reading = false;
      this.watcher.onReadable(null);
    }
  }

  /** An outlet is done with a unit it accepted (sent or dropped): its stream chunk may be reused. */
  release(unit: Buffer): void {
    this.chunks.release(unit);
  }

  private readStdin(): void {
    for (let i = 0; i < READS_PER_TURN && this.reading; i++) {
      // Stream chunks come from the pool; framed input keeps its buffers (messages may point into them).
      const buf = this.decoder ? Buffer.allocUnsafe(this.readSize) : this.chunks.take();
      let n: number | typeof WOULD_BLOCK;
      try {
        n = read(0, buf);
      } catch (err) {
        this.diagnostics.warn('stdin-error', `stdin: ${(err as Error).message}`);
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
      if (this.decoder?.error) {
        this.finishInput();
        return this.onFault(this.decoder.error);
      }
      if (n < buf.length) return; // drained for now: the level-triggered poll calls again
    }
  }

  private deliver(units: Buffer[]): void {
    for (const unit of units) for (const o of this.outlets) o.accept(unit);
    this.kick();
  }

  private finishInput(): void {
    if (this.decoder && !this.decoder.error) this.deliver(this.decoder.end());
    this.stop();
    for (const o of this.outlets) o.end();
    this.onEnd();
  }
}
