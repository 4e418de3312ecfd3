// The stdio relay over one connection, shared by connect, listen (one peer) and pair: stdin to the socket, the socket to stdout, and the exit status of how it ended.
import { EXIT, UsockError } from '../errors';
import { type Connection, openConnection } from '../io/connection';
import { setSocketBuffers } from '../io/socket-buffers';
import type { CloseReason } from '../io/flow';
import { StdinReader, stdoutWriter } from '../io/stdio';
import { describeStats } from '../io/stats';
import { idleTimer, setLongTimeout, type LongTimer } from '../io/timer';
import type { Framing } from '../cli/options';
import type { Reporter } from '../report/reporter';
import { hasCode } from '../sys/errors';
import type { SocketType } from '../sys/socket';

export interface RelayOptions extends Framing {
  type: SocketType;
  reporter: Reporter;
  /** Names the peer in messages, e.g. `connect /run/app.sock`. */
  label: string;
  /** dgram: after stdin's end, finish once this many seconds pass without a reply. */
  wait?: number;
  /** Called with the connection once it runs (pair ends a dgram relay from outside). */
  started?: (conn: Connection) => void;
  /** Resolve to 0 however the peer ended (pair: CMD1's status decides), telling undelivered input with -v only. */
  peerEndIsFine?: boolean;
  /** -w: seconds without data either way after which the conversation ends as if the peer had closed (75 when the peer sent nothing). */
  timeout?: number | null;
  /** -c: end (0) once this many messages were received. */
  count?: number | null;
  /** --no-shutdown: keep the write side open at stdin's end. */
  noShutdown?: boolean;
  /** --shutdown-delay in ms: after stdin's end, shut the write side down once the peer has been quiet that long (absent: at once). */
  shutdownDelayMs?: number;
  /** Stream: SO_SNDBUF and SO_RCVBUF asked for before the relay starts (default STREAM_SOCKET_BUFFER); null: keep the socket's own (its caller set them). */
  socketBuffers?: number | null;
}

/**
 * Relays stdin to the connected socket fd and its data to stdout until the peer closes (stream,
 * seqpacket: see Connection) or, for dgram, replies stop for `wait` seconds after stdin's end.
 * Resolves to the exit status (see statusOfRelay; 65 when messages were dropped: oversize, refused by
 * the kernel, or skipped on stdin); rejects with a malformed len32 frame on stdin
 * (DATAERR), a dgram peer gone (UNAVAILABLE), or an I/O error. Owns fd and closes it.
 */
export function relayConnection(fd: number, o: RelayOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let timer: LongTimer | null = null;
    // A malformed len32 frame ends the input there; the run goes on as after EOF, then fails with it.
    let inputFailure: unknown = null;
    const stdin = new StdinReader(o, o.reporter, (err) => {
      inputFailure ??= err;
    });
    let idle: LongTimer | null = null;
    let timedOut = false;
    if (o.type === 'stream' && o.socketBuffers !== null) setSocketBuffers(fd, o.socketBuffers);
    const conn = openConnection(
      fd,
      { ...o, diagnostics: o.reporter, sink: stdoutWriter(), source: stdin },
      (c: Connection, reason: CloseReason, err?: Error) => {
        timer?.clear();
        idle?.clear();
        const inputEnded = stdin.ended;
        stdin.stop();
        o.reporter.info('closed', `${o.label}: connection closed: ${describeStats(c.stats, o.type !== 'stream')}`, { ...c.stats });
        if (reason === 'error') return reject(err);
        if (inputFailure) return reject(inputFailure);
        if (timedOut && c.stats.bytesIn === 0 && c.stats.oversize === 0) {
          return reject(new UsockError(`${o.label}: timed out after ${o.timeout} s: the peer sent nothing`, 'TEMPFAIL'));
        }
        if (o.type === 'dgram' && c.sendError && hasCode(c.sendError, 'ECONNREFUSED', 'ENOENT')) {
          const code = (c.sendError as { code?: string }).code;
          return reject(
            new UsockError(
              `${o.label}: the peer is gone (${code}): ${c.stats.messagesIn} replies received, ${c.stats.dropped} messages not sent`,
              'UNAVAILABLE',
            ),
          );
        }
        const lost = stdin.skipped + c.stats.oversize + c.stats.refused;
        if (o.peerEndIsFine) {
          if (c.sendError && c.stats.dropped)
            o.reporter.info('undelivered', `${o.label}: ${c.stats.dropped} unit(s) of input not delivered`, { dropped: c.stats.dropped });
          return resolve(lost ? EXIT.DATAERR : EXIT.OK);
        }
        const status = timedOut ? EXIT.OK : statusOfRelay(c, o.reporter, inputEnded);
        // Messages dropped along the way (each reported when it happened) make a run that otherwise went well a data error.
        resolve(status === EXIT.OK && lost ? EXIT.DATAERR : status);
      },
    );
    let replyWait: (() => void) | null = null;
    if (o.type === 'dgram' && o.wait !== undefined) {
      const wait = o.wait;
      // No EOF comes from a datagram peer: after stdin ends, wait until replies stop for `wait` seconds.
      const arm = () => {
        timer?.clear();
        timer = setLongTimeout(() => stdoutWriter().whenDrained(() => conn.finishNow()), wait * 1000);
      };
      stdin.onEnd = () =>
        conn.whenSent(() => {
          replyWait = arm;
          arm();
        });
    }
    conn.onMessage = () => {
      replyWait?.();
      if (o.count && conn.stats.messagesIn >= o.count) conn.finishNow();
    };
    if (o.timeout) {
      // Idle from the last data moved either way.
      idle = idleTimer(
        o.timeout,
        () => conn.lastActive,
        () => {
          timedOut = true;
          o.reporter.info('timeout', `${o.label}: idle for ${o.timeout} s: ending`, { seconds: o.timeout });
          conn.finishNow();
        },
      );
    }
    conn.start();
    o.started?.(conn);
  });
}

/**
 * Returns the exit status once a connection has closed, reporting what went wrong: 0; 69 when the peer
 * went away before any data either way (or reset the connection, or stopped reading, before it sent
 * anything); 74 when input was lost later on. inputEnded: stdin had reached its end.
 */
export function statusOfRelay(c: Connection, reporter: Reporter, inputEnded: boolean): number {
  const nothingBack = c.stats.bytesIn === 0;
  if (nothingBack && c.stats.bytesOut === 0 && !inputEnded && !c.reset) {
    reporter.warn('peer-gone', 'the peer closed the connection before any data', { ...c.stats });
    return EXIT.UNAVAILABLE;
  }
  if (c.reset) {
    reporter.warn('reset', `connection reset by the peer${nothingBack ? ' before it sent any data' : ''}`, { ...c.stats });
    return nothingBack ? EXIT.UNAVAILABLE : EXIT.IOERR;
  }
  if (!c.sendError || c.stats.dropped === 0) return EXIT.OK;
  const code = (c.sendError as { code?: string }).code ?? '';
  reporter.warn('undelivered', `peer stopped reading: ${c.stats.dropped} unit(s) of input not delivered (${code})`, {
    dropped: c.stats.dropped,
    code,
  });
  return nothingBack && c.stats.bytesOut === 0 ? EXIT.UNAVAILABLE : EXIT.IOERR;
}
