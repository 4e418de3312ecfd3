// `usock recv-fd`: receive one message with descriptors (SCM_RIGHTS), then copy their data to stdout, describe them (--info) or run `-- CMD` with them.
import { createReadStream } from 'node:fs';
import { addressOf, reporterOf, serverSpecOf } from '../../cli/options';
import { deadline } from '../../io/timer';
import { EXIT, UsageError, UsockError } from '../../errors';
import { printOut, stdoutWriter } from '../../io/stdio';
import { acceptOne } from '../../net/accept';
import type { AccessRules } from '../../net/access';
import { connectAndRelease } from '../../net/client';
import { passCredentials } from '../../net/credentials';
import { DatagramReceiver } from '../../net/datagram';
import { openServer } from '../../net/server';
import { describeDescriptor, type DescriptorInfo } from '../../proc/fdinfo';
import type { Reporter } from '../../report/reporter';
import { headCells, renderTable } from '../../report/table';
import { describePeer, escapeField, plural } from '../../report/text';
import { receiveMessage, type ReceivedMessage } from '../../sys/msg';
import { F_GETFL, O_NONBLOCK } from '../../sys/platform/linux';
import { FdWatcher, isPollable, whenWritable } from '../../sys/poll';
import { closeQuietly, fcntl, read, WOULD_BLOCK } from '../../sys/fd';
import { peerCredentials, send, seqpacketEnded, type SocketType, type Ucred } from '../../sys/socket';
import { isTerminal } from '../../sys/tty';
import type { RecvFdSettings } from './index';

/** The longest payload kept from the message (it is only reported with -v). */
const MAX_PAYLOAD = 64 * 1024;
const CHUNK = 256 * 1024;

/** A received message and who sent it. */
interface Delivery {
  msg: ReceivedMessage;
  peer: Ucred | null;
}

/** A warning to show about a received message. */
export interface MessageWarning {
  event: string;
  text: string;
  fields: Record<string, unknown>;
}

/** What recv-fd makes of a received message: warnings to show, the status to end with, and an error when there is nothing to work on. */
export interface MessageAssessment {
  warnings: MessageWarning[];
  /** 0, or 74 when the kernel truncated the control data (MSG_CTRUNC). */
  status: number;
  /** Set when the message brought no descriptors: DATAERR (65), or IOERR (74) when MSG_CTRUNC lost them all. */
  error: UsockError | null;
}

/** Returns the assessment of msg received with --max-fds maxFds. Pure: closes nothing, prints nothing. */
export function assessMessage(msg: ReceivedMessage, maxFds: number): MessageAssessment {
  const warnings: MessageWarning[] = [];
  if (msg.extraClosed > 0) {
    warnings.push({
      event: 'extra-fds',
      text: `closed ${msg.extraClosed} descriptor${msg.extraClosed === 1 ? '' : 's'} beyond --max-fds ${maxFds}`,
      fields: { closed: msg.extraClosed, maxFds },
    });
  }
  if (msg.controlTruncated) {
    warnings.push({
      event: 'ctrunc',
      text: 'control message truncated (MSG_CTRUNC): descriptors that did not fit were closed by the kernel',
      fields: { kept: msg.fds.length },
    });
  }
  let error: UsockError | null = null;
  if (msg.fds.length === 0) {
    error = msg.controlTruncated
      ? new UsockError('control message truncated (MSG_CTRUNC): no descriptor arrived', 'IOERR')
      : new UsockError(
          `received a message of ${msg.length} byte${msg.length === 1 ? '' : 's'} without descriptors`,
          'DATAERR',
          'the peer must attach descriptors (SCM_RIGHTS) to its message, e.g. with usock send-fd',
        );
  }
  return { warnings, status: msg.controlTruncated ? EXIT.IOERR : EXIT.OK, error };
}

/** Runs `usock recv-fd`; returns 0, 74 after MSG_CTRUNC or a descriptor that could not be read, or CMD's status. Throws UsockError (65 without descriptors, 69 when the peer leaves first), UsageError, SysError. */
export async function runRecvFd(s: RecvFdSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type, maxFds } = s;
  const command = s.rest;
  if (command !== undefined && command.length === 0)
    throw new UsageError('no command after --', 'usage: usock recv-fd ADDRESS -- CMD [ARGS...]');
  if (command !== undefined && s.info) throw new UsageError('--info and -- CMD cannot be used together');

  const timeout = s.timeout ?? null;
  const { msg, peer } = await deadline(
    s.listen ? receiveListening(s, type, maxFds, reporter) : receiveAsClient(s.address, type, maxFds),
    timeout,
    () =>
      new UsockError(`timed out after ${timeout} s waiting for ${s.listen ? 'a client and its descriptors' : 'descriptors'}`, 'TEMPFAIL'),
  );
  const assessment = assessMessage(msg, maxFds);
  for (const w of assessment.warnings) reporter.warn(w.event, w.text, w.fields);
  if (assessment.error) throw assessment.error;
  reporter.info(
    'received',
    `received ${msg.length} bytes and ${plural(msg.fds.length, 'descriptor')} from ${msg.from || describePeer(peer)}`,
    { bytes: msg.length, fds: msg.fds.length, from: msg.from, peer },
  );

  if (command !== undefined) {
    const status = await runWithDescriptors(command, msg.fds, peer);
    return status !== EXIT.OK ? status : assessment.status;
  }
  const status = s.info
    ? await printInfo(msg.fds, s.json ? 'json' : isTerminal(1) ? 'table' : 'text')
    : await copyToStdout(msg.fds, reporter);
  return Math.max(status, assessment.status);
}

