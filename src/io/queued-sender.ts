// The queued writer of a connection, shared by both kinds: the units waiting for its socket in order, the descriptors some carry, partial sends of a byte stream, and who waits for the queue to empty.
import { hasCode } from '../sys/errors';
import { sendWithDescriptors } from '../sys/msg';
import { WOULD_BLOCK, closeQuietly, write } from '../sys/fd';
import { send } from '../sys/socket';
import type { Diagnostics } from '../sys/diagnostics';
import type { RelayStats } from './stats';

/** The errors of a sendmsg that refuse the descriptors rather than the bytes: the bytes go on without them. */
const DESCRIPTORS_REFUSED = ['ETOOMANYREFS', 'EPERM', 'EACCES'];

export interface SenderOptions {
  fd: number;
  /** 'bytes': a unit may leave in several writes (stream); 'messages': each unit is one send, whole (seqpacket, dgram). */
  kind: 'bytes' | 'messages';
  /** Counts bytesOut, messagesOut and refused. */
  stats: RelayStats;
  diagnostics: Diagnostics;
  /** Gets each unit back once it is sent or dropped (the source's release). */
  release: (unit: Buffer) => void;
  /** Reports descriptors of a unit that will not be sent, saying why, and closes them. */
  dropDescriptors: (fds: readonly number[], reason: string) => void;
}

/**
 * Units to send on one socket. Never closes the socket; owns the descriptors of the units it holds
 * (closed once sent, or reported and closed when their unit is dropped).
 */
export class QueuedSender {
  private units: Buffer[] = [];
  /** The descriptors to send with queued units (only units that carry some). */
  private readonly unitFds = new Map<Buffer, readonly number[]>();
  /** Bytes of units[0] already sent (bytes kind). */
  private offset = 0;
  private waiters: Array<() => void> = [];
  /** Bytes waiting to be sent. */
  queued = 0;
  /** When a send last succeeded (ms since the epoch; 0: never). */
  lastSent = 0;

  constructor(private readonly o: SenderOptions) {}

  /** True while units wait to be sent. */
  get busy(): boolean {
    return this.units.length > 0;
  }

  /** Returns how many units wait. */
  get count(): number {
    return this.units.length;
  }

  /** Queues unit, with fds to send attached to it (owned by the sender from now on). */
  push(unit: Buffer, fds?: readonly number[]): void {
    if (fds?.length) this.unitFds.set(unit, fds);
    this.units.push(unit);
    this.queued += unit.length;
  }

  /** After a flush: when view (bytes its owner reuses) still waits first in the queue, replaces it by a copy of its unsent rest. */
  keepCopyOf(view: Buffer): void {
    if (this.units[0] !== view) return; // sent, or dropped by a failure
    this.units[0] = Buffer.from(view.subarray(this.offset));
    this.queued -= this.offset;
    this.offset = 0;
  }

  /**
   * Sends the queued units in order as far as the socket takes them. Returns true once the queue is
   * empty, false when the socket is full (flush again once it is writable). A message the kernel refuses
   * (EMSGSIZE, ENOBUFS) is dropped, counted in stats.refused and reported. Throws SysError otherwise
   * (EPIPE, ECONNRESET: the peer is gone), the failing unit still queued.
   */
  flush(): boolean {
    while (this.units.length) {
      const unit = this.units[0]!;
      let n: number | typeof WOULD_BLOCK;
      try {
        n = this.sendUnit(unit, this.offset);
      } catch (err) {
        if (!hasCode(err, 'EMSGSIZE', 'ENOBUFS')) throw err;
        const why = (err as Error).message;
        this.o.stats.refused++;
        this.o.diagnostics.warn('send-failed', `message of ${unit.length} bytes not sent: ${why}`);
        this.dropUnitFds(unit, `their message was not sent: ${why}`);
        this.dequeue();
        continue;
      }
      if (n === WOULD_BLOCK) return false;
      this.lastSent = Date.now();
      if (this.o.kind === 'bytes' && this.offset + n < unit.length) {
        this.offset += n;
        continue;
      }
      this.dequeue();
    }
    return true;
  }

  /** Calls cb once the queue is empty (sent, or dropped): at once when it is. */
  whenSent(cb: () => void): void {
    if (this.units.length === 0) cb();
    else this.waiters.push(cb);
  }

  /** Calls the whenSent callbacks waiting; call once the queue is empty. */
  callWaiters(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const cb of waiters) cb();
  }

  /** Empties the queue: each unit goes back to release, its descriptors are reported with reason and closed. Returns how many units were dropped. */
  dropAll(reason: string): number {
    const units = this.units;
    if (this.unitFds.size > 0) for (const unit of units) this.dropUnitFds(unit, reason);
    this.units = [];
    this.queued = 0;
    this.offset = 0;
    for (const unit of units) this.o.release(unit);
    return units.length;
  }

  private dequeue(): void {
    const unit = this.units.shift()!;
    this.queued -= unit.length;
    this.offset = 0;
    this.o.release(unit);
  }

  private dropUnitFds(unit: Buffer, reason: string): void {
    const fds = this.unitFds.get(unit);
    if (!fds) return;
    this.unitFds.delete(unit);
    this.o.dropDescriptors(fds, reason);
  }

  /** Sends unit from offset (bytes) or whole (messages), with its descriptors on its first send; returns the bytes sent or WOULD_BLOCK, counted in stats. Throws SysError. */
  private sendUnit(unit: Buffer, offset: number): number | typeof WOULD_BLOCK {
    if (this.unitFds.size > 0 && offset === 0) {
      const fds = this.unitFds.get(unit);
      if (fds) return this.sendWithFds(unit, fds);
    }
    if (this.o.kind === 'bytes') {
      const n = write(this.o.fd, offset ? unit.subarray(offset) : unit);
      if (n !== WOULD_BLOCK) this.o.stats.bytesOut += n;
      return n;
    }
    const n = send(this.o.fd, unit);
    if (n !== WOULD_BLOCK) {
      this.o.stats.bytesOut += n;
      this.o.stats.messagesOut++;
    }
    return n;
  }

  /**
   * Sends unit whole with fds attached (SCM_RIGHTS: on a stream the kernel keeps them with the first
   * byte sent, however much of the unit goes); once sent, the sender's copies are closed. When the
   * kernel refuses the descriptors (not the bytes), they are dropped and the unit is sent without them.
   * Returns the bytes sent or WOULD_BLOCK (fds kept for the next try). Throws SysError.
   */
  private sendWithFds(unit: Buffer, fds: readonly number[]): number | typeof WOULD_BLOCK {
    let n: number | typeof WOULD_BLOCK;
    try {
      n = sendWithDescriptors(this.o.fd, unit, fds);
    } catch (err) {
      if (!hasCode(err, ...DESCRIPTORS_REFUSED)) throw err;
      this.dropUnitFds(unit, `refused by the kernel: ${(err as Error).message}`);
      return this.sendUnit(unit, 0);
    }
    if (n === WOULD_BLOCK) return n;
    this.unitFds.delete(unit);
    for (const fd of fds) closeQuietly(fd);
    this.o.stats.bytesOut += n;
    if (this.o.kind === 'messages') this.o.stats.messagesOut++;
    return n;
  }
}
