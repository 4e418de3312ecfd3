// `usock send-fd`: open FILEs and pick inherited descriptors, then pass them all in one SCM_RIGHTS message, as a client or to every client (--listen).
import { addressOf, reporterOf, serverSpecOf } from '../../cli/options';
import { deadline, idleTimer } from '../../io/timer';
import { EXIT, UsageError, UsockError } from '../../errors';
import { acceptLoop } from '../../net/accept';
import type { AccessRules } from '../../net/access';
import { connectAndRelease } from '../../net/client';
import { DatagramReceiver, senderText } from '../../net/datagram';
import { openServer } from '../../net/server';
import type { Reporter } from '../../report/reporter';
import { describePeer, plural } from '../../report/text';
import { SysError } from '../../sys/errors';
import { sendWithDescriptors } from '../../sys/msg';
import { F_GETFD, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, SCM_MAX_FD } from '../../sys/platform/linux';
import { whenWritable } from '../../sys/poll';
import { closeQuietly, fcntl, open, WOULD_BLOCK } from '../../sys/fd';
import type { SendFdSettings } from './index';

/** Returns the descriptor numbers of --fd, checked to be open in this process. Throws UsageError (64). */
export function inheritedDescriptors(values: readonly string[]): number[] {
  return values.map((v) => {
    const text = String(v);
    if (!/^\d+$/.test(text) || Number(text) > 0x7fffffff) throw new UsageError(`bad --fd '${text}': expected a descriptor number`);
    const fd = Number(text);
    try {
      fcntl(fd, F_GETFD);
    } catch (err) {
      if (err instanceof SysError && err.code === 'EBADF') {
        throw new UsageError(
          `--fd ${fd} is not an open descriptor`,
          'open it in the shell that runs usock, e.g. `usock send-fd ADDRESS --fd 3 3<FILE`',
        );
      }
      throw err;
    }
    return fd;
  });
}

/** Returns the open(2) flags for FILEs: read-only, read-write with --write, appending with --append (both create a missing file). */
export function fileFlags(write: boolean, append: boolean): number {
  if (append) return (write ? O_RDWR : O_WRONLY) | O_APPEND | O_CREAT;
  return write ? O_RDWR | O_CREAT : O_RDONLY;
}

/** Returns a descriptor for each file, in order. Throws UsockError (NOINPUT) naming the first file that cannot be opened, after closing the others. */
export function openFiles(files: readonly string[], flags: number): number[] {
  const fds: number[] = [];
  for (const file of files) {
    try {
      fds.push(open(file, flags));
    } catch (err) {
      for (const fd of fds) closeQuietly(fd);
      if (err instanceof SysError) throw new UsockError(err.message, 'NOINPUT');
      throw err;
    }
  }
  return fds;
}

/**
 * What send-fd sends: the payload, and the descriptors of one message: each FILE opened afresh for every
 * message (every client reads it from the start), and the --fd descriptors, shared by all.
 */
class Parcel {
  constructor(
    readonly message: Buffer,
    private readonly files: string[],
    private readonly flags: number,
    private readonly inherited: number[],
  ) {
    // Every FILE is opened once before anything is bound or connected, so that a bad one sends nothing (66).
    for (const fd of openFiles(files, flags)) closeQuietly(fd);
  }

  /** The number of descriptors in each message. */
  get count(): number {
    return this.files.length + this.inherited.length;
  }

  /** Opens the FILEs afresh and returns them with the --fd descriptors, in order. Throws UsockError (NOINPUT). Close them with release(). */
  open(): number[] {
    return [...openFiles(this.files, this.flags), ...this.inherited];
  }

  /** Closes what open() opened (not the --fd descriptors, which are usock's own). */
  release(fds: number[]): void {
    for (const fd of fds.slice(0, this.files.length)) closeQuietly(fd);
  }
}

