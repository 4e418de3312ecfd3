// `usock send-fd`: open FILEs and pick inherited descriptors, then pass them all in one SCM_RIGHTS message, as a client or to every client (--listen).
import { openServer, serverSettings, warnRulesIgnored, type ServerSettings } from './net/serve';
import { type AccessArgs } from './access';
import { CliError, EXIT, UsageError } from './errors';
import { handleSignals } from './lifecycle';
import { concreteType, connectToAddress } from './net/client';
import { acceptLoop, admitSender, passCredentials } from './net/server';
import { describePeer, type Reporter } from './output';
import { reporterFor, type CommonArgs } from './settings';
import { SysError } from './sys/errors';
import { receiveMessage, sendWithDescriptors } from './sys/msg';
import { F_GETFD, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, SCM_MAX_FD } from './sys/platform/linux';
import { FdWatcher } from './sys/poll';
import { closeQuietly, fcntl, open, WOULD_BLOCK, type SocketType } from './sys/socket';

export interface SendFdArgs extends CommonArgs, AccessArgs {
  address: string;
  files?: string[];
  listen?: boolean;
  write?: boolean;
  append?: boolean;
  fd?: string[];
  message: string;
  mode?: string;
  backlog: number;
}

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

/** Returns a descriptor for each file, in order. Throws CliError 66 naming the first file that cannot be opened, after closing the others. */
export function openFiles(files: readonly string[], flags: number): number[] {
  const fds: number[] = [];
  for (const file of files) {
    try {
      fds.push(open(file, flags));
    } catch (err) {
      for (const fd of fds) closeQuietly(fd);
      if (err instanceof SysError) throw new CliError(err.message, EXIT.NOINPUT);
      throw err;
    }
  }
  return fds;
}

/** Runs `usock send-fd`; returns 0 once the message is sent (with --listen, serves until a signal). Throws CliError, UsageError or SysError. */
export async function runSendFd(argv: SendFdArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'send-fd');
  const files = (argv.files ?? []).map(String);
  const message = Buffer.from(String(argv.message ?? '\0'));
  const count = files.length + (argv.fd?.length ?? 0);
  if (count === 0) throw new UsageError('nothing to send', 'give a FILE or --fd N');
  if (count > SCM_MAX_FD) throw new UsageError(`too many descriptors: ${count} (one message carries at most ${SCM_MAX_FD})`);
  if (type === 'stream' && message.length === 0) {
    throw new UsageError("--message '' cannot carry descriptors over a stream socket", 'give at least one byte, or use -t seqpacket or -t dgram');
  }
  const settings = argv.listen ? serverSettings(argv) : null;
  if (!argv.listen) warnRulesIgnored(argv, reporter);
  const inherited = inheritedDescriptors(argv.fd ?? []);
  // Every FILE is opened before any connection is made, so a bad one sends nothing.
  const fds = [...openFiles(files, fileFlags(!!argv.write, !!argv.append)), ...inherited];
  handleSignals();
  if (settings) return serve(argv, type, { message, fds, settings, reporter });
  const client = { fd: await connectToAddress(argv.address, type) };
  try {
    await sendAll(client.fd, message, fds);
    reporter.info('sent', `sent ${plural(fds.length, 'descriptor')} to ${argv.address}`, { fds: fds.length, bytes: message.length });
    return EXIT.OK;
  } finally {
    closeQuietly(client.fd);
  }
}

interface ServeSettings {
  message: Buffer;
  fds: number[];
  settings: ServerSettings;
  reporter: Reporter;
}

/** Returns "N word" or "N words". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Sends the message on fd, waiting while the socket is full. Throws SysError. Closes nothing. */
async function sendAll(fd: number, message: Buffer, fds: number[], to?: Buffer): Promise<void> {
  for (;;) {
    if (sendWithDescriptors(fd, message, fds, to) !== WOULD_BLOCK) return;
    const watcher = new FdWatcher(fd);
    await new Promise<void>((resolve) => watcher.onWritable(resolve));
    watcher.close();
  }
}

/**
 * Serves `send-fd --listen` until a signal. stream and seqpacket: each admitted client gets the message,
 * then its connection is closed. dgram: each datagram is a request, answered with the message sent to
 * its sender's address; unnamed senders cannot be answered and are reported.
 */
function serve(argv: SendFdArgs, type: SocketType, s: ServeSettings): Promise<number> {
  const server = openServer(argv.address, type, s.settings, s.reporter, 'send-fd');
  if (type === 'dgram') answerDatagrams(server.fd, s);
  else {
    acceptLoop(server.fd, {
      rules: s.settings.rules,
      reporter: s.reporter,
      onPeer: (fd, cred) => {
        sendAll(fd, s.message, s.fds).then(
          () => s.reporter.info('sent', `sent ${plural(s.fds.length, 'descriptor')} to ${describePeer(cred)}`, { peer: cred, fds: s.fds.length }),
          (err) => s.reporter.warn('send-failed', `send to ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred }),
        ).finally(() => closeQuietly(fd));
      },
    });
  }
  return new Promise<number>(() => {}); // until a signal
}

/** Answers every datagram on fd with the message, sent to its sender. Descriptors a request carries are closed at once. fd stays the caller's. */
function answerDatagrams(fd: number, s: ServeSettings): void {
  passCredentials(fd);
  const watcher = new FdWatcher(fd);
  watcher.onReadable(() => {
    for (let i = 0; i < 64; i++) {
      let msg;
      try {
        msg = receiveMessage(fd, 0, 0);
      } catch (err) {
        s.reporter.warn('recv-failed', `recvmsg: ${(err as Error).message}`);
        return;
      }
      if (msg === WOULD_BLOCK) return;
      if (!admitSender(s.settings.rules, msg.cred, s.reporter)) continue;
      const who = msg.cred && msg.cred.pid > 0 ? describePeer(msg.cred) : 'a sender';
      if (!msg.fromAddress) {
        s.reporter.warn('unnamed', `request from ${who} on an unnamed socket: no address to send the descriptors to`, { peer: msg.cred });
        continue;
      }
      try {
        if (sendWithDescriptors(fd, s.message, s.fds, msg.fromAddress) === WOULD_BLOCK) {
          s.reporter.warn('send-dropped', `descriptors for ${msg.from} dropped: its queue is full`, { to: msg.from });
        } else {
          s.reporter.info('sent', `sent ${plural(s.fds.length, 'descriptor')} to ${msg.from} (${who})`, { to: msg.from, peer: msg.cred, fds: s.fds.length });
        }
      } catch (err) {
        s.reporter.warn('send-failed', `send to ${msg.from}: ${(err as Error).message}`, { to: msg.from });
      }
    }
  });
}
