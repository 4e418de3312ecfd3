// A message connection (SOCK_SEQPACKET, SOCK_DGRAM): each receive is one message, framed for the sink (oversize ones dropped and reported), each unit is sent as one message; seqpacket half-closes, a datagram peer has no EOF.
import { hasCode } from '../sys/errors';
import { MSG_TRUNC } from '../sys/platform/linux';
import { WOULD_BLOCK } from '../sys/fd';
import { recv, seqpacketEnded } from '../sys/socket';
import { Connection, type FinishCallback } from './connection-base';
import type { Ancillary, ConnectionOptions } from './flow';
import { encodeMessage } from './framing';
import { ancillaryOf, type ReceiveArea, sharedReceiveArea } from './receive';

/** A connected seqpacket or dgram socket relayed to a sink and from a source (see Connection). Owns fd. */
export class MessageConnection extends Connection {
  private readonly area: ReceiveArea;
  private readonly seqpacket: boolean;

  constructor(fd: number, opts: ConnectionOptions, onFinish: FinishCallback) {
    super(fd, opts, onFinish, 'messages');
    this.area = sharedReceiveArea(opts.maxSize);
    this.seqpacket = opts.type === 'seqpacket';
  }

  /** A datagram socket has no half-close to pass on: its write side only stops. */
  protected override get shutsDown(): boolean {
    return this.seqpacket && !this.opts.noShutdown;
  }

  protected receiveOnce(): boolean {
    if (this.opts.descriptors) return this.receiveWithAncillary();
    const buf = this.area.buffer;
    const n = recv(this.fd, buf, MSG_TRUNC);
    if (n === WOULD_BLOCK) return false;
    if (n === 0 && this.seqpacket && seqpacketEnded(this.fd)) {
      this.peerEnded();
      return false;
    }
    this.takeMessage(buf, n);
    return true;
  }

  /** One recvmsg (connections with `descriptors`): the message goes to the sink with its descriptors. Returns false when the socket is drained or its peer ended. Throws SysError. */
  private receiveWithAncillary(): boolean {
    const reader = this.area.reader;
    const n = reader.receive(this.fd, MSG_TRUNC);
    if (n === WOULD_BLOCK) return false;
    const anc = ancillaryOf(reader);
    // A seqpacket message of 0 bytes may carry descriptors: only one without them can be the EOF.
    if (n === 0 && !anc && this.seqpacket && seqpacketEnded(this.fd)) {
      this.peerEnded();
      return false;
    }
    this.takeMessage(reader.data, n, anc);
    return true;
  }

  /** A message of n bytes (its real length: larger than buf when truncated) received into buf: framed into the sink, or dropped and reported when oversize. */
  private takeMessage(buf: Buffer, n: number, anc?: Ancillary): void {
    if (n > buf.length) {
      this.stats.oversize++;
      this.opts.diagnostics.warn('oversize', `received message of ${n} bytes exceeds --max-size ${this.opts.maxSize}: dropped`, {
        length: n,
      });
      if (anc?.fds.length) this.dropDescriptors(anc.fds, `their message of ${n} bytes exceeds --max-size ${this.opts.maxSize}`, false);
      return;
    }
    this.stats.messagesIn++;
    this.stats.bytesIn += n;
    this.lastReceived = this.quietSince = Date.now();
    const pieces = encodeMessage(this.opts.frame, buf.subarray(0, n));
    // The descriptors go with the first piece (the message itself when raw).
    for (let i = 0; i < pieces.length; i++) this.deliver(pieces[i]!, i === 0 ? anc : undefined, true);
    this.onMessage();
  }

  /** A datagram peer sends no EOF: once it is gone, what it sent before is read at once and the connection finishes. */
  protected override afterSendFailed(): void {
    if (this.seqpacket) return super.afterSendFailed();
    this.opts.source?.stop();
    this.readSocket();
    this.finish('eof');
  }

  /** A dgram send of ours that was refused shows up on a receive too: the send's failure ends the connection. */
  protected override receiveFailed(err: Error): void {
    if (!this.seqpacket && hasCode(err, 'ECONNREFUSED')) return;
    super.receiveFailed(err);
  }
}
