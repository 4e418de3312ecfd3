// A byte-stream connection (SOCK_STREAM): reads chunks into its receive area for the sink, sends units as bytes (a unit may leave in several writes), EOF and shutdown(SHUT_WR) as half-closes.
import { WOULD_BLOCK, read } from '../sys/fd';
import { Connection, type FinishCallback } from './connection-base';
import type { ConnectionOptions } from './flow';
import { ancillaryOf, type ReceiveArea, sharedReceiveArea, STREAM_CHUNK } from './receive';

/** A connected stream socket relayed to a sink and from a source (see Connection). Owns fd. */
export class StreamConnection extends Connection {
  private readonly area: ReceiveArea;

  constructor(fd: number, opts: ConnectionOptions, onFinish: FinishCallback) {
    super(fd, opts, onFinish, 'bytes');
    this.area = opts.receiveArea ?? sharedReceiveArea(STREAM_CHUNK);
  }

  protected receiveOnce(): boolean {
    if (this.opts.descriptors) return this.receiveWithAncillary();
    const buf = this.area.buffer;
    const n = read(this.fd, buf);
    if (n === WOULD_BLOCK) return false;
    if (n === 0) {
      this.peerEnded();
      return false;
    }
    this.stats.bytesIn += n;
    this.lastReceived = this.quietSince = Date.now();
    this.sink.writeNow(buf.subarray(0, n));
    return n === buf.length; // a short read means drained: the level-triggered poll calls again
  }

  /**
   * One recvmsg (connections with `descriptors`): the bytes go to the sink with the descriptors that
   * came with them. Returns false when the socket is drained or its peer ended. Throws SysError.
   */
  private receiveWithAncillary(): boolean {
    const reader = this.area.reader;
    const n = reader.receive(this.fd, 0);
    if (n === WOULD_BLOCK) return false;
    const anc = ancillaryOf(reader);
    if (n === 0 && !anc) {
      // a descriptor needs a byte on a stream: 0 bytes is the EOF
      this.peerEnded();
      return false;
    }
    this.stats.bytesIn += n;
    this.lastReceived = this.quietSince = Date.now();
    this.deliver(reader.data.subarray(0, n), anc, false);
    // A short read means drained (the level-triggered poll calls again), unless descriptors cut it short.
    return n === reader.data.length || anc !== undefined;
  }
}
