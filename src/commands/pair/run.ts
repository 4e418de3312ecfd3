// `usock pair`: a socketpair() whose ends go to one or two `sh -c` commands, or to one command and usock's own stdin/stdout.
import { onSignal } from '../../cli/lifecycle';
import { reporterOf, type Framing } from '../../cli/options';
import type { Connection } from '../../io/connection';
import { start, type Running } from '../../proc/spawn';
import type { Reporter } from '../../report/reporter';
import { F_GETFL, F_SETFL, O_NONBLOCK, POLLIN, POLLNVAL } from '../../sys/platform/linux';
import { closeQuietly, fcntl, pollNow } from '../../sys/fd';
import { socketpair, type SocketType } from '../../sys/socket';
import { relayConnection } from '../relay';
import type { PairSettings } from './index';

/**
 * Runs `usock pair`; returns the first non-zero status of CMD1 then CMD2 (in that order), else the
 * relay's status. Throws UsageError for a bad --type or option, SysError when socketpair fails. Closes both ends.
 */
export async function runPair(s: PairSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type } = s;
  const framing: Framing | null = s.cmd2 === undefined ? { frame: s.frame, maxSize: s.maxSize } : null;
  // Blocking ends, as programs expect of their stdin/stdout; close-on-exec, so that each child gets
  // only its own end (as fd 0 and 1) and an end's EOF is not held up by a copy in the other child.
  const [end1, end2] = socketpair(type, { nonblock: false, cloexec: true });
  const children: Running[] = [];
  onSignal((signal) => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
  // Resolves once the command runs, to a promise of its status (wrapped: an async function would flatten it).
  const startOn = async (cmd: string, end: number, label: string): Promise<{ status: Promise<number> }> => {
    const running = await start('/bin/sh', ['-c', cmd], { stdio: [end, end, 'inherit'], closeAfter: [end] });
    children.push(running);
    reporter.info('started', `${label} started (pid ${running.child.pid})`, { command: label, pid: running.child.pid });
    const status = running.ended.then(({ status: s }) => {
      reporter.info('exited', `${label} (pid ${running.child.pid}) exited with status ${s}`, {
        command: label,
        pid: running.child.pid,
        status: s,
      });
      return s;
    });
    return { status };
  };
  let first: Promise<number>;
  try {
    first = (await startOn(s.cmd1, end1, 'CMD1')).status;
  } catch (err) {
    closeQuietly(end2);
    throw err;
  }
  if (s.cmd2 !== undefined) {
    const second = (await startOn(s.cmd2, end2, 'CMD2')).status;
    const [s1, s2] = await Promise.all([first, second]);
    return s1 !== 0 ? s1 : s2;
  }
  const [relayStatus, s1] = await Promise.all([coprocess(end2, { ...framing!, type, reporter }, first), first]);
  return s1 !== 0 ? s1 : relayStatus;
}

/**
 * Relays usock's stdin/stdout with the socket end fd (CMD1 has the other): at stdin EOF the write side
 * is shut down so that CMD1 sees EOF (stream, seqpacket); ends once CMD1 has closed its end, or, for
 * dgram (which has no EOF), once CMD1 has exited and every message it sent is on stdout.
 * Returns 0, or the relay's failure status. Owns fd and closes it.
 */
async function coprocess(fd: number, o: Framing & { type: SocketType; reporter: Reporter }, exited: Promise<number>): Promise<number> {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  let conn: Connection | null = null;
  const relay = relayConnection(fd, {
    ...o,
    label: "CMD1's end",
    peerEndIsFine: true,
    started: (c) => {
      conn = c;
    },
  });
  if (o.type === 'dgram') {
    // A datagram end never reads EOF: once CMD1 is gone, take what it left queued, then finish.
    void exited.then(() => {
      const drained = () => {
        const revents = pollNow(fd, POLLIN | POLLNVAL);
        if ((revents & (POLLIN | POLLNVAL)) === POLLIN) setTimeout(drained, 5);
        else conn?.finishNow();
      };
      drained();
    });
  }
  return relay;
}
