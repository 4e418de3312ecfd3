// tap's datagram side: each client address is a connection with its own socket toward the target, so that replies find their way back; every datagram relayed and recorded, descriptors (SCM_RIGHTS) with it.
import type { Diagnostics } from '../../sys/diagnostics';
import { idleTimer, type LongTimer } from '../../io/timer';
import type { AccessRules } from '../../net/access';
import type { NamedAddress } from '../../net/address';
import { connectTo } from '../../net/client';
import { DatagramReceiver, senderText, type Datagram } from '../../net/datagram';
import { processCommand } from '../../net/procnet';
import type { Reporter } from '../../report/reporter';
import { hasCode } from '../../sys/errors';
import { MessageReader, sendWithDescriptors } from '../../sys/msg';
import { FdWatcher } from '../../sys/poll';
import { MSG_TRUNC, SCM_MAX_FD } from '../../sys/platform/linux';
import { closeQuietly, WOULD_BLOCK } from '../../sys/fd';
import { send, sendto } from '../../sys/socket';
import { describeFds, type Direction, type Recorder } from './record';

export interface DgramTapOptions {
  /** The bound dgram socket at LISTEN_ADDRESS (the caller owns it). */
  fd: number;
  target: NamedAddress;
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
  /** Datagrams received before the socket toward the target was connected, with their descriptors (tap's until sent). */
  pending: Array<{ data: Buffer; fds: readonly number[] }>;
  watcher: FdWatcher | null;
  idle: LongTimer | null;
  lastActive: number;
  closed: boolean;
}

/**
 * Relays datagrams between the clients of opts.fd and the target until the process ends: each client
 * address gets a socket bound (autobind) and connected to the target; its replies are sent back to that
 * client. A target that cannot be reached is reported and that conversation closed (the next datagram
 * tries again). The receiver pauses while the records are behind. Datagrams' descriptors are relayed
 * with them both ways and closed here once sent; those that cannot be delivered are recorded as drop and
 * reported, then closed. Returns the receiver. Never throws.
 */
