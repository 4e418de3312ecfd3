// tap's datagram side: each client address is a connection with its own socket toward the target, so that replies find their way back; every datagram relayed and recorded.
import type { Diagnostics } from '../../io/stats';
import { idleTimer, type LongTimer } from '../../io/timer';
import type { AccessRules } from '../../net/access';
import type { SocketAddress } from '../../net/address';
import { connectTo } from '../../net/client';
import { DatagramReceiver, senderText, type Datagram } from '../../net/datagram';
import { processCommand } from '../../net/procnet';
import type { Reporter } from '../../report/reporter';
import { hasCode } from '../../sys/errors';
import { FdWatcher } from '../../sys/poll';
import { MSG_TRUNC } from '../../sys/platform/linux';
import { closeQuietly, recv, send, sendto, WOULD_BLOCK } from '../../sys/socket';
import type { Recorder } from './record';

export interface DgramTapOptions {
  /** The bound dgram socket at LISTEN_ADDRESS (the caller owns it). */
  fd: number;
  target: SocketAddress;
  rules: AccessRules | null;
  maxSize: number;
  timeout: number | null;
  recorder: Recorder;
  reporter: Reporter;
  /** Diagnostics that record rejections. */
  diagnostics: Diagnostics;
  /** Returns the next connection number. */
  nextConn: () => number;
  /** Called each time a conversation ends (-w): -c counts them. */
  onClosed: () => void;
}

/** One client address and its socket toward the target. */
interface Conversation {
  conn: number;
  /** The client's address; null for unnamed senders, which share one conversation and get no replies. */
  from: Buffer | null;
  fd: number | null;
  /** Datagrams received before the socket toward the target was connected. */
  pending: Buffer[];
  watcher: FdWatcher | null;
  idle: LongTimer | null;
  lastActive: number;
  closed: boolean;
}

/**
 * Relays datagrams between the clients of opts.fd and the target until the process ends: each client
 * address gets a socket bound (autobind) and connected to the target; its replies are sent back to that
 * client. A target that cannot be reached is reported and that conversation closed (the next datagram
 * tries again). The receiver pauses while the records are behind. Returns the receiver. Never throws.
 */
export function tapDatagrams(opts: DgramTapOptions): DatagramReceiver {
  const { recorder, reporter } = opts;
  const byAddress = new Map<string, Conversation>();
  const replyBuf = Buffer.allocUnsafe(opts.maxSize);
  let unnamedSaid = false;

  const close = (c: Conversation, error?: string) => {
    if (c.closed) return;
    c.closed = true;
    c.idle?.clear();
    c.watcher?.close();
    if (c.fd !== null) closeQuietly(c.fd);
    byAddress.delete(key(c.from));
    recorder.event(c.conn, 'close', error ? { error } : {});
    opts.onClosed();
  };

  const forward = (c: Conversation, data: Buffer) => {
    if (c.fd === null) return void c.pending.push(data);
    try {
      if (send(c.fd, data) === WOULD_BLOCK) reporter.warn('dropped', `connection ${c.conn}: datagram of ${data.length} bytes dropped: the target's queue is full`, { conn: c.conn });
    } catch (err) {
      if (hasCode(err, 'EMSGSIZE')) return reporter.warn('dropped', `connection ${c.conn}: ${(err as Error).message}`, { conn: c.conn });
      reporter.warn('target-failed', `connection ${c.conn}: send to ${opts.target.text}: ${(err as Error).message}`, { conn: c.conn });
      close(c, (err as Error).message);
    }
  };

  const readReplies = (c: Conversation) => {
    for (let i = 0; i < 64 && !c.closed; i++) {
      let n: number | typeof WOULD_BLOCK;
      try {
        n = recv(c.fd!, replyBuf, MSG_TRUNC);
      } catch (err) {
        if (hasCode(err, 'ECONNREFUSED')) return close(c, 'the target is gone');
        return close(c, (err as Error).message);
      }
      if (n === WOULD_BLOCK) return;
      c.lastActive = Date.now();
      if (n > replyBuf.length) {
        reporter.warn('oversize', `connection ${c.conn}: reply of ${n} bytes exceeds ${replyBuf.length}: dropped`, { conn: c.conn });
        continue;
      }
      const reply = replyBuf.subarray(0, n);
      recorder.data(c.conn, 's2c', reply);
      if (!c.from) continue; // an unnamed client cannot get it
      try {
        if (sendto(opts.fd, reply, c.from) === WOULD_BLOCK) reporter.warn('dropped', `connection ${c.conn}: reply of ${n} bytes dropped: the client's queue is full`, { conn: c.conn });
      } catch (err) {
        return close(c, `the client is gone: ${(err as Error).message}`);
      }
    }
  };

  const open = (d: Datagram): Conversation => {
    const from = d.from ? Buffer.from(d.from) : null;
    const c: Conversation = { conn: opts.nextConn(), from, fd: null, pending: [], watcher: null, idle: null, lastActive: Date.now(), closed: false };
    byAddress.set(key(from), c);
    const cred = d.cred && d.cred.pid > 0 ? d.cred : null;
    recorder.open(c.conn, cred ? { pid: cred.pid, uid: cred.uid, gid: cred.gid, command: processCommand(cred.pid) } : null);
    if (!from && !unnamedSaid) {
      unnamedSaid = true;
      reporter.warn('unnamed', 'datagrams from an unnamed sender are relayed and recorded, but replies cannot reach it');
    }
    connectTo(opts.target, 'dgram').then(({ fd }) => {
      if (c.closed) return closeQuietly(fd);
      c.fd = fd;
      c.watcher = new FdWatcher(fd, (err) => close(c, (err as Error).message));
      c.watcher.onReadable(() => readReplies(c));
      for (const data of c.pending.splice(0)) forward(c, data);
    }, (err: Error) => {
      reporter.warn('target-failed', `connection ${c.conn}: ${err.message}`, { conn: c.conn });
      close(c, err.message);
    });
    if (opts.timeout !== null) c.idle = idleTimer(opts.timeout, () => c.lastActive, () => close(c));
    return c;
  };

  const receiver: DatagramReceiver = new DatagramReceiver(opts.fd, {
    maxData: opts.maxSize,
    credentials: true,
    rules: opts.rules,
    diagnostics: opts.diagnostics,
    onDatagram: (d) => {
      if (d.length > d.data.length) {
        reporter.warn('oversize', `datagram of ${d.length} bytes from ${senderText(d.from)} exceeds ${d.data.length}: dropped`, { length: d.length });
        return;
      }
      const c = byAddress.get(key(d.from)) ?? open(d);
      c.lastActive = Date.now();
      const data = Buffer.from(d.data);
      recorder.data(c.conn, 'c2s', data);
      forward(c, data);
    },
    afterBatch: () => {
      if (!recorder.full) return;
      receiver.pause(); // the records are behind: the clients' datagrams wait in the socket's queue
      recorder.whenDrained(() => receiver.start());
    },
  });
  receiver.start();
  return receiver;
}

/** Returns the map key of a client address. */
function key(from: Buffer | null): string {
  return from ? from.toString('latin1') : '';
}
