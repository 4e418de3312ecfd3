// --exec of listen and connect: CMD run on a connection (the socket itself, or on seqpacket a socketpair relayed with --frame) and the connection closed without a reset; listen -k's line of clients waiting for a command to start.
import type { Framing } from '../cli/options';
import { EXIT } from '../errors';
import { drainAndClose } from '../io/drain';
import { relayMessages } from '../io/message-relay';
import { openDescriptors, openFilesLimit } from '../proc/limits';
import { isShortage, peerEnvironment, startShellOn, type Running } from '../proc/spawn';
import type { Reporter } from '../report/reporter';
import { describePeer } from '../report/text';
import { F_GETFL, F_SETFL, O_NONBLOCK } from '../sys/platform/linux';
import { closeQuietly, fcntl } from '../sys/fd';
import { socketpair, type Ucred } from '../sys/socket';

/** Descriptors usock needs besides those of its connections: starting a command (libuv's error pipe, the child's socketpair end) and one accept. */
const RESERVED_DESCRIPTORS = 6;
/** The first and the longest pause before starting a command again after a shortage (EMFILE...), unless a command ends first. */
const FIRST_PAUSE_MS = 10;
const LONGEST_PAUSE_MS = 1000;

export interface ExecOptions {
  cmd: string;
  /** seqpacket without --exec-socket: CMD's stdin and stdout are a socketpair relayed with this framing. null: CMD gets the socket itself. */
  framing: Framing | null;
  /** How long the client may go on sending after CMD has ended before the close (1 s, or -w). */
  drainSeconds: number;
  reporter: Reporter;
}

/**
 * Starts CMD on the connection fd with the peer's credentials in its environment. Resolves once it
 * runs, with `done`: its status, which settles (never rejects) once CMD has ended, its output has been
 * delivered and fd is closed: shut down, what the client still sends read and discarded for at most
 * drainSeconds, so that a client whose request CMD did not read gets its reply, never a reset. Rejects
 * with StartError or SysError when it cannot start (isShortage: descriptors, processes or memory ran
 * short); fd is then left open, the caller's.
 */
export async function startCommand(fd: number, cred: Ucred | null, o: ExecOptions): Promise<{ done: Promise<number> }> {
  const env = peerEnvironment(cred);
  if (!o.framing) {
    const running = await startShellOn(o.cmd, fd, env);
    const done = statusOf(running).then(async (status) => {
      await drainAndClose(fd, o.drainSeconds);
      return status;
    });
    return { done };
  }
  const [ours, theirs] = socketpair('stream', { nonblock: false }); // CMD's end blocking, as programs expect
  let running: Running;
  try {
    fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    running = await startShellOn(o.cmd, theirs, env);
  } catch (err) {
    closeQuietly(ours);
    throw err;
  } finally {
    closeQuietly(theirs); // the child has its copy: its exit is the stream's EOF
  }
  const relay = relayMessages(fd, ours, { ...o.framing, diagnostics: o.reporter, label: `--exec for ${describePeer(cred)}` });
  const done = statusOf(running).then(async (status) => {
    await relay.outputDelivered;
    await relay.finish(o.drainSeconds);
    return status;
  });
  return { done };
}

/** Resolves to a started command's shell-style status (1 when waiting for it failed). */
function statusOf(running: Running): Promise<number> {
  return running.ended.then(
    (e) => e.status,
    () => EXIT.FAILURE,
  );
}

/**
 * Runs CMD on one connection (listen without -k, connect): resolves to its status once the connection
 * is closed. Rejects as startCommand does, having closed fd.
 */
