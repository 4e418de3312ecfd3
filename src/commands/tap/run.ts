// `usock tap`: a recording relay; each client accepted at LISTEN is connected to TARGET, the two sockets piped both ways (io/pipe) and every transfer recorded (./record), until a signal or -c N connections served.
import { addressOf, reporterOf, serverSpecOf } from '../../cli/options';
import { fstatSync } from 'node:fs';
import { deferSignals, onCleanup, onSignal } from '../../cli/lifecycle';
import type { Status } from '../../cli/registry';
import { EXIT, UsageError, UsockError } from '../../errors';
import { type Connection, openConnection } from '../../io/connection';
import type { Ancillary, CloseReason } from '../../io/flow';
import { Pipe } from '../../io/pipe';
import type { Diagnostics } from '../../sys/diagnostics';
import { stderrWriter } from '../../io/stdio';
import { idleTimer } from '../../io/timer';
import { FileWriter } from '../../io/file-writer';
import { ReceiveArea, STREAM_CHUNK } from '../../io/receive';
import { setSocketBuffers } from '../../io/socket-buffers';
import { FdWriter, type ByteWriter } from '../../io/writer';
import { acceptLoop, type AcceptLoop } from '../../net/accept';
import type { NamedAddress } from '../../net/address';
import { connectTo, unreachable } from '../../net/client';
import { takeOver, type Inplace } from './inplace';
import { openServer } from '../../net/server';
import { processCommand } from '../../net/procnet';
import type { Reporter } from '../../report/reporter';
import { simd } from '../../report/simd';
import { hasCode, SysError } from '../../sys/errors';
import { keepFreedMemory, releaseMemory } from '../../sys/memory';
import { O_APPEND, O_CREAT, O_NONBLOCK, O_TRUNC, O_WRONLY } from '../../sys/platform/linux';
import { FdWatcher } from '../../sys/poll';
import { closeQuietly, open } from '../../sys/fd';
import type { SocketType, Ucred } from '../../sys/socket';
import { tapDatagrams } from './dgram';
import type { TapSettings } from './index';
import { PcapRecorder } from './pcap-recorder';
import { describeFds, Recorder, type Direction, type PeerInfo, type RecordFormat } from './record';

/** The largest seqpacket message or datagram relayed (one shared receive buffer); larger ones are dropped and reported. */
const MAX_MESSAGE = 4 * 1024 * 1024;

/** --inplace: how long open connections may go on after a signal, once the daemon's socket is back. */
const INPLACE_GRACE_MS = 1000;

/**
 * Runs `usock tap` until a signal ends the process, or -c N connections have been served (then 0 once
 * the records are written; dgram: N conversations ended by -w). A target that cannot be reached closes that client only (reported, the
 * run goes on). Throws UsageError, UsockError (the log or the pcap file cannot be opened: 77 or 73) or SysError (the
 * listen address: 73 when in use; --inplace: as takeOver) at start-up; rejects with UsockError (74) when the records or
 * the pcap file cannot be written.
 * With --inplace, resolves to the signal's name once the daemon's socket is back and open connections
 * had up to INPLACE_GRACE_MS to finish.
 */