export function tapDatagrams(opts: DgramTapOptions): DatagramReceiver {
  const { recorder, reporter } = opts;
  const byAddress = new Map<string, Conversation>();
  // Replies: one recvmsg prepared over one buffer, with room for SCM_MAX_FD descriptors.
  const replies = new MessageReader(Buffer.allocUnsafe(opts.maxSize));
  let unnamedSaid = false;

  /** Records (with a conversation) and reports descriptors that will not reach dir's receiver, and closes them. */
  const drop = (c: Conversation | undefined, dir: Direction, fds: readonly number[], reason: string) => {
    if (fds.length === 0) return;
    const error = `not delivered to the ${dir === 'c2s' ? 'target' : 'client'}: ${reason}`;
    try {
      if (c) recorder.event(c.conn, 'drop', { dir, fds: describeFds(fds), error });
      reporter.warn(
        'fds-dropped',
        `${c ? `connection ${c.conn}: ` : ''}${fds.length} descriptor${fds.length === 1 ? '' : 's'} closed, ${error}`,
        { conn: c?.conn ?? null, dir, fds: fds.length },
      );
    } finally {
      for (const fd of fds) closeQuietly(fd);
    }
  };

  /** Records a datagram with its descriptors (described while still open), warning after MSG_CTRUNC. */
  const record = (c: Conversation, dir: Direction, data: Buffer, fds: readonly number[], ctrunc: boolean) => {
    if (ctrunc)
      reporter.warn(
        'ctrunc',
        `connection ${c.conn} (${dir === 'c2s' ? 'client' : 'server'}): control data truncated (MSG_CTRUNC): descriptors were lost`,
        { conn: c.conn, dir },
      );
    if (fds.length === 0 && !ctrunc) recorder.data(c.conn, dir, data);
    else recorder.data(c.conn, dir, data, describeFds(fds), ctrunc);
  };

  const close = (c: Conversation, error?: string) => {
    if (c.closed) return;
    c.closed = true;
    c.idle?.clear();
    c.watcher?.close();
    if (c.fd !== null) closeQuietly(c.fd);
    byAddress.delete(key(c.from));
    for (const p of c.pending.splice(0)) drop(c, 'c2s', p.fds, 'the conversation closed first');
    recorder.event(c.conn, 'close', error ? { error } : {});
    opts.onClosed();
  };

  /** Sends data (with fds) to the target, or holds it until the socket toward the target is connected. Owns fds: closes them once sent or dropped. */
  const forward = (c: Conversation, data: Buffer, fds: readonly number[]) => {
    if (c.fd === null) return void c.pending.push({ data, fds });
    let n: number | typeof WOULD_BLOCK;
    try {
      n = fds.length ? sendWithDescriptors(c.fd, data, fds) : send(c.fd, data);
    } catch (err) {
      const message = (err as Error).message;
      drop(c, 'c2s', fds, message);
      if (hasCode(err, 'EMSGSIZE')) return reporter.warn('dropped', `connection ${c.conn}: ${message}`, { conn: c.conn });
      reporter.warn('target-failed', `connection ${c.conn}: send to ${opts.target.text}: ${message}`, { conn: c.conn });
      return close(c, message);
    }
    if (n === WOULD_BLOCK) {
      reporter.warn('dropped', `connection ${c.conn}: datagram of ${data.length} bytes dropped: the target's queue is full`, {
        conn: c.conn,
      });
      return drop(c, 'c2s', fds, "the target's queue is full");
    }
    for (const fd of fds) closeQuietly(fd);
  };

  const readReplies = (c: Conversation) => {
    for (let i = 0; i < 64 && !c.closed; i++) {
      let n: number | typeof WOULD_BLOCK;
      try {
        n = replies.receive(c.fd!, MSG_TRUNC);
      } catch (err) {
        if (hasCode(err, 'ECONNREFUSED')) return close(c, 'the target is gone');
        return close(c, (err as Error).message);
      }
      if (n === WOULD_BLOCK) return;
      const fds = replies.fds;
      c.lastActive = Date.now();
      if (n > replies.data.length) {
        reporter.warn('oversize', `connection ${c.conn}: reply of ${n} bytes exceeds ${replies.data.length}: dropped`, { conn: c.conn });
        drop(c, 's2c', fds, `the reply of ${n} bytes was too large`);
        continue;
      }
      const reply = replies.data.subarray(0, n); // sent and recorded before the buffer is read again
      record(c, 's2c', reply, fds, replies.controlTruncated);
      if (!c.from) {
        // an unnamed client cannot get it
        drop(c, 's2c', fds, 'the client is unnamed');
        continue;
      }
      let r: number | typeof WOULD_BLOCK;
      try {
        r = fds.length ? sendWithDescriptors(opts.fd, reply, fds, c.from) : sendto(opts.fd, reply, c.from);
      } catch (err) {
        drop(c, 's2c', fds, (err as Error).message);
        return close(c, `the client is gone: ${(err as Error).message}`);
      }
      if (r === WOULD_BLOCK) {
        reporter.warn('dropped', `connection ${c.conn}: reply of ${n} bytes dropped: the client's queue is full`, { conn: c.conn });
        drop(c, 's2c', fds, "the client's queue is full");
        continue;
      }
      for (const fd of fds) closeQuietly(fd);
    }
  };

  const open = (d: Datagram): Conversation => {
    const from = d.from ? Buffer.from(d.from) : null;
    const c: Conversation = {
      conn: opts.nextConn(),
      from,
      fd: null,
      pending: [],
      watcher: null,
      idle: null,
      lastActive: Date.now(),
      closed: false,
    };
    byAddress.set(key(from), c);
    const cred = d.cred && d.cred.pid > 0 ? d.cred : null;
    recorder.open(c.conn, cred ? { pid: cred.pid, uid: cred.uid, gid: cred.gid, command: processCommand(cred.pid) } : null);
    if (!from && !unnamedSaid) {
      unnamedSaid = true;
      reporter.warn('unnamed', 'datagrams from an unnamed sender are relayed and recorded, but replies cannot reach it');
    }
    connectTo(opts.target, 'dgram').then(
      ({ fd }) => {
        if (c.closed) return closeQuietly(fd);
        c.fd = fd;
        c.watcher = new FdWatcher(fd, (err) => close(c, (err as Error).message));
        c.watcher.onReadable(() => readReplies(c));
        for (const p of c.pending.splice(0)) forward(c, p.data, p.fds);
      },
      (err: Error) => {
        reporter.warn('target-failed', `connection ${c.conn}: ${err.message}`, { conn: c.conn });
        close(c, err.message);
      },
    );
    if (opts.timeout !== null)
      c.idle = idleTimer(
        opts.timeout,
        () => c.lastActive,
        () => close(c),
      );
    return c;
  };

  const receiver: DatagramReceiver = new DatagramReceiver(opts.fd, {
    maxData: opts.maxSize,
    maxFds: SCM_MAX_FD,
    credentials: true,
    rules: opts.rules,
    diagnostics: opts.diagnostics,
    onDatagram: (d) => {
      let fds: readonly number[] = d.fds; // tap's: each path below sends or drops them
      try {
        if (d.length > d.data.length) {
          reporter.warn('oversize', `datagram of ${d.length} bytes from ${senderText(d.from)} exceeds ${d.data.length}: dropped`, {
            length: d.length,
          });
          const passing = fds;
          fds = [];
          return drop(byAddress.get(key(d.from)), 'c2s', passing, `the datagram of ${d.length} bytes was too large`);
        }
        const c = byAddress.get(key(d.from)) ?? open(d);
        c.lastActive = Date.now();
        const data = Buffer.from(d.data);
        record(c, 'c2s', data, fds, d.received?.controlTruncated ?? false);
        const passing = fds;
        fds = [];
        forward(c, data, passing);
      } finally {
        for (const fd of fds) closeQuietly(fd); // only after an exception before they were handed on
      }
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
