// `usock recv-fd`: receive one message with descriptors (SCM_RIGHTS), then copy their data to stdout, describe them (--info) or run `-- CMD` with them.
import { openServer, serverSettings, warnRulesIgnored } from './net/serve';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { isatty } from 'node:tty';
import { type AccessArgs, type AccessRules } from './access';
import { CliError, EXIT, Exit, UsageError } from './errors';
import { peerEnvironment, statusOf } from './exec';
import { describeDescriptor, type DescriptorInfo } from './fdinfo';
import { handleSignals } from './lifecycle';
import { concreteType, connectToAddress } from './net/client';
import { acceptLoop, admitSender, passCredentials } from './net/server';
import { describePeer, writeAllSync, type Reporter } from './output';
import { reporterFor, wholeNumber, type CommonArgs } from './settings';
import { describeErrno, hasCode } from './sys/errors';
import { receiveMessage, type ReceivedMessage } from './sys/msg';
import { F_GETFL, O_NONBLOCK, SCM_MAX_FD } from './sys/platform/linux';
import { FdWatcher, isPollable } from './sys/poll';
import { closeQuietly, fcntl, peerCredentials, read, send, seqpacketEnded, WOULD_BLOCK, type SocketType, type Ucred } from './sys/socket';

export interface RecvFdArgs extends CommonArgs, AccessArgs {
  address: string;
  listen?: boolean;
  info?: boolean;
  'max-fds': number;
  mode?: string;
  backlog: number;
  '--'?: string[];
}

/** The longest payload kept from the message (it is only reported with -v). */
const MAX_PAYLOAD = 64 * 1024;
const CHUNK = 256 * 1024;

/** A received message and who sent it. */
interface Delivery {
  msg: ReceivedMessage;
  peer: Ucred | null;
}

/** A warning to show about a received message. */
export interface MessageWarning { event: string; text: string; fields: Record<string, unknown> }

/** What recv-fd makes of a received message: warnings to show, the status to end with, and an error when there is nothing to work on. */
export interface MessageAssessment {
  warnings: MessageWarning[];
  /** 0, or 74 when the kernel truncated the control data (MSG_CTRUNC). */
  status: number;
  /** Set when the message brought no descriptors: 65 (EX_DATAERR), or 74 when MSG_CTRUNC lost them all. */
  error: CliError | null;
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
  let error: CliError | null = null;
  if (msg.fds.length === 0) {
    error = msg.controlTruncated
      ? new CliError('control message truncated (MSG_CTRUNC): no descriptor arrived', EXIT.IOERR)
      : new CliError(`received a message of ${msg.length} byte${msg.length === 1 ? '' : 's'} without descriptors`, EXIT.DATAERR,
        'the peer must attach descriptors (SCM_RIGHTS) to its message, e.g. with usock send-fd');
  }
  return { warnings, status: msg.controlTruncated ? EXIT.IOERR : EXIT.OK, error };
}

/** Runs `usock recv-fd`; returns 0, 74 after MSG_CTRUNC or a descriptor that could not be read, or CMD's status. Throws CliError (65 without descriptors, 69 when the peer leaves first), UsageError, SysError. */
export async function runRecvFd(argv: RecvFdArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'recv-fd');
  const maxFds = wholeNumber('max-fds', argv['max-fds'] ?? 64, 1, SCM_MAX_FD);
  const command = argv['--'];
  if (command !== undefined && command.length === 0) throw new UsageError('no command after --', 'usage: usock recv-fd ADDRESS -- CMD [ARGS...]');
  if (command !== undefined && argv.info) throw new UsageError('--info and -- CMD cannot be used together');
  if (!argv.listen) warnRulesIgnored(argv, reporter);
  handleSignals();

  const { msg, peer } = argv.listen ? await receiveListening(argv, type, maxFds, reporter) : await receiveAsClient(argv.address, type, maxFds);
  const assessment = assessMessage(msg, maxFds);
  for (const w of assessment.warnings) reporter.warn(w.event, w.text, w.fields);
  if (assessment.error) throw assessment.error;
  reporter.info('received', `received ${msg.length} bytes and ${msg.fds.length} descriptor${msg.fds.length === 1 ? '' : 's'} from ${msg.from || describePeer(peer)}`,
    { bytes: msg.length, fds: msg.fds.length, from: msg.from, peer });

  let status: number;
  if (command !== undefined) {
    status = await runWithDescriptors(command, msg.fds, peer);
    return status !== EXIT.OK ? status : assessment.status;
  }
  if (argv.info) status = await printInfo(msg.fds, argv.json ? 'json' : isatty(1) ? 'table' : 'text');
  else status = await copyToStdout(msg.fds, reporter);
  return Math.max(status, assessment.status);
}

