// Receiving for every connection: the shared receive buffers and recvmsg readers (one per size), ancillary data of a receive, larger kernel buffers for streams.
import { MessageReader } from '../sys/msg';
import { SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../sys/platform/linux';
import { setsockoptInt } from '../sys/socket';
import type { Ancillary } from './flow';

/** Bytes a stream connection reads at once. */
export const STREAM_CHUNK = 256 * 1024;

/** SO_SNDBUF/SO_RCVBUF of stream connections: 1 MiB keeps the bytes in cache between the two copies (4 MiB measured slower). */
const STREAM_SOCKET_BUFFER = 1024 * 1024;

/**
 * Receive buffers shared by every connection, one per size: a read's data leaves the buffer before
 * readSocket returns (written, or copied into a queue), so a thousand connections need one buffer, not
 * a thousand.
 */
const receiveBuffers = new Map<number, Buffer>();

export function receiveBuffer(size: number): Buffer {
  let buf = receiveBuffers.get(size);
  if (!buf) receiveBuffers.set(size, (buf = Buffer.allocUnsafe(size)));
  return buf;
}

/** recvmsg readers over the shared receive buffers (connections with `descriptors`), one per size: each receive is one libc call. */
const receiveReaders = new Map<number, MessageReader>();

export function receiveReader(size: number): MessageReader {
  let reader = receiveReaders.get(size);
  if (!reader) receiveReaders.set(size, (reader = new MessageReader(receiveBuffer(size))));
  return reader;
}

/**
 * Makes buf the shared receive buffer of its size (tap: an area of its WebAssembly module's memory, so that
 * what it reads is escaped and summed where it lands). Call before the first receive of that size.
 */
export function shareReceiveBuffer(buf: Buffer): void {
  if (receiveReaders.has(buf.length)) throw new Error(`shareReceiveBuffer: receives of ${buf.length} bytes have begun`);
  receiveBuffers.set(buf.length, buf);
}

/** Returns the ancillary data of the reader's last receive, or undefined when it brought none. */
export function ancillaryOf(reader: MessageReader): Ancillary | undefined {
  return reader.fds.length || reader.controlTruncated ? { fds: reader.fds, truncated: reader.controlTruncated } : undefined;
}

/** Asks for larger kernel buffers on a stream socket (fewer wake-ups per byte); the kernel caps them, failures are harmless. */
export function enlargeBuffers(fd: number): void {
  for (const opt of [SO_SNDBUF, SO_RCVBUF]) {
    try {
      setsockoptInt(fd, SOL_SOCKET, opt, STREAM_SOCKET_BUFFER);
    } catch {
      // keep the default
    }
  }
}
