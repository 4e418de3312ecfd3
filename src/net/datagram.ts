// The one receive loop of a bound datagram socket: each datagram with its sender's address (and, where asked, credentials and descriptors), senders checked against the access rules.
import type { Diagnostics } from '../sys/diagnostics';
import { describePeer } from '../report/text';
import { receiveMessage, type ReceivedMessage } from '../sys/msg';
import { FdWatcher } from '../sys/poll';
import { MSG_TRUNC, SA_FAMILY_SIZE, SCM_MAX_FD, SOCKADDR_UN_SIZE } from '../sys/platform/linux';
import { decodeAddress } from '../sys/sockaddr';
import { closeQuietly, WOULD_BLOCK } from '../sys/fd';
import { recvfrom, type Ucred } from '../sys/socket';
import { admits, type AccessRules } from './access';
import { passCredentials } from './credentials';

const RECEIVES_PER_TURN = 64;

/** One received datagram; data, from and fds are valid until the handler returns (copy what you keep). */
export interface Datagram {
  /** The datagram's real length (MSG_TRUNC): more than data.length when it did not fit. */
  length: number;
  /** Its data, at most maxData bytes. */
  data: Buffer;
  /** The sender's sockaddr_un; null when the sender is unnamed (it cannot get a reply). */
  from: Buffer | null;
  /** The sender's credentials (SCM_CREDENTIALS) when asked for; pid 0 when the kernel had none. */
  cred: Ucred | null;
  /** Descriptors it carried (SCM_RIGHTS, close-on-exec) when asked for: the handler owns them. */
  fds: number[];
  /** The whole recvmsg result (truncation flags, descriptors closed beyond maxFds); null on the recvfrom path. */
  received: ReceivedMessage | null;
}

export interface DatagramOptions {
  /** Bytes of each datagram to keep. */
  maxData: number;
  /** Descriptors to keep from each datagram (0: none; the kernel closes what does not fit). */
  maxFds?: number;
  /** Ask for each sender's credentials (SO_PASSCRED); implied by rules. */
  credentials?: boolean;
  /** Senders to admit; a rejected sender's datagram is dropped (its descriptors closed) and reported. */
  rules: AccessRules | null;
  diagnostics: Diagnostics;
  /** Gets each admitted datagram. An exception it throws is reported in one line; the loop goes on. */
  onDatagram: (d: Datagram) => void;
  /** Called after each batch of datagrams taken in one turn (to write out what they produced at once). */
  afterBatch?: () => void;
}

/** Returns the text of a sender address for diagnostics: a path, `@name`, or `an unnamed sender`. */
export function senderText(from: Buffer | null): string {
  return from ? decodeAddress(from, from.length) : 'an unnamed sender';
}

/**
 * Receives datagrams on fd (a bound dgram socket the caller owns) until closed. Without rules,
 * credentials or descriptors it uses recvfrom into one reused buffer; otherwise recvmsg. Datagrams
 * carry no supplementary groups, so rules match the uid and primary gid only; a datagram without
 * credentials (pid 0: queued before SO_PASSCRED was set) never passes rules.
 */
export class DatagramReceiver {
  private readonly watcher: FdWatcher;
  private readonly buf: Buffer;
  private readonly fromBuf = Buffer.alloc(SOCKADDR_UN_SIZE);
  private readonly fromLen = new Uint32Array(1);
  private readonly simple: boolean;
  private closed = false;

  constructor(
    readonly fd: number,
    private readonly opts: DatagramOptions,
  ) {
    this.simple = !opts.rules && !opts.credentials && !opts.maxFds;
    if (!this.simple) passCredentials(fd);
    this.buf = Buffer.allocUnsafe(Math.max(opts.maxData, 1));
    this.watcher = new FdWatcher(fd);
  }

  /** Starts (or resumes) receiving. */
  start(): void {
    this.watcher.onReadable(() => this.receiveSome());
  }

  /** Stops receiving until start() (e.g. while stdout is full). */
  pause(): void {
    this.watcher.onReadable(null);
  }

  /** Stops for good; the caller closes fd. */
  close(): void {
    this.closed = true;
    this.watcher.close();
  }

  private receiveSome(): void {
    try {
      this.receiveBatch();
    } finally {
      this.opts.afterBatch?.();
    }
  }

  private receiveBatch(): void {
    // A handler that closes the receiver (-c N reached) leaves the datagrams after it in the kernel's queue.
    for (let i = 0; i < RECEIVES_PER_TURN && !this.closed; i++) {
      let d: Datagram | null | typeof WOULD_BLOCK;
      try {
        d = this.simple ? this.receiveSimple() : this.receiveFull();
      } catch (err) {
        this.opts.diagnostics.warn('recv-failed', (err as Error).message);
        return;
      }
      if (d === WOULD_BLOCK) return;
      if (d === null) continue; // rejected, and reported
      try {
        this.opts.onDatagram(d);
      } catch (err) {
        this.opts.diagnostics.warn('datagram-error', `datagram from ${senderText(d.from)}: ${(err as Error).message}`);
      }
    }
  }

  private receiveSimple(): Datagram | typeof WOULD_BLOCK {
    const n = recvfrom(this.fd, this.buf, MSG_TRUNC, this.fromBuf, this.fromLen);
    if (n === WOULD_BLOCK) return WOULD_BLOCK;
    const len = Math.min(this.fromLen[0]!, this.fromBuf.length);
    return {
      length: n,
      data: this.buf.subarray(0, Math.min(n, this.buf.length)),
      from: len > SA_FAMILY_SIZE ? this.fromBuf.subarray(0, len) : null,
      cred: null,
      fds: [],
      received: null,
    };
  }

  private receiveFull(): Datagram | null | typeof WOULD_BLOCK {
    const maxFds = this.opts.maxFds ?? 0;
    // With descriptors wanted, room for the kernel's maximum, so that extras are counted and closed here, not lost.
    const msg = receiveMessage(this.fd, this.opts.maxData, maxFds, maxFds > 0 ? SCM_MAX_FD : 0);
    if (msg === WOULD_BLOCK) return WOULD_BLOCK;
    const rules = this.opts.rules;
    if (rules) {
      const known = msg.cred !== null && msg.cred.pid > 0;
      if (!(known && admits(rules, { uid: msg.cred!.uid, gid: msg.cred!.gid }))) {
        for (const fd of msg.fds) closeQuietly(fd);
        this.opts.diagnostics.warn(
          'rejected',
          `rejected datagram from ${known ? describePeer(msg.cred) : 'a sender without credentials'}: no --allow rule matches`,
          { peer: known ? msg.cred : null },
          known ? `datagrams rejected from uid ${msg.cred!.uid}` : 'datagrams rejected from senders without credentials',
        );
        return null;
      }
    }
    return { length: msg.length, data: msg.data, from: msg.fromAddress, cred: msg.cred, fds: msg.fds, received: msg };
  }
}