/** Connects to the address and waits for the message; a dgram client first sends an empty datagram as its request. Closes the socket before returning. */
async function receiveAsClient(text: string, type: SocketType, maxFds: number): Promise<Delivery> {
  const client = { fd: await connectToAddress(text, type) };
  try {
    let peer: Ucred | null = null;
    if (type === 'dgram') {
      passCredentials(client.fd);
      await sendRequest(client.fd);
    } else {
      peer = knownPeer(() => peerCredentials(client.fd));
    }
    const msg = await awaitMessage(client.fd, type, maxFds, text, null, null);
    return { msg, peer: type === 'dgram' ? knownPeer(() => msg.cred) : peer };
  } finally {
    closeQuietly(client.fd);
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

/** Sends one empty datagram on a connected dgram socket, waiting while the receiver's queue is full. Throws SysError. */
async function sendRequest(fd: number): Promise<void> {
  while (send(fd, Buffer.alloc(0)) === WOULD_BLOCK) {
    const watcher = new FdWatcher(fd);
    await new Promise<void>((resolve) => watcher.onWritable(resolve));
    watcher.close();
  }
}

/** Binds the address and waits for one client (stream, seqpacket) or one admitted datagram with its message. Closes the sockets (removing the socket file) before returning. */
async function receiveListening(argv: RecvFdArgs, type: SocketType, maxFds: number, reporter: Reporter): Promise<Delivery> {
  const settings = serverSettings(argv);
  const rules = settings.rules;
  const server = openServer(argv.address, type, settings, reporter, 'recv-fd');
  try {
    if (type === 'dgram') {
      passCredentials(server.fd);
      const msg = await awaitMessage(server.fd, type, maxFds, argv.address, rules, reporter);
      return { msg, peer: knownPeer(() => msg.cred) };
    }
    const { fd, cred } = await new Promise<{ fd: number; cred: Ucred | null }>((resolve) => {
      const loop = acceptLoop(server.fd, {
        rules,
        reporter,
        onPeer: (fd, cred) => {
          loop.stop();
          resolve({ fd, cred });
        },
      });
    });
    server.close();
    try {
      return { msg: await awaitMessage(fd, type, maxFds, 'the client', null, null), peer: cred };
    } finally {
      closeQuietly(fd);
    }
  } finally {
    server.close();
  }
}

/**
 * Resolves with the first message on fd. A stream or seqpacket peer that closes first is exit 69.
 * With rules (dgram --listen), datagrams from senders the rules reject are dropped, their descriptors closed.
 * Rejects with SysError on a receive error. fd stays the caller's.
 */
function awaitMessage(fd: number, type: SocketType, maxFds: number, who: string, rules: AccessRules | null, reporter: Reporter | null): Promise<ReceivedMessage> {
  return new Promise((resolve, reject) => {
    const watcher = new FdWatcher(fd);
    const finish = (err: unknown, msg?: ReceivedMessage) => {
      watcher.close();
      if (msg) resolve(msg);
      else reject(err);
    };
    watcher.onReadable(() => {
      try {
        for (;;) {
          const msg = receiveMessage(fd, MAX_PAYLOAD, maxFds);
          if (msg === WOULD_BLOCK) return;
          if (type === 'dgram' && rules && reporter && !admitSender(rules, msg.cred, reporter)) {
            for (const x of msg.fds) closeQuietly(x);
            continue;
          }
          const ended = msg.length === 0 && msg.fds.length === 0 && !msg.controlTruncated &&
            (type === 'stream' || (type === 'seqpacket' && seqpacketEnded(fd)));
          if (ended) return finish(new CliError(`${who} closed the connection without sending descriptors`, EXIT.UNAVAILABLE));
          return finish(null, msg);
        }
      } catch (err) {
        finish(err);
      }
    });
  });
}

/** Runs CMD with fds as its descriptors 3, 4, ... and USOCK_FDS (plus USOCK_PEER_* when the sender is known); returns its status. Closes fds in this process. */
function runWithDescriptors(command: string[], fds: number[], peer: Ucred | null): Promise<number> {
  const [cmd, ...args] = command as [string, ...string[]];
  const env = { ...peerEnvironment(peer), USOCK_FDS: fds.map((_, i) => String(3 + i)).join(' ') };
  try {
    const child = spawn(cmd, args, { stdio: ['inherit', 'inherit', 'inherit', ...fds], env });
    return new Promise((resolve, reject) => {
      child.on('error', (err: NodeJS.ErrnoException) => {
        const [code, text] = err.errno ? describeErrno(-err.errno) : [err.code ?? '', err.message];
        reject(new CliError(`cannot run ${cmd}: ${text}${code ? ` (${code})` : ''}`, EXIT.FAILURE));
      });
      child.on('exit', (code, signal) => resolve(statusOf(code, signal)));
    });
  } finally {
    // The child has its own copies now.
    for (const fd of fds) closeQuietly(fd);
  }
}

type InfoStyle = 'table' | 'text' | 'json';

/** Returns text with tabs, newlines, backslashes and other control characters escaped, for one tab-separated field. */
function field(text: string): string {
  return text.replace(/[\\\x00-\x1f\x7f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Prints one line (or table row) per descriptor: index, kind, target, flags; closes every fd. Returns 0; a closed stdout ends usock with 0. */
async function printInfo(fds: number[], style: InfoStyle): Promise<number> {
  const rows = fds.map((fd, index) => ({ index, ...describeDescriptor(fd) }));
  for (const fd of fds) closeQuietly(fd);
  let out: string;
  if (style === 'json') out = rows.map((r) => JSON.stringify(r) + '\n').join('');
  else if (style === 'text') out = rows.map((r) => [String(r.index), r.kind, field(r.target), r.flags.join('|')].join('\t') + '\n').join('');
  else out = await infoTable(rows);
  try {
    writeAllSync(1, out);
  } catch (err) {
    if (hasCode(err, 'EPIPE')) throw new Exit(EXIT.OK);
    throw err;
  }
  return EXIT.OK;
}

/** Returns a cli-table3 table of the descriptors, with a coloured header where chalk allows colour. */
async function infoTable(rows: Array<DescriptorInfo & { index: number }>): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const { default: chalk } = await import('chalk');
  const colour = !process.env.NO_COLOR;
  const head = ['#', 'kind', 'target', 'flags', 'pos'].map((h) => (colour ? chalk.cyan(h) : h));
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) table.push([String(r.index), r.kind, field(r.target), r.flags.join('|'), r.pos === null ? '-' : String(r.pos)]);
  return table.toString() + '\n';
}

/** Copies what each descriptor reads to stdout, in order, closing each at its end. Returns 0, or 74 when one could not be read (reported, the others still copied). A closed stdout ends usock with 0. */
async function copyToStdout(fds: number[], reporter: Reporter): Promise<number> {
  let status: number = EXIT.OK;
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    const what = describeDescriptor(fd);
    try {
      await copyDescriptor(fd);
    } catch (err) {
      if (err instanceof Exit) {
        for (const rest of fds.slice(i + 1)) closeQuietly(rest);
        throw err;
      }
      reporter.warn('read-failed', `descriptor ${i} (${what.kind} ${what.target}): ${(err as Error).message}`, { index: i, kind: what.kind, target: what.target });
      status = EXIT.IOERR;
    }
  }
  return status;
}

/** Writes chunk to stdout; a closed stdout becomes Exit(0). */
function toStdout(chunk: Buffer): void {
  try {
    writeAllSync(1, chunk);
  } catch (err) {
    if (hasCode(err, 'EPIPE')) throw new Exit(EXIT.OK);
    throw err;
  }
}

/**
 * Copies fd to stdout until its end, then closes it, without ever blocking the event loop: a non-blocking
 * pollable descriptor is read as it turns readable; any other one (regular files, blocking pipes,
 * sockets, ttys) is read by Node's thread pool. The descriptor's flags are never changed, since the
 * sender shares them. Rejects with the read error or Exit; fd is closed either way.
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
  return new Promise((resolve, reject) => {
    const watcher = new FdWatcher(fd);
    const buf = Buffer.allocUnsafe(CHUNK);
    const finish = (err?: unknown) => {
      watcher.close();
      closeQuietly(fd);
      if (err) reject(err);
      else resolve();
    };
    watcher.onReadable(() => {
      try {
        for (let i = 0; i < 64; i++) {
          const n = read(fd, buf);
          if (n === WOULD_BLOCK) return;
          if (n === 0) return finish();
          toStdout(buf.subarray(0, n));
        }
      } catch (err) {
        finish(err);
      }
    });
  });
}

function copyInThreadPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: unknown = null;
    const stream = createReadStream('', { fd, autoClose: true, highWaterMark: CHUNK });
    stream.on('data', (chunk) => {
      try {
        toStdout(chunk as Buffer);
      } catch (err) {
        failure = err;
        stream.destroy();
      }
    });
    stream.on('error', (err) => {
      failure ??= err;
    });
    // 'close' comes after the descriptor is closed, whether the copy ended or failed.
    stream.on('close', () => (failure ? reject(failure) : resolve()));
  });
}
