// `listen -t dgram`: every sender's datagrams to stdout, stdin's messages to the most recent sender that has an address.
import type { Framing } from '../../cli/options';
import { encodeMessage } from '../../io/framing';
import { StdinReader, stdoutWriter, type Outlet } from '../../io/stdio';
import { newStats } from '../../io/stats';
import type { AccessRules } from '../../net/access';
import { DatagramReceiver, senderText } from '../../net/datagram';
import type { Reporter } from '../../report/reporter';
import { WOULD_BLOCK } from '../../sys/fd';
import { sendto } from '../../sys/socket';
import { EXIT, UsockError } from '../../errors';
import { idleTimer } from '../../io/timer';

/** How long to wait before sending again to a receiver whose queue was full (an unconnected socket cannot poll for it). */
const RETRY_MS = 2;

/**
 * Relays stdio with the senders of the bound dgram socket fd until a signal: received datagrams go to
 * stdout (framed), stdin's messages to the most recent named sender; they wait while there is none.
 * A sender the rules reject is dropped and reported. fd stays the caller's. Runs until a signal, or
 * resolves after -c N messages or once -w passes idle: 0, or 65 when a message was dropped on the way
 * (received larger than --max-size, skipped on stdin, not delivered); rejects with TEMPFAIL when nothing
 * came at all, and with a malformed len32 frame on stdin.
 */
export function relayDatagrams(
  fd: number,
  o: Framing & { type: 'dgram'; reporter: Reporter; rules: AccessRules | null; timeout: number | null; count: number | null },
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const stats = newStats();
    const out = stdoutWriter();
    let replyTo: Buffer | null = null;
    const queue: Buffer[] = [];
    let retry: NodeJS.Timeout | null = null;
    const stdin = new StdinReader(o, o.reporter, reject);

    const flush = () => {
      if (retry) return;
      while (queue.length && replyTo) {
        let n: number | typeof WOULD_BLOCK;
        try {
          n = sendto(fd, queue[0]!, replyTo);
        } catch (err) {
          stats.dropped++;
          o.reporter.warn('send-failed', `message to ${senderText(replyTo)} not delivered: ${(err as Error).message}`);
          queue.shift();
          continue;
        }
        if (n === WOULD_BLOCK) {
          retry = setTimeout(() => {
            retry = null;
            flush();
          }, RETRY_MS);
          return;
        }
        stats.messagesOut++;
        stats.bytesOut += n;
        queue.shift();
      }
      stdin.kick();
    };
    const outlet: Outlet = {
      accept(unit) {
        queue.push(unit);
        flush();
      },
      get busy() {
        return queue.length > 0;
      },
      end() {},
    };

    const receiver = new DatagramReceiver(fd, {
      maxData: o.maxSize,
      rules: o.rules,
      diagnostics: o.reporter,
      onDatagram: (d) => {
        if (d.from && (!replyTo || !replyTo.equals(d.from))) {
          replyTo = Buffer.from(d.from);
          o.reporter.info('sender', `replies go to ${senderText(replyTo)}`, { address: senderText(replyTo) });
          if (queue.length) setImmediate(flush);
        }
        if (d.length > d.data.length) {
          stats.oversize++;
          o.reporter.warn('oversize', `received message of ${d.length} bytes exceeds --max-size ${o.maxSize}: dropped`, {
            length: d.length,
          });
          return;
        }
        stats.messagesIn++;
        stats.bytesIn += d.length;
        lastActive = Date.now();
        for (const piece of encodeMessage(o.frame, d.data)) out.push(piece);
        if (o.count && stats.messagesIn >= o.count) end(finished()); // -c N
      },
      afterBatch: () => {
        out.flush();
        if (out.full) {
          receiver.pause();
          out.whenDrained(() => receiver.start());
        }
      },
    });
    let lastActive = Date.now();
    let ended = false;
    /** The status of a run that ended well: 65 when a message was dropped on the way (each was reported). */
    const finished = () => (stats.oversize + stats.dropped + stdin.skipped > 0 ? EXIT.DATAERR : EXIT.OK);
    /** Ends the relay once stdout has what was received. */
    const end = (status: number | Error) => {
      if (ended) return;
      ended = true;
      idle?.clear();
      receiver.close();
      stdin.stop();
      out.whenDrained(() => (typeof status === 'number' ? resolve(status) : reject(status)));
    };
    // -w: no datagram for that long ends the relay: 0 (65) when something came, 75 when nothing ever did.
    const idle =
      o.timeout === null
        ? null
        : idleTimer(
            o.timeout,
            () => lastActive,
            () =>
              end(
                stats.messagesIn + stats.oversize > 0
                  ? finished()
                  : new UsockError(`timed out after ${o.timeout} s waiting for a message`, 'TEMPFAIL'),
              ),
          );
    receiver.start();
    stdin.addOutlet(outlet);
  });
}