export async function runTap(argv: TapSettings): Promise<Status> {
  const reporter = reporterOf(argv);
  const { type, maxConns, pcapPort } = argv;
  const timeout = argv.timeout ?? null;
  const count = argv.count ?? null;
  const spec = serverSpecOf(serverAddress(argv), argv, type, reporter, 'tap');
  const format: RecordFormat = argv.json ? 'json' : argv.hex ? 'hex' : 'text';
  const out = argv.log === undefined ? stderrWriter() : fileWriter('--log', argv.log, O_APPEND, simd()?.ringArea);
  onCleanup(() => out.drainSync(1000));
  const pcapOut = argv.pcap === undefined ? null : fileWriter('--pcap', argv.pcap, O_TRUNC);
  if (pcapOut) onCleanup(() => pcapOut.drainSync(1000));
  keepFreedMemory(); // the relay's buffers are reused rather than faulted in afresh
  const simdArea = simd()?.receiveArea;
  // Stream data is escaped and summed where it lands: every stream connection of this run reads there.
  const receiveArea = type === 'stream' && simdArea?.length === STREAM_CHUNK ? new ReceiveArea(simdArea) : undefined;
  const recorder = new Recorder(out, format, pcapOut && new PcapRecorder(pcapOut, type, pcapPort));
  onCleanup(() => recorder.formatPending()); // runs before the drains above (newest first)
  let inplace: Inplace | null = null;
  let server: { fd: number };
  let target: NamedAddress;
  if (argv.inplace !== undefined) {
    inplace = takeOver(spec.address, type, spec.backlog);
    server = inplace;
    target = inplace.target;
    reporter.info(
      'listening',
      `tap: listening on ${spec.address.text} (${type}) in place of the daemon's socket, moved to ${inplace.aside}`,
      { address: spec.address.text, type, aside: inplace.aside },
    );
  } else {
    target = addressOf(argv.target!);
    server = openServer(spec);
    // Said once: each client would otherwise fail to reach it in silence but for its own line.
    const problem = unreachable(target);
    if (problem)
      reporter.warn(
        'no-target',
        `tap: target ${target.text} ${problem.startsWith('not') ? `is ${problem}` : problem}: clients cannot reach it until it listens`,
        { target: target.text },
      );
  }
  /** Puts the daemon's socket back (once), saying so when it cannot. */
  const restore = () => {
    const problem = inplace?.restore();
    if (problem) reporter.warn('not-restored', problem, { aside: inplace!.aside });
  };
  onCleanup(restore);
  let active = 0;

  return new Promise<Status>((resolve, reject) => {
    if (inplace) {
      deferSignals();
      let signalled = false;
      onSignal((sig) => {
        if (signalled) return;
        signalled = true;
        restore(); // first: the daemon's clients reach it again at once
        const end = Date.now() + INPLACE_GRACE_MS;
        const wait = () => (active === 0 || Date.now() >= end ? resolve(sig) : setTimeout(wait, 10));
        wait();
      });
    }
    out.onError = (err) => reject(new UsockError(`records${argv.log === undefined ? '' : ` (${argv.log})`}: ${err.message}`, 'IOERR'));
    if (pcapOut) pcapOut.onError = (err) => reject(new UsockError(`--pcap ${argv.pcap}: ${err.message}`, 'IOERR'));
    let next = 0;
    // Rejected clients are numbered and recorded too.
    const diagnostics: Diagnostics = {
      info: (event, text, fields) => reporter.info(event, text, fields),
      warn: (event, text, fields, what) => {
        if (event === 'rejected') recorder.event(++next, 'reject', { peer: peerInfo(fields?.peer as Ucred | null) });
        reporter.warn(event, text, fields, what);
      },
    };
    if (type === 'dgram') {
      let closed = 0;
      tapDatagrams({
        fd: server.fd,
        target,
        rules: spec.rules,
        maxSize: MAX_MESSAGE,
        timeout,
        recorder,
        reporter,
        diagnostics,
        nextConn: () => ++next,
        onClosed: () => {
          if (count && ++closed === count) {
            restore();
            recorder.whenDrained(() => resolve(EXIT.OK));
          }
        },
      });
      return; // until a signal, or -c
    }
    const loop: AcceptLoop = acceptLoop(server.fd, {
      rules: spec.rules,
      maxConns,
      count,
      onServed: () => {
        restore();
        recorder.whenDrained(() => resolve(EXIT.OK));
      },
      diagnostics,
      onIdle: releaseMemory, // a burst of clients leaves no memory behind once it is gone
      onPeer: (fd, cred) => {
        const conn = ++next;
        recorder.open(conn, peerInfo(cred));
        active++;
        tapConnection({
          conn,
          clientFd: fd,
          target,
          type,
          timeout,
          recorder,
          reporter,
          receiveArea,
          done: () => {
            active--;
            loop.released();
          },
        });
      },
    });
  }); // until a signal, or -c
}

/** Returns where tap listens: --inplace PATH, or LISTEN (with TARGET). Throws UsageError (64) unless the arguments are exactly LISTEN TARGET, or --inplace PATH alone. */
function serverAddress(argv: TapSettings): string {
  const hint = 'see `usock help tap`';
  if (argv.inplace !== undefined) {
    if (argv.listen !== undefined) throw new UsageError('tap: --inplace PATH replaces LISTEN and TARGET: give one or the other', hint);
    return argv.inplace;
  }
  if (argv.listen === undefined) throw new UsageError('tap: missing LISTEN (or --inplace PATH)', hint);
  if (argv.target === undefined) throw new UsageError('tap: missing TARGET', hint);
  return argv.listen;
}

/** Returns the client as records show it (its command from /proc), or null when the kernel did not say. */
function peerInfo(cred: Ucred | null | undefined): PeerInfo | null {
  return cred ? { pid: cred.pid, uid: cred.uid, gid: cred.gid, command: processCommand(cred.pid) } : null;
}

/**
 * Returns a writer to path (created 0666 minus umask) for option, which either appends to it (O_APPEND: --log) or
 * truncates it (O_TRUNC: --pcap, one capture a file): a worker thread writes to a regular file (the file system's
 * write path off the relay's thread; ring: its ring, the escaper's area for records escaped in place), a
 * non-blocking FdWriter to anything else (a FIFO, a terminal). Throws
 * UsockError: 77 for permission, 73 otherwise.
 */
function fileWriter(option: string, path: string, how: number, ring?: Buffer): ByteWriter {
  let fd: number;
  try {
    fd = open(path, O_WRONLY | O_CREAT | how | O_NONBLOCK);
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    throw new UsockError(`${option}: ${err.message}`, err.code === 'EACCES' || err.code === 'EPERM' ? 'NOPERM' : 'CANTCREAT');
  }
  onCleanup(() => closeQuietly(fd));
  if (!fstatSync(fd).isFile()) return new FdWriter(new FdWatcher(fd));
  const writer = new FileWriter(fd, ring);
  onCleanup(() => writer.stop()); // after the caller's drainSync, before the close
  return writer;
}