/** Connects to the address and waits for the message; a dgram client first sends an empty datagram as its request. Closes the socket before returning. */
async function receiveAsClient(text: string, type: SocketType, maxFds: number): Promise<Delivery> {
  const address = addressOf(text);
  const fd = await connectAndRelease(address, type);
  try {
    let peer: Ucred | null = null;
    if (type === 'dgram') {
      passCredentials(fd);
      while (send(fd, Buffer.alloc(0)) === WOULD_BLOCK) await whenWritable(fd);
    } else {
      peer = knownPeer(() => peerCredentials(fd));
    }
    const msg = await awaitMessage(fd, type, maxFds, address.text);
    return { msg, peer: type === 'dgram' ? knownPeer(() => msg.cred) : peer };
  } finally {
    closeQuietly(fd);
  }
}

/** Returns the credentials fn gives, or null when it throws or gives none (pid 0). */
function knownPeer(fn: () => Ucred | null): Ucred | null {
  try {
    const c = fn();
    return c && c.pid > 0 ? c : null;
  } catch {
    return null;
  }
}

/** Binds the address and waits for one client (stream, seqpacket) or one admitted datagram with its message. Closes the sockets (removing the socket file) before returning. */
async function receiveListening(s: RecvFdSettings, type: SocketType, maxFds: number, reporter: Reporter): Promise<Delivery> {
  const spec = serverSpecOf(s.address, s, type, reporter, 'recv-fd');
  const server = openServer(spec);
  try {
    if (type === 'dgram') {
      const msg = await firstDatagram(server.fd, maxFds, spec.rules, reporter);
      return { msg, peer: knownPeer(() => msg.cred) };
    }
    const { fd, cred } = await acceptOne(server.fd, spec.rules, reporter);
    server.close();
    try {
      return { msg: await awaitMessage(fd, type, maxFds, 'the client'), peer: cred };
    } finally {
      closeQuietly(fd);
    }
  } finally {
    server.close();
  }
}

/** Resolves with the first datagram on fd whose sender the rules admit (rejected ones are dropped, their descriptors closed). fd stays the caller's. */
function firstDatagram(fd: number, maxFds: number, rules: AccessRules | null, reporter: Reporter): Promise<ReceivedMessage> {
  return new Promise((resolve) => {
    const receiver = new DatagramReceiver(fd, {
      maxData: MAX_PAYLOAD,
      maxFds,
      credentials: true,
      rules,
      diagnostics: reporter,
      onDatagram: (d) => {
        receiver.close();
        resolve(d.received!);
      },
    });
    receiver.start();
  });
}

/**
 * Resolves with the first message on the connected socket fd. A stream or seqpacket peer that closes
 * first is UNAVAILABLE (69). Rejects with SysError on a receive error. fd stays the caller's.
 */
function awaitMessage(fd: number, type: SocketType, maxFds: number, who: string): Promise<ReceivedMessage> {
  return new Promise((resolve, reject) => {
    const finish = (err: unknown, msg?: ReceivedMessage) => {
      watcher.close();
      if (msg) resolve(msg);
      else reject(err);
    };
    const watcher = new FdWatcher(fd, finish);
    watcher.onReadable(() => {
      const msg = receiveMessage(fd, MAX_PAYLOAD, maxFds);
      if (msg === WOULD_BLOCK) return;
      const ended =
        msg.length === 0 &&
        msg.fds.length === 0 &&
        !msg.controlTruncated &&
        (type === 'stream' || (type === 'seqpacket' && seqpacketEnded(fd)));
      if (ended) return finish(new UsockError(`${who} closed the connection without sending descriptors`, 'UNAVAILABLE'));
      finish(null, msg);
    });
  });
}

