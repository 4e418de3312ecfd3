// `usock send-fd`: open FILEs and pick inherited descriptors, then pass them all in one SCM_RIGHTS message, as a client or to every client (--listen).
import { addressOf, concreteType, DEFAULTS, maxConnsOf, rejectServerOptions, reporterOf, serverSpecOf } from '../../cli/options';
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
import { closeQuietly, fcntl, open, WOULD_BLOCK } from '../../sys/socket';
import type { SendFdArgv } from './index';

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
        throw new UsageError(`--fd ${fd} is not an open descriptor`, 'open it in the shell that runs usock, e.g. `usock send-fd ADDRESS --fd 3 3<FILE`');
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

/** What send-fd sends: the payload and the descriptors. */
interface Parcel {
  message: Buffer;
  fds: number[];
}

/** Runs `usock send-fd`; returns 0 once the message is sent (with --listen, serves until a signal). Throws UsockError, UsageError or SysError. */
export async function runSendFd(argv: SendFdArgv): Promise<number> {
  const reporter = reporterOf(argv);
  const type = concreteType(argv.type, 'send-fd');
  const files = (argv.files ?? []).map(String);
  const message = Buffer.from(String(argv.message ?? DEFAULTS.message));
  const count = files.length + (argv.fd?.length ?? 0);
  if (count === 0) throw new UsageError('nothing to send', 'give a FILE or --fd N');
  if (count > SCM_MAX_FD) throw new UsageError(`too many descriptors: ${count} (one message carries at most ${SCM_MAX_FD})`);
  if (type === 'stream' && message.length === 0) {
    throw new UsageError("--message '' cannot carry descriptors over a stream socket", 'give at least one byte, or use -t seqpacket or -t dgram');
  }
  if (!argv.listen) rejectServerOptions(argv, 'applies only with --listen');
  const spec = argv.listen ? serverSpecOf(argv, type, reporter, 'send-fd') : null;
  const inherited = inheritedDescriptors(argv.fd ?? []);
  // Every FILE is opened before any connection is made, so a bad one sends nothing.
  const parcel = { message, fds: [...openFiles(files, fileFlags(!!argv.write, !!argv.append)), ...inherited] };
  if (spec) {
    const server = openServer(spec);
    if (type === 'dgram') answerDatagrams(server.fd, parcel, spec.rules, reporter);
    else serveClients(server.fd, parcel, spec.rules, maxConnsOf(argv, false), reporter);
    return new Promise<number>(() => {}); // until a signal
  }
  const address = addressOf(argv.address);
  const fd = await connectAndRelease(address, type);
  try {
    await sendAll(fd, parcel);
    reporter.info('sent', `sent ${plural(parcel.fds.length, 'descriptor')} to ${address.text}`, { fds: parcel.fds.length, bytes: message.length });
    return EXIT.OK;
  } finally {
    closeQuietly(fd);
  }
}

/** Sends the parcel on fd (to `to` when given), waiting while the socket is full. Throws SysError. Closes nothing. */
async function sendAll(fd: number, parcel: Parcel, to?: Buffer): Promise<void> {
  while (sendWithDescriptors(fd, parcel.message, parcel.fds, to) === WOULD_BLOCK) await whenWritable(fd);
}

/** Serves stream and seqpacket clients until a signal: each admitted client gets the parcel, then its connection is closed. */
function serveClients(listenFd: number, parcel: Parcel, rules: AccessRules | null, maxConns: number, reporter: Reporter): void {
  const loop = acceptLoop(listenFd, {
    rules,
    maxConns,
    diagnostics: reporter,
    onPeer: (fd, cred) => {
      sendAll(fd, parcel).then(
        () => reporter.info('sent', `sent ${plural(parcel.fds.length, 'descriptor')} to ${describePeer(cred)}`, { peer: cred, fds: parcel.fds.length }),
        (err) => reporter.warn('send-failed', `send to ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred }),
      ).finally(() => {
        closeQuietly(fd);
        loop.released();
      });
    },
  });
}

/** Answers every datagram on fd with the parcel, sent to its sender; unnamed senders cannot be answered and are reported. fd stays the caller's. */
function answerDatagrams(fd: number, parcel: Parcel, rules: AccessRules | null, reporter: Reporter): void {
  new DatagramReceiver(fd, {
    maxData: 0,
    credentials: true,
    rules,
    diagnostics: reporter,
    onDatagram: (d) => {
      const who = d.cred && d.cred.pid > 0 ? describePeer(d.cred) : 'a sender';
      if (!d.from) {
        reporter.warn('unnamed', `request from ${who} on an unnamed socket: no address to send the descriptors to`, { peer: d.cred });
        return;
      }
      const to = senderText(d.from);
      try {
        if (sendWithDescriptors(fd, parcel.message, parcel.fds, d.from) === WOULD_BLOCK) {
          reporter.warn('send-dropped', `descriptors for ${to} dropped: its queue is full`, { to });
        } else {
          reporter.info('sent', `sent ${plural(parcel.fds.length, 'descriptor')} to ${to} (${who})`, { to, peer: d.cred, fds: parcel.fds.length });
        }
      } catch (err) {
        reporter.warn('send-failed', `send to ${to}: ${(err as Error).message}`, { to });
      }
    },
  }).start();
}