/** Runs `usock send-fd`; returns 0 once the message is sent (with --listen, serves until a signal). Throws UsockError, UsageError or SysError. */
export async function runSendFd(s: SendFdSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type, files } = s;
  const message = Buffer.from(s.message);
  const count = files.length + s.fd.length;
  if (count === 0) throw new UsageError('nothing to send', 'give a FILE or --fd N');
  if (count > SCM_MAX_FD) throw new UsageError(`too many descriptors: ${count} (one message carries at most ${SCM_MAX_FD})`);
  if (type === 'stream' && message.length === 0) {
    throw new UsageError(
      "--message '' cannot carry descriptors over a stream socket",
      'give at least one byte, or use -t seqpacket or -t dgram',
    );
  }
  const timeout = s.timeout ?? null;
  const spec = s.listen ? serverSpecOf(s.address, s, type, reporter, 'send-fd') : null;
  const parcel = new Parcel(message, files, fileFlags(s.write, s.append), inheritedDescriptors(s.fd));
  if (spec) {
    const server = openServer(spec);
    const served = { count: 0, lastActive: Date.now() };
    if (type === 'dgram') answerDatagrams(server.fd, parcel, spec.rules, reporter, served);
    else serveClients(server.fd, parcel, spec.rules, s.maxConns, reporter, served);
    if (timeout === null) return new Promise<number>(() => {}); // until a signal
    // -w: no client for that long ends the server: 0 when it served some, 75 when none came.
    return new Promise<number>((resolve, reject) => {
      idleTimer(
        timeout,
        () => served.lastActive,
        () =>
          served.count > 0 ? resolve(EXIT.OK) : reject(new UsockError(`timed out after ${timeout} s waiting for a client`, 'TEMPFAIL')),
      );
    });
  }
  const address = addressOf(s.address);
  const send = async () => {
    const fd = await connectAndRelease(address, type);
    try {
      await sendOnce(fd, parcel);
    } finally {
      closeQuietly(fd);
    }
  };
  await deadline(send(), timeout, () => new UsockError(`send-fd ${address.text}: timed out after ${timeout} s`, 'TEMPFAIL'));
  reporter.info('sent', `sent ${plural(parcel.count, 'descriptor')} to ${address.text}`, { fds: parcel.count, bytes: message.length });
  return EXIT.OK;
}

/** Sends one message of the parcel on fd (to `to` when given), its FILEs opened afresh, waiting while the socket is full. Throws SysError, UsockError. Closes nothing but what it opened. */
async function sendOnce(fd: number, parcel: Parcel, to?: Buffer): Promise<void> {
  const fds = parcel.open();
  try {
    while (sendWithDescriptors(fd, parcel.message, fds, to) === WOULD_BLOCK) await whenWritable(fd);
  } finally {
    parcel.release(fds);
  }
}

/** What a send-fd server has done: clients served, and when it last saw one (for -w). */
interface Served {
  count: number;
  lastActive: number;
}

/** Serves stream and seqpacket clients until a signal: each admitted client gets the parcel, then its connection is closed. */
function serveClients(
  listenFd: number,
  parcel: Parcel,
  rules: AccessRules | null,
  maxConns: number,
  reporter: Reporter,
  served: Served,
): void {
  const loop = acceptLoop(listenFd, {
    rules,
    maxConns,
    diagnostics: reporter,
    onPeer: (fd, cred) => {
      served.lastActive = Date.now();
      sendOnce(fd, parcel)
        .then(
          () => {
            served.count++;
            reporter.info('sent', `sent ${plural(parcel.count, 'descriptor')} to ${describePeer(cred)}`, { peer: cred, fds: parcel.count });
          },
          (err) => reporter.warn('send-failed', `send to ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred }),
        )
        .finally(() => {
          closeQuietly(fd);
          loop.released();
        });
    },
  });
}

/** Answers every datagram on fd with the parcel, sent to its sender; unnamed senders cannot be answered and are reported. fd stays the caller's. */
function answerDatagrams(fd: number, parcel: Parcel, rules: AccessRules | null, reporter: Reporter, served: Served): void {
  new DatagramReceiver(fd, {
    maxData: 0,
    credentials: true,
    rules,
    diagnostics: reporter,
    onDatagram: (d) => {
      served.lastActive = Date.now();
      const who = d.cred && d.cred.pid > 0 ? describePeer(d.cred) : 'a sender';
      if (!d.from) {
        reporter.warn('unnamed', `request from ${who} on an unnamed socket: no address to send the descriptors to`, { peer: d.cred });
        return;
      }
      const to = senderText(d.from);
      let fds: number[] = [];
      try {
        fds = parcel.open();
        if (sendWithDescriptors(fd, parcel.message, fds, d.from) === WOULD_BLOCK) {
          reporter.warn('send-dropped', `descriptors for ${to} dropped: its queue is full`, { to });
        } else {
          served.count++;
          reporter.info('sent', `sent ${plural(parcel.count, 'descriptor')} to ${to} (${who})`, { to, peer: d.cred, fds: parcel.count });
        }
      } catch (err) {
        reporter.warn('send-failed', `send to ${to}: ${(err as Error).message}`, { to });
      } finally {
        parcel.release(fds);
      }
    },
  }).start();
}