/** Runs CMD with fds as its descriptors 3, 4, ... and USOCK_FDS (plus USOCK_PEER_* when the sender is known); returns its status. Closes fds in this process. */
async function runWithDescriptors(command: string[], fds: number[], peer: Ucred | null): Promise<number> {
  const { peerEnvironment, start } = await import('../../proc/spawn'); // child_process only with -- CMD
  const [cmd, ...args] = command as [string, ...string[]];
  const env = { ...peerEnvironment(peer), USOCK_FDS: fds.map((_, i) => String(3 + i)).join(' ') };
  const running = await start(cmd, args, { stdio: ['inherit', 'inherit', 'inherit', ...fds], env, closeAfter: fds });
  return (await running.ended).status;
}

type InfoStyle = 'table' | 'text' | 'json';

/** Prints one line (or table row) per descriptor: index, kind, target, flags; closes every fd. Returns 0. */
async function printInfo(fds: number[], style: InfoStyle): Promise<number> {
  const rows = fds.map((fd, index) => ({ index, ...describeDescriptor(fd) }));
  for (const fd of fds) closeQuietly(fd);
  let out: string;
  if (style === 'json') out = rows.map((r) => JSON.stringify(r) + '\n').join('');
  else if (style === 'text')
    out = rows.map((r) => [String(r.index), r.kind, escapeField(r.target), r.flags.join('|')].join('\t') + '\n').join('');
  else out = await infoTable(rows);
  await printOut(out);
  return EXIT.OK;
}

/** Returns a table of the descriptors, with a coloured header where colour is wanted. */
async function infoTable(rows: Array<DescriptorInfo & { index: number }>): Promise<string> {
  const head = await headCells(['#', 'kind', 'target', 'flags', 'pos']);
  return renderTable(
    rows.map((r) => [String(r.index), r.kind, escapeField(r.target), r.flags.join('|'), r.pos === null ? '-' : String(r.pos)]),
    { head },
  );
}

/** Copies what each descriptor reads to stdout, in order, closing each at its end. Returns 0, or 74 when one could not be read (reported, the others still copied). */
async function copyToStdout(fds: number[], reporter: Reporter): Promise<number> {
  let status: number = EXIT.OK;
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    const what = describeDescriptor(fd);
    try {
      await copyDescriptor(fd);
    } catch (err) {
      reporter.warn('read-failed', `descriptor ${i} (${what.kind} ${what.target}): ${(err as Error).message}`, {
        index: i,
        kind: what.kind,
        target: what.target,
      });
      status = EXIT.IOERR;
    }
  }
  await new Promise<void>((resolve) => stdoutWriter().whenDrained(resolve));
  return status;
}

/**
 * Copies fd to stdout until its end, then closes it, without ever blocking the event loop and with
 * backpressure (reading pauses while stdout is full): a non-blocking pollable descriptor is read as it
 * turns readable; any other one (regular files, blocking pipes, sockets, ttys) is read by Node's thread
 * pool. The descriptor's flags are never changed, since the sender shares them. Rejects with the read
 * error; fd is closed either way.
 */
function copyDescriptor(fd: number): Promise<void> {
  let nonBlocking = false;
  try {
    nonBlocking = (fcntl(fd, F_GETFL) & O_NONBLOCK) !== 0 && isPollable(fd);
  } catch {
    // an O_PATH descriptor: the thread-pool read reports why it cannot be read
  }
  return nonBlocking ? copyPolling(fd) : copyInThreadPool(fd);
}

function copyPolling(fd: number): Promise<void> {
  const out = stdoutWriter();
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown) => {
      watcher.close();
      closeQuietly(fd);
      if (err) reject(err);
      else resolve();
    };
    const watcher = new FdWatcher(fd, finish);
    const buf = Buffer.allocUnsafe(CHUNK);
    const readSome = () => {
      for (let i = 0; i < 64; i++) {
        if (out.full) {
          watcher.onReadable(null);
          out.whenDrained(() => watcher.onReadable(readSome));
          return;
        }
        const n = read(fd, buf);
        if (n === WOULD_BLOCK) return;
        if (n === 0) return finish();
        out.writeNow(buf.subarray(0, n));
      }
    };
    watcher.onReadable(readSome);
  });
}

function copyInThreadPool(fd: number): Promise<void> {
  const out = stdoutWriter();
  return new Promise((resolve, reject) => {
    let failure: unknown = null;
    const stream = createReadStream('', { fd, autoClose: true, highWaterMark: CHUNK });
    stream.on('data', (chunk) => {
      out.push(chunk as Buffer, true);
      out.flush();
      if (out.full) {
        stream.pause();
        out.whenDrained(() => stream.resume());
      }
    });
    stream.on('error', (err) => {
      failure ??= err;
    });
    // 'close' comes after the descriptor is closed, whether the copy ended or failed.
    stream.on('close', () => (failure ? reject(failure) : resolve()));
  });
}
