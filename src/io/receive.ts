// Where connections receive: receive areas (a buffer and its recvmsg reader), the ones shared by size, and the ancillary data of a receive.
import { MessageReader } from '../sys/msg';
import type { Ancillary } from './flow';

/** Bytes a stream connection reads at once. */
export const STREAM_CHUNK = 256 * 1024;

/**
 * A buffer connections receive into, with its recvmsg reader (made on first use, for connections
 * with `descriptors`). Any number of connections may share one: a receive's data leaves the buffer
 * (written, or copied into a queue) before the connection's read returns.
 */
export class ReceiveArea {
  private messageReader: MessageReader | null = null;

  constructor(readonly buffer: Buffer) {}

  /** Returns the recvmsg reader over buffer (each receive one libc call). */
  get reader(): MessageReader {
    return (this.messageReader ??= new MessageReader(this.buffer));
  }
}

/** The areas of connections given none of their own, one per size: a thousand connections need one buffer, not a thousand. */
const sharedAreas = new Map<number, ReceiveArea>();

/** Returns the receive area of `size` bytes shared by every connection that was given no area of its own. */
export function sharedReceiveArea(size: number): ReceiveArea {
  let area = sharedAreas.get(size);
  if (!area) sharedAreas.set(size, (area = new ReceiveArea(Buffer.allocUnsafe(size))));
  return area;
}

/** Returns the ancillary data of the reader's last receive, or undefined when it brought none. */
export function ancillaryOf(reader: MessageReader): Ancillary | undefined {
  return reader.fds.length || reader.controlTruncated ? { fds: reader.fds, truncated: reader.controlTruncated } : undefined;
}