export async function execOnce(fd: number, cred: Ucred | null, o: ExecOptions): Promise<number> {
  let started: { done: Promise<number> };
  try {
    started = await startCommand(fd, cred, o);
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
  return started.done;
}

/**
 * Returns maxConns, lowered where the open-files limit (ulimit -n) cannot hold that many connections
 * with commands at once, so that accepting never takes the descriptors a command needs to start (said with -v).
 */
export function capToDescriptors(maxConns: number, o: ExecOptions): number {
  const limit = openFilesLimit();
  const open = openDescriptors();
  if (limit === null || open === null) return maxConns;
  const perConnection = o.framing ? 2 : 1; // the socket, and the end of CMD's socketpair
  const fit = Math.max(1, Math.floor((limit - open - RESERVED_DESCRIPTORS) / perConnection));
  if (fit >= maxConns) return maxConns;
  o.reporter.info(
    'max-conns',
    `--max-conns ${maxConns} lowered to ${fit}: the open-files limit (ulimit -n ${limit}, ${open} open) holds no more commands at once`,
    { maxConns, lowered: fit, limit, open },
  );
  return fit;
}

/** What ExecQueue needs of the accept loop (net/accept's AcceptLoop). */
export interface Loop {
  hold(): void;
  resume(): void;
  released(): void;
}

/** Starts the command of one connection: resolves once it runs, with its status to come; rejects as startCommand does (fd then stays the caller's). */
export type Starter = (fd: number, cred: Ucred | null) => Promise<{ done: Promise<number> }>;

/**
 * The connections of `listen -k --exec` (and `activate --accept`, `--inetd`, with their own Starter and
 * label), each given its command in the order accepted. When a command
 * cannot start for a shortage (EMFILE, ENFILE, EAGAIN, ENOMEM) the connection is kept, accepting pauses
 * (new clients wait in the kernel's backlog), and its start is tried again as soon as a command ends,
 * or after a growing pause (10 ms up to 1 s); once every waiting connection has its command, accepting
 * resumes. No client is accepted and then dropped for lack of descriptors.
 */
export class ExecQueue {
  private readonly waiting: Array<{ fd: number; cred: Ucred | null }> = [];
  private starting = false;
  private pause = 0; // ms of the current pause; 0 while commands start
  private timer: NodeJS.Timeout | null = null;

  private readonly start: Starter;

  constructor(o: ExecOptions, loop: Loop);
  constructor(o: { reporter: Reporter }, loop: Loop, start: Starter, label: string);
  constructor(
    private readonly o: { reporter: Reporter },
    private readonly loop: Loop,
    start?: Starter,
    private readonly label = '--exec',
  ) {
    this.start = start ?? ((fd, cred) => startCommand(fd, cred, o as ExecOptions));
  }

  /** Takes an accepted connection (and owns fd): its command starts now, or as soon as one can. */
  add(fd: number, cred: Ucred | null): void {
    this.waiting.push({ fd, cred });
    void this.startWaiting();
  }

  private async startWaiting(): Promise<void> {
    if (this.starting) return;
    this.starting = true;
    try {
      while (this.waiting.length > 0) {
        const { fd, cred } = this.waiting[0]!;
        let done: Promise<number>;
        try {
          ({ done } = await this.start(fd, cred));
        } catch (err) {
          if (isShortage(err)) return this.waitForRoom(err as Error);
          this.waiting.shift();
          this.o.reporter.warn('exec-failed', `${this.label} for ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
          closeQuietly(fd);
          this.loop.released();
          continue;
        }
        this.waiting.shift();
        const ended = () => {
          this.loop.released();
          this.tryAgain(); // its descriptors are free now
        };
        done.then(ended, ended);
      }
      if (this.pause !== 0) {
        this.pause = 0;
        this.o.reporter.info('exec-resumed', `${this.label}: commands start again; accepting connections again`);
        this.loop.resume();
      }
    } finally {
      this.starting = false;
    }
  }

  private waitForRoom(err: Error): void {
    if (this.pause === 0) {
      this.o.reporter.warn(
        'exec-waiting',
        `${this.label}: ${err.message}: the client waits, and accepting pauses, until a command can start`,
        { code: (err as { code?: string }).code },
      );
      this.loop.hold();
    }
    this.pause = Math.min(this.pause === 0 ? FIRST_PAUSE_MS : this.pause * 2, LONGEST_PAUSE_MS);
    this.timer = setTimeout(() => this.tryAgain(), this.pause);
  }

  private tryAgain(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.waiting.length > 0) void this.startWaiting();
  }
}
