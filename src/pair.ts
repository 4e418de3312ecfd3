// `usock pair`: a socketpair() whose ends go to one or two `sh -c` commands, or to one command and usock's own stdin/stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { EXIT } from './errors';
import { statusOf } from './exec';
import { Connection, Stdio, describeStats, type CloseReason } from './io/relay';
import { dieOfSignal, handleSignals } from './lifecycle';
import { concreteType } from './net/client';
import type { Reporter } from './output';
import { relayConfig, reporterFor, type CommonArgs } from './settings';
import { F_GETFL, F_SETFL, O_NONBLOCK, POLLIN, POLLNVAL } from './sys/platform/linux';
import { closeQuietly, fcntl, pollNow, socketpair } from './sys/socket';

export interface PairArgs extends CommonArgs {
  cmd1: string;
  cmd2?: string;
}

interface Running {
  child: ChildProcess;
  /** The command's shell-style status once it has ended (128+N for a signal, 1 when it could not start). */
  status: Promise<number>;
}

/** Starts `sh -c cmd` with fd as its stdin and stdout (spawn dup2s it, so the child's copies are inheritable). */
function startCommand(cmd: string, fd: number, reporter: Reporter, label: string): Running {
  const child = spawn('/bin/sh', ['-c', cmd], { stdio: [fd, fd, 'inherit'] });
  const status = new Promise<number>((resolve) => {
    child.on('error', (err) => {
      reporter.warn('exec-failed', `${label}: ${err.message}`);
      resolve(EXIT.FAILURE);
    });
    child.on('exit', (code, signal) => {
      const s = statusOf(code, signal);
      reporter.info('exited', `${label} (pid ${child.pid}) exited with status ${s}`, { command: label, pid: child.pid, status: s });
      resolve(s);
    });
  });
  reporter.info('started', `${label} started (pid ${child.pid})`, { command: label, pid: child.pid });
  return { child, status };
}

/**
 * Runs `usock pair`; returns the first non-zero status of CMD1 then CMD2 (in that order), else 0.
 * Throws UsageError for a bad --type or option, SysError when socketpair fails. Closes both ends.
 */
export async function runPair(argv: PairArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'pair');
  const cfg = relayConfig(argv, type, reporter);
  // Blocking ends, as programs expect of their stdin/stdout; close-on-exec, so that each child gets
  // only its own end (as fd 0 and 1) and an end's EOF is not held up by a copy in the other child.
  const [end1, end2] = socketpair(type, { nonblock: false, cloexec: true });
  const children: ChildProcess[] = [];
  handleSignals((signal) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    dieOfSignal(signal);
  });
  // Starts cmd on end, then closes our copy of end whether or not the command started.
  const startOnEnd = (cmd: string, end: number, label: string): Running => {
    try {
      const running = startCommand(cmd, end, reporter, label);
      children.push(running.child);
      return running;
    } finally {
      closeQuietly(end);
    }
  };
  const first = startOnEnd(argv.cmd1, end1, 'CMD1');
  if (argv.cmd2 !== undefined) {
    const second = startOnEnd(argv.cmd2, end2, 'CMD2');
    const [s1, s2] = await Promise.all([first.status, second.status]);
    return s1 !== 0 ? s1 : s2;
  }
  const [relayStatus, s1] = await Promise.all([coprocess(end2, cfg, reporter, first.status), first.status]);
  return s1 !== 0 ? s1 : relayStatus;
}

/**
 * Relays usock's stdin/stdout with the socket end fd (CMD1 has the other): at stdin EOF the write side
 * is shut down so that CMD1 sees EOF (stream, seqpacket); ends once CMD1 has closed its end, or, for
 * dgram (which has no EOF), once CMD1 has exited and every message it sent is on stdout.
 * Returns 0, or the relay's failure status. Owns fd and closes it.
 */
function coprocess(fd: number, cfg: ReturnType<typeof relayConfig>, reporter: Reporter, exited: Promise<number>): Promise<number> {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const stdio = new Stdio(reporter);
  let over = false;
  return new Promise<number>((resolve, reject) => {
    const conn = new Connection(fd, cfg, stdio, (c: Connection, reason: CloseReason, err?: Error) => {
      over = true;
      stdio.stop();
      reporter.info('closed', `CMD1's end closed: ${describeStats(c.stats, cfg.type !== 'stream')}`, { ...c.stats });
      if (reason === 'error') return reject(err);
      if (c.sendError && c.stats.dropped) {
        reporter.info('undelivered', `CMD1 stopped reading: ${c.stats.dropped} unit(s) of input not delivered`, { dropped: c.stats.dropped });
      }
      resolve(EXIT.OK);
    });
    stdio.configure(cfg, conn.stats);
    conn.start();
    if (cfg.type === 'dgram') {
      // A datagram end never reads EOF: once CMD1 is gone, take what it left queued, then finish.
      exited.then(() => {
        const drained = () => {
          if (over) return;
          const revents = pollNow(fd, POLLIN | POLLNVAL);
          if ((revents & (POLLIN | POLLNVAL)) === POLLIN) setTimeout(drained, 5);
          else conn.finishNow();
        };
        drained();
      });
    }
  });
}
