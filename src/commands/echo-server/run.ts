// `usock echo-server`: every byte (stream), message (seqpacket) or datagram (dgram) goes back to its sender, for any number of clients, until a signal.
import { concreteType, framingFor, maxConnsOf, reporterOf, serverSpecOf } from '../../cli/options';
import { Connection } from '../../io/connection';
import { acceptLoop } from '../../net/accept';
import { DatagramReceiver, senderText } from '../../net/datagram';
import { openServer } from '../../net/server';
import type { Reporter } from '../../report/reporter';
import { describePeer } from '../../report/text';
import { hasCode } from '../../sys/errors';
import { releaseMemory } from '../../sys/memory';
import { sendto, WOULD_BLOCK } from '../../sys/socket';
import type { EchoServerArgv } from './index';

/** Runs `usock echo-server` until a signal ends the process. Throws UsockError or SysError at start-up. */
export async function runEchoServer(argv: EchoServerArgv): Promise<number> {
  const reporter = reporterOf(argv);
  const type = concreteType(argv.type, 'echo-server');
  const { maxSize } = framingFor(argv, type);
  const spec = serverSpecOf(argv, type, reporter, 'echo-server');
  const maxConns = maxConnsOf(argv, false);
  const server = openServer(spec);
  if (type === 'dgram') {
    new DatagramReceiver(server.fd, { maxData: maxSize, rules: spec.rules, diagnostics: reporter, onDatagram: (d) => echoDatagram(server.fd, d, reporter) }).start();
  } else {
    const loop = acceptLoop(server.fd, {
      rules: spec.rules,
      maxConns,
      diagnostics: reporter,
      onIdle: releaseMemory,
      onPeer: (fd, cred) => {
        new Connection(fd, { type, frame: 'raw', maxSize, diagnostics: reporter, sink: null, source: null }, (c, reason, err) => {
          loop.released();
          if (reason === 'error' && !hasCode(err, 'EPIPE', 'ECONNRESET')) {
            reporter.warn('echo-error', `connection from ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
          }
        }).start();
      },
    });
  }
  return new Promise<number>(() => {}); // until a signal
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
    if (sendto(fd, d.data, d.from) === WOULD_BLOCK) reporter.warn('echo-dropped', `echo of ${d.length} bytes to ${senderText(d.from)} dropped: its queue is full`);
  } catch (err) {
    reporter.info('echo-failed', `echo not delivered: ${(err as Error).message}`);
  }
}
