// `usock echo-server`: every byte (stream), message (seqpacket) or datagram (dgram) goes back to its sender, for any number of clients, until a signal.
import { reporterOf, serverSpecOf } from '../../cli/options';
import { EXIT } from '../../errors';
import { idleTimer } from '../../io/timer';
import { openConnection } from '../../io/connection';
import { Echo } from '../../io/echo';
import { setSocketBuffers } from '../../io/socket-buffers';
import { acceptLoop } from '../../net/accept';
import { DatagramReceiver, senderText } from '../../net/datagram';
import { openServer } from '../../net/server';
import type { Reporter } from '../../report/reporter';
import { describePeer } from '../../report/text';
import { hasCode } from '../../sys/errors';
import { releaseMemory } from '../../sys/memory';
import { WOULD_BLOCK } from '../../sys/fd';
import { sendto } from '../../sys/socket';
import type { EchoServerSettings } from './index';

/**
 * Runs `usock echo-server` until a signal ends the process, or -c N connections (dgram: datagrams) have
 * been served (then 0). With -w, a connection idle that long is closed. Throws UsockError or SysError at start-up.
 */
export async function runEchoServer(s: EchoServerSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type, maxSize, maxConns } = s;
  const timeout = s.timeout ?? null;
  const count = s.count ?? null;
  const spec = serverSpecOf(s.address, s, type, reporter, 'echo-server');
  const server = openServer(spec);
  return new Promise<number>((resolve) => {
    if (type === 'dgram') {
      let echoed = 0;
      new DatagramReceiver(server.fd, {
        maxData: maxSize,
        rules: spec.rules,
        diagnostics: reporter,
        onDatagram: (d) => {
          echoDatagram(server.fd, d, reporter);
          if (count && ++echoed === count) resolve(EXIT.OK);
        },
      }).start();
      return; // until a signal, or -c
    }
    const loop = acceptLoop(server.fd, {
      rules: spec.rules,
      maxConns,
      count,
      onServed: () => resolve(EXIT.OK),
      diagnostics: reporter,
      onIdle: releaseMemory,
      onPeer: (fd, cred) => {
        const idle =
          timeout === null
            ? null
            : idleTimer(
                timeout,
                () => conn.lastActive,
                () => conn.finishNow(),
              );
        if (type === 'stream') setSocketBuffers(fd);
        const echo = new Echo();
        const conn = openConnection(
          fd,
          { type, frame: 'raw', maxSize, diagnostics: reporter, sink: echo.sink, source: echo.source },
          (_c, reason, err) => {
            idle?.clear();
            loop.released();
            if (reason === 'error' && !hasCode(err, 'EPIPE', 'ECONNRESET')) {
              reporter.warn('echo-error', `connection from ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
            }
          },
        );
        echo.attach(conn);
        conn.start();
      },
    });
  }); // until a signal, or -c
}

/** Sends a datagram back to its sender; an unnamed sender cannot get one, and a full receiver queue drops the echo rather than stall every other client. */
function echoDatagram(fd: number, d: { length: number; data: Buffer; from: Buffer | null }, reporter: Reporter): void {
  if (d.length > d.data.length) {
    reporter.warn('oversize', `datagram of ${d.length} bytes exceeds --max-size ${d.data.length}: not echoed`, { length: d.length });
    return;
  }
  if (!d.from) {
    reporter.info('unnamed', `datagram of ${d.length} bytes from an unnamed sender: no address to echo to`);
    return;
  }
  try {
    if (sendto(fd, d.data, d.from) === WOULD_BLOCK)
      reporter.warn('echo-dropped', `echo of ${d.length} bytes to ${senderText(d.from)} dropped: its queue is full`);
  } catch (err) {
    reporter.info('echo-failed', `echo not delivered: ${(err as Error).message}`);
  }
}
