// The contracts between a connection (./connection) and what it reads from and writes to: its sink, its source, the ancillary data that travels with a unit, its options.
import type { SocketType } from '../sys/socket';
import type { FrameMode } from './framing';
import type { Diagnostics } from '../sys/diagnostics';
import type { ReceiveArea } from './receive';
import type { Outlet } from './stdio';

/** Where a connection's received data goes: stdout's FdWriter, a pipe toward another connection (io/pipe), or back to the peer (io/echo). */
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
  /**
   * Takes a unit that came with ancillary data (connections created with `descriptors` only): bytes as
   * for writeNow, and anc, whose descriptors it then owns. A sink without it cannot take descriptors:
   * the connection closes them and says so.
   */
  takeAncillary?(bytes: Buffer, anc: Ancillary): void;
}

/** Ancillary data received with a unit: its descriptors (SCM_RIGHTS, close-on-exec, owned by whoever holds the unit) and whether the kernel truncated the control data (MSG_CTRUNC: descriptors lost). */
export interface Ancillary {
  fds: readonly number[];
  truncated: boolean;
}

/** Where a connection's units to send come from: stdin's StdinReader, the other side of a pipe (io/pipe), or an echo (io/echo). */
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
  /** Where received data goes. */
  sink: Sink;
  /** Where units to send come from (stdin, a pipe's other side, an echo); null: nothing is sent, the write side ends at start. */
  source: Source | null;
  /**
   * Stream only: where the connection reads (its buffer's length is the read size), e.g. tap's area of
   * its WebAssembly memory, where what is read gets escaped and summed in place. Default: the area of
   * STREAM_CHUNK bytes every connection shares.
   */
  receiveArea?: ReceiveArea;
  /** At the source's end keep the write side open (no shutdown(SHUT_WR)): for daemons that drop a client's pending replies at its EOF. */
  noShutdown?: boolean;
  /**
   * Milliseconds the peer must have been quiet (nothing received while reading; time spent with reading
   * paused for the sink does not count) after the source's end was sent, before the write side is shut
   * down: a daemon still answering does not see an EOF it takes for its client gone. 0 or absent: at once.
   */
  shutdownDelayMs?: number;
  /**
   * Pass descriptors (stream and seqpacket): receive with recvmsg, so that descriptors arriving with
   * data reach the sink's takeAncillary with their unit instead of being closed by the kernel; units
   * accepted with descriptors are sent with them attached (SCM_RIGHTS on the unit's first byte), and the
   * connection closes its copies once sent.
   */
  descriptors?: boolean;
  /**
   * Descriptors the connection closes without passing them on: their unit was dropped (the connection
   * closed, the peer left), the kernel refused them (ETOOMANYREFS, EPERM: the unit's bytes are sent
   * without them), the sink cannot take them, or their message was too large. outgoing: they came with a
   * unit to send (else: received here). Called before they are closed.
   */
  onDescriptorsDropped?: (fds: readonly number[], reason: string, outgoing: boolean) => void;
}

/** How a connection ended: 'eof' (both directions over, or ended on purpose) or 'error' (err says why). */
export type CloseReason = 'eof' | 'error';