interface TapConnection {
  conn: number;
  clientFd: number;
  target: NamedAddress;
  type: SocketType;
  timeout: number | null;
  recorder: Recorder;
  reporter: Reporter;
  /** Where both stream connections read (absent: the shared area). */
  receiveArea: ReceiveArea | undefined;
  /** Called once, when the connection is over (the accept loop's released). */
  done: () => void;
}

/**
 * Connects one accepted client to the target and relays the two sockets both ways; when the target
 * cannot be reached, reports it in one line and closes the client. Owns clientFd. Never throws.
 */
function tapConnection(t: TapConnection): void {
  const { conn, recorder, reporter } = t;
  connectTo(t.target, t.type, undefined, t.timeout === null ? {} : { seconds: t.timeout })
    .then(({ fd }) => {
      try {
        relay(t, fd);
      } catch (err) {
        closeQuietly(fd);
        throw err;
      }
    })
    .catch((err: Error) => {
      reporter.warn('target-failed', `connection ${conn}: ${err.message}`, { conn, code: (err as { code?: string }).code ?? null });
      closeQuietly(t.clientFd);
      recorder.event(conn, 'close', { error: err.message });
      t.done();
    });
}

/**
 * Relays the client and the target's socket both ways, recording each transfer and half-close; the
 * connection closes once both sockets are done. Descriptors (SCM_RIGHTS) travel with their unit and are
 * recorded with it; those tap has to close instead are recorded as drop and reported.
 */
function relay(t: TapConnection, serverFd: number): void {
  const { conn, recorder, reporter, type } = t;
  const record = (dir: Direction) => (u: Buffer, anc?: Ancillary) => {
    if (!anc) return recorder.data(conn, dir, u);
    if (anc.truncated) {
      reporter.warn(
        'ctrunc',
        `connection ${conn} (${dir === 'c2s' ? 'client' : 'server'}): control data truncated (MSG_CTRUNC): descriptors were lost`,
        { conn, dir },
      );
    }
    recorder.data(conn, dir, u, describeFds(anc.fds), anc.truncated);
  };
  /** Descriptors a side's connection closes: those it was to send (toward that side), or received and could not pass on. */
  const dropped = (side: 'client' | 'server') => (fds: readonly number[], reason: string, outgoing: boolean) => {
    const dir: Direction = (side === 'server') === outgoing ? 'c2s' : 's2c';
    const error = `${outgoing ? 'not delivered to' : 'not passed on from'} the ${side}: ${reason}`;
    recorder.event(conn, 'drop', { dir, fds: describeFds(fds), error });
    reporter.warn('fds-dropped', `connection ${conn}: ${fds.length} descriptor${fds.length === 1 ? '' : 's'} closed, ${error}`, {
      conn,
      dir,
      fds: fds.length,
    });
  };
  const c2s = new Pipe({ onData: record('c2s'), onEnd: () => recorder.event(conn, 'shutdown', { dir: 'c2s' }), holdback: recorder });
  const s2c = new Pipe({ onData: record('s2c'), onEnd: () => recorder.event(conn, 'shutdown', { dir: 's2c' }), holdback: recorder });
  let open = 2;
  const finished = (side: 'client' | 'server') => (c: Connection, reason: CloseReason, err?: Error) => {
    const [own, other] = side === 'client' ? [c2s, server] : [s2c, client];
    if (reason === 'error' || c.reset) recorder.reset(conn, side === 'client' ? 'c2s' : 's2c'); // before the shutdown: the pcap flow ends with RST, no FIN
    own.end(); // nothing more comes from this socket: the other side's write is shut once its queue is sent
    if (reason === 'error' || c.reset) other.finishNow(); // an abrupt end passes on as one
    if (reason === 'error' && !hasCode(err, 'EPIPE', 'ECONNRESET')) {
      reporter.warn('tap-error', `connection ${conn} (${side}): ${err?.message}`, { conn });
    }
    if (--open > 0) return;
    idle?.clear();
    recorder.event(conn, 'close');
    t.done();
  };
  const base = { type, frame: 'raw' as const, maxSize: MAX_MESSAGE, diagnostics: reporter, descriptors: true, receiveArea: t.receiveArea };
  if (type === 'stream') {
    setSocketBuffers(t.clientFd);
    setSocketBuffers(serverFd);
  }
  const client = openConnection(
    t.clientFd,
    { ...base, sink: c2s.sink, source: s2c.source, onDescriptorsDropped: dropped('client') },
    finished('client'),
  );
  const server = openConnection(
    serverFd,
    { ...base, sink: s2c.sink, source: c2s.source, onDescriptorsDropped: dropped('server') },
    finished('server'),
  );
  c2s.attach(server);
  s2c.attach(client);
  const idle =
    t.timeout === null
      ? null
      : idleTimer(
          t.timeout,
          () => Math.max(client.lastActive, server.lastActive),
          () => {
            client.finishNow();
            server.finishNow();
          },
        );
  client.start();
  server.start();
}
