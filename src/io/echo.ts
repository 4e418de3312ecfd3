// An echo: the sink and the source of a connection that sends back what it receives (echo-server), a pipe from the connection to itself.
import type { Sink, Source } from './flow';

/** Bytes an echoing connection queues before it stops reading its peer. */
export const ECHO_HIGH_WATER = 1024 * 1024;

/** What an echo needs of its connection. */
export interface EchoTarget {
  acceptView(bytes: Buffer): void;
  readonly queued: number;
  whenSent(cb: () => void): void;
  end(): void;
  finishNow(): void;
}

/**
 * Create it, give its sink and source to a connection, then `attach` that connection: what the
 * connection receives is sent back (stream: at once as far as the socket takes it; messages: one each),
 * reading pauses while ECHO_HIGH_WATER bytes wait, the peer's EOF becomes our shutdown once all is
 * sent back, and a peer that stops reading finishes the connection (nothing can be sent back).
 */
export class Echo {
  private target: EchoTarget | null = null;
  readonly sink: Sink;
  readonly source: Source;

  constructor() {
    const self = this;
    const pass = (bytes: Buffer) => this.target?.acceptView(bytes);
    this.sink = {
      writeNow: pass,
      push: pass,
      flush() {},
      get full() {
        return (self.target?.queued ?? 0) >= ECHO_HIGH_WATER;
      },
      whenDrained: (cb) => (this.target ? this.target.whenSent(cb) : cb()),
      end: () => this.target?.end(),
    };
    this.source = {
      addOutlet() {},
      removeOutlet: () => this.target?.finishNow(),
      kick() {},
      release() {},
      stop() {},
    };
  }

  /** Sets the connection that echoes (created with this sink and source). */
  attach(conn: EchoTarget): void {
    this.target = conn;
  }
}
