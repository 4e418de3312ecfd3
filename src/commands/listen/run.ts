// `usock listen`: bind an address and relay stdio with one peer, with every peer (-k), with datagram senders, or run a command per connection.
import { reporterOf, serverSpecOf, type Framing } from '../../cli/options';
import { EXIT } from '../../errors';
import { idleTimer } from '../../io/timer';
import { type Connection, openConnection } from '../../io/connection';
import { setSocketBuffers } from '../../io/socket-buffers';
import type { CloseReason } from '../../io/flow';
import { StdinReader, stdoutWriter } from '../../io/stdio';
import { describeStats } from '../../io/stats';
import { acceptLoop, acceptOne } from '../../net/accept';
import { openServer } from '../../net/server';
import type { Reporter } from '../../report/reporter';
import { describePeer } from '../../report/text';
import type { SocketType, Ucred } from '../../sys/socket';
import type { ExecOptions } from '../exec';
import { releaseMemory } from '../../sys/memory';
import { relayConnection } from '../relay';
import { relayDatagrams } from './dgram';
import { MAX_CONNS, type ListenSettings } from './index';

/** How long a connection whose --exec command has ended may go on sending before it is closed (unless -w says otherwise). */
const EXEC_DRAIN_SECONDS = 1;

/**
 * Runs `usock listen`; resolves to the exit status (servers with -k or dgram run until a signal, -c N
 * or, for dgram, -w). Throws UsockError (TEMPFAIL when -w passes without a client), SysError.
 */
export async function runListen(s: ListenSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type } = s;
  const maxConns = s.maxConns ?? (s.exec !== undefined ? MAX_CONNS.exec : MAX_CONNS.relay);
  const timeout = s.timeout ?? null;
  const count = s.count ?? null;
  const framedExec = s.exec !== undefined && type === 'seqpacket' && !s.execSocket;
  const framing: Framing | null = s.exec === undefined || framedExec ? { frame: s.frame, maxSize: s.maxSize } : null;
  const spec = serverSpecOf(s.address, s, type, reporter, 'listen');
  const server = openServer(spec);
  try {
    if (type === 'dgram') return await relayDatagrams(server.fd, { ...framing!, type, reporter, rules: spec.rules, timeout, count });
    const exec: ExecOptions | null =
      s.exec === undefined
        ? null
        : { cmd: s.exec, framing: framedExec ? framing : null, drainSeconds: timeout ?? EXEC_DRAIN_SECONDS, reporter };
    const execModule = exec ? await import('../exec') : null; // child_process only with --exec
    if (s.keepOpen) {
      return await new Promise<number>((resolve) => {
        const loop = acceptLoop(server.fd, {
          rules: spec.rules,
          maxConns: exec ? execModule!.capToDescriptors(maxConns, exec) : maxConns,
          count,
          onServed: () => resolve(EXIT.OK), // -c N: N connections served
          diagnostics: reporter,
          onIdle: releaseMemory,
          onPeer: (fd, cred) => {
            if (queue) queue.add(fd, cred);
            else relayKeptOpen(fd, cred, { ...framing!, type, diagnostics: reporter, timeout }, () => loop.released());
          },
        });
        const queue = exec ? new execModule!.ExecQueue(exec, loop) : null;
      }); // until a signal, or -c
    }
    const { fd, cred } = await acceptOne(server.fd, spec.rules, reporter, timeout);
    server.close();
    if (exec) {
      try {
        return await execModule!.execOnce(fd, cred, exec);
      } catch (err) {
        reporter.warn('exec-failed', `--exec for ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
        return EXIT.FAILURE;
      }
    }
    return await relayConnection(fd, {
      ...framing!,
      type,
      reporter,
      label: `listen ${spec.address.text}: ${describePeer(cred)}`,
      timeout,
      count,
      noShutdown: s.noShutdown,
      shutdownDelayMs: Math.round(s.shutdownDelay * 1000),
    });
  } finally {
    server.close();
  }
}

let sharedStdin: StdinReader | null = null;

/**
 * Relays one connection of `listen -k`: its data to stdout, and the units of the one stdin reader
 * every connection shares; a failure ends this connection only.
 */
function relayKeptOpen(
  fd: number,
  cred: Ucred | null,
  o: Framing & { type: SocketType; diagnostics: Reporter; timeout: number | null },
  done: () => void,
): void {
  sharedStdin ??= new StdinReader(o, o.diagnostics, (err) => {
    o.diagnostics.warn('stdin-error', `stdin: ${(err as Error).message}: no more input is sent`);
  });
  const idle =
    o.timeout === null
      ? null
      : idleTimer(
          o.timeout,
          () => conn.lastActive,
          () => {
            o.diagnostics.info('timeout', `connection from ${describePeer(cred)} idle for ${o.timeout} s: closed`, { peer: cred });
            conn.finishNow();
          },
        );
  if (o.type === 'stream') setSocketBuffers(fd);
  const conn = openConnection(
    fd,
    { ...o, sink: stdoutWriter(), source: sharedStdin },
    (c: Connection, reason: CloseReason, err?: Error) => {
      idle?.clear();
      done();
      o.diagnostics.info('closed', `connection from ${describePeer(cred)} closed: ${describeStats(c.stats, o.type !== 'stream')}`, {
        peer: cred,
        ...c.stats,
      });
      if (reason === 'error')
        o.diagnostics.warn('connection-error', `connection from ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
    },
  );
  conn.start();
}
