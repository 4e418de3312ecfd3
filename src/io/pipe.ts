// One direction between two connections: what one socket receives is queued for the other to send (with backpressure), descriptors with their unit, and its EOF becomes the other's shutdown(SHUT_WR).
import { closeQuietly } from '../sys/fd';
import type { Connection } from './connection';
import type { Ancillary, Sink, Source } from './flow';

/** Bytes queued toward the sending connection before the receiving one stops reading its socket. */
export const PIPE_HIGH_WATER = 1024 * 1024;

/** Another queue the pipe must not outrun (a record writer): full while it holds too much, whenDrained once it has caught up. */
export interface Holdback {
  readonly full: boolean;
  whenDrained(cb: () => void): void;
}

export interface PipeOptions {
  /**
   * Sees every unit that passes (a stream chunk or one message) before it is sent, with its ancillary
   * data when it has some (its descriptors still open: describe them here; the sender owns them next).
   * A unit without ancillary data is a view of the shared receive buffer, valid only during the call.
   */
  onData?: (unit: Buffer, anc?: Ancillary) => void;
  /** Called once, when this direction is over (the receiving socket's peer half-closed, or its connection ended). */
  onEnd?: () => void;
  /** A queue that must keep up too: the receiving side pauses while it is full. */
  holdback?: Holdback;
}

/** Calls cb once every wait given (each called with its own done callback) has called back; the missing ones count as done. */
export function afterAll(waits: ReadonlyArray<((done: () => void) => void) | null | undefined>, cb: () => void): void {
  let waiting = waits.length;
  const done = () => {
    if (--waiting === 0) cb();
  };
  for (const wait of waits) {
    if (wait) wait(done);
    else done();
  }
}

/**
 * A one-way pipe. The connection that receives is created with `sink`, the one that sends with
 * `source`, then `attach(sender)`. What the sender cannot send at once is copied (the receive buffer
 * is shared), so memory is bounded by PIPE_HIGH_WATER per direction plus one read.
 */
export class Pipe {
  private target: Connection | null = null;
  private ended = false;
  readonly sink: Sink;
  /** A source that produces nothing by itself: the sink hands units to the sender directly. */
  readonly source: Source = { addOutlet() {}, removeOutlet() {}, kick() {}, release() {}, stop() {} };

  constructor(private readonly opts: PipeOptions = {}) {
    const self = this;
    // Sent straight from the receive buffer where the socket takes it; only the rest is copied.
    const pass = (bytes: Buffer) => {
      self.opts.onData?.(bytes);
      self.target?.acceptView(bytes); // a closed or shut sender drops it
    };
    // The descriptors reach the sender even when onData throws: it closes them once sent or dropped.
    const passWithAncillary = (bytes: Buffer, anc: Ancillary) => {
      const unit = Buffer.from(bytes);
      try {
        self.opts.onData?.(unit, anc);
      } finally {
        if (self.target) self.target.accept(unit, anc.fds);
        else for (const fd of anc.fds) closeQuietly(fd);
      }
    };
    this.sink = {
      writeNow: pass,
      push: pass,
      takeAncillary: passWithAncillary,
      flush() {},
      get full() {
        const t = self.target;
        return (!!t && !t.closed && t.queued >= PIPE_HIGH_WATER) || !!self.opts.holdback?.full;
      },
      whenDrained(cb) {
        const { target } = self;
        const { holdback } = self.opts;
        afterAll([target && ((done) => target.whenSent(done)), holdback && ((done) => holdback.whenDrained(done))], cb);
      },
      end: () => this.end(),
    };
  }

  /** Sets the connection that sends what this pipe carries (created with `source`). */
  attach(sender: Connection): void {
    this.target = sender;
  }

  /** True once this direction is over. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** This direction is over: the sender shuts down its write side once its queue is sent. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.opts.onEnd?.();
    this.target?.end();
  }
}
