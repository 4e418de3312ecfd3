// A message socket (seqpacket) relayed to a byte stream (an --exec command's stdin and stdout) with --frame: each message received becomes one frame on the stream, each frame read from the stream one message.
import { type Connection, openConnection } from './connection';
import type { CloseReason, Sink } from './flow';
import { createDecoder, type FrameMode } from './framing';
import { Pipe } from './pipe';
import type { Diagnostics } from '../sys/diagnostics';
import { setSocketBuffers } from './socket-buffers';
import { setLongTimeout } from './timer';

export interface MessageRelayOptions {
  frame: FrameMode;
  /** The largest message either way; a larger frame from the stream is reported and skipped. */
  maxSize: number;
  diagnostics: Diagnostics;
  /** Names the connection in warnings, e.g. `--exec for pid 12 uid 0 gid 0`. */
  label: string;
}

/** A running relay between a message socket and a byte stream. */
export interface MessageRelay {
  /**
   * Resolves once the stream has ended (the command closed its output) and every message framed from it
   * has been handed to the kernel for the peer (or dropped because the peer left): the socket's write
   * side is shut down then.
   */
  readonly outputDelivered: Promise<void>;
  /**
   * Reads and discards what the peer still sends until it closes or `seconds` pass, then closes
   * everything; resolves once both descriptors are closed. Call after outputDelivered.
   */
  finish(seconds: number): Promise<void>;
}

/**
 * Relays sockFd (a connected seqpacket socket) and streamFd (a stream socket whose other end is a
 * command's stdin and stdout), both non-blocking: the peer's EOF becomes shutdown(SHUT_WR) of the
 * stream, the stream's EOF the socket's. Owns both descriptors and closes them (see finish; the socket
 * also when its peer has closed).
 */
export function relayMessages(sockFd: number, streamFd: number, o: MessageRelayOptions): MessageRelay {
  const toCommand = new Pipe();
  const fromCommand = new Pipe();
  let delivered!: () => void;
  const outputDelivered = new Promise<void>((resolve) => (delivered = resolve));
  let closed!: () => void;
  const socketClosed = new Promise<void>((resolve) => (closed = resolve));
  const output = framedSink(fromCommand, o, () => socket.whenSent(delivered));
  const warnIfError = (side: string) => (_c: Connection, reason: CloseReason, err?: Error) => {
    if (reason === 'error') o.diagnostics.warn('exec-error', `${o.label}: ${side}: ${err?.message}`);
  };
  const socket = openConnection(
    sockFd,
    { type: 'seqpacket', frame: o.frame, maxSize: o.maxSize, diagnostics: o.diagnostics, sink: toCommand.sink, source: fromCommand.source },
    (c, reason, err) => {
      warnIfError('connection')(c, reason, err);
      closed();
    },
  );
  const stream = openConnection(
    streamFd,
    { type: 'stream', frame: 'raw', maxSize: o.maxSize, diagnostics: o.diagnostics, sink: output, source: toCommand.source },
    (c, reason, err) => {
      warnIfError('command')(c, reason, err);
      output.end(); // a reset (the command left input unread) ends its output too: what it wrote was read before
    },
  );
  setSocketBuffers(streamFd); // the command's stream is a relayed stream too
  toCommand.attach(stream);
  fromCommand.attach(socket);
  socket.start();
  stream.start();
  return {
    outputDelivered,
    finish(seconds) {
      const timer = setLongTimeout(() => socket.finishNow(), seconds * 1000);
      return socketClosed.then(() => {
        timer.clear();
        stream.close();
      });
    },
  };
}

/**
 * The sink of the stream's bytes: cut into messages by `frame` for the socket (through pipe);
 * onEnd is called once, when the stream has ended and its last message has gone to the pipe.
 */
function framedSink(pipe: Pipe, o: MessageRelayOptions, onEnd: () => void): Sink & { end(): void } {
  const decoder = createDecoder(o.frame, o.maxSize, (p) => {
    if (p.kind === 'oversize')
      o.diagnostics.warn('oversize', `${o.label}: output message of ${p.length} bytes exceeds --max-size ${o.maxSize}: skipped`, {
        length: p.length,
      });
    else o.diagnostics.warn('truncated', `${o.label}: output ends inside a len32 frame: not sent`, { length: p.length });
  });
  let failed = false;
  let ended = false;
  const take = (bytes: Buffer) => {
    if (failed) return;
    for (const msg of decoder.push(Buffer.from(bytes))) pipe.sink.push(msg); // the decoder keeps what it is given: a copy
    if (decoder.error) {
      failed = true;
      o.diagnostics.warn(
        'oversize',
        `${o.label}: a len32 frame in the output exceeds --max-size ${o.maxSize}: the rest of the output is discarded`,
      );
    }
  };
  return {
    writeNow: take,
    push: take,
    flush: () => pipe.sink.flush(),
    get full() {
      return pipe.sink.full;
    },
    whenDrained: (cb) => pipe.sink.whenDrained(cb),
    end() {
      if (ended) return;
      ended = true;
      if (!failed) for (const msg of decoder.end()) pipe.sink.push(msg);
      onEnd();
      pipe.end();
    },
  };
}
