// `usock listen`: bind an address and relay stdio with one peer, with every peer (-k), with datagram senders, or run a command per connection.
import { countOf, framingFor, maxConnsOf, rejectOptions, reporterOf, serverSpecOf, shutdownDelayMsOf, socketTypeFor, timeoutOf, type Framing } from '../../cli/options';
import { EXIT, UsageError } from '../../errors';
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
import type { ListenArgv } from './index';

/** How long a connection whose --exec command has ended may go on sending before it is closed (unless -w says otherwise). */
const EXEC_DRAIN_SECONDS = 1;

/**
 * Runs `usock listen`; resolves to the exit status (servers with -k or dgram run until a signal, -c N
 * or, for dgram, -w). Throws UsockError (TEMPFAIL when -w passes without a client), SysError.
 */
export async function runListen(argv: ListenArgv): Promise<number> {
  const reporter = reporterOf(argv);
  const type = socketTypeFor(argv, argv.address, 'listen', 'serve');
  if (type === 'dgram') {
    if (argv.exec !== undefined) throw new UsageError('--exec needs connections: use -t stream or -t seqpacket', 'a dgram listener has no connection to give a command');
    rejectOptions(argv, ['keep-open'], 'applies to stream and seqpacket only (a dgram listener receives from every sender anyway)');
  }
  checkExecOptions(argv, type);
  if (!argv['keep-open']) rejectOptions(argv, ['max-conns'], 'applies with -k only (without it listen serves one connection)');
  if (type === 'dgram' || argv['keep-open'] || argv.exec !== undefined) {
    rejectOptions(argv, ['shutdown-delay', 'no-shutdown'], 'applies to the one peer of a stream or seqpacket listen without -k or --exec');
  }
  if (argv['no-shutdown']) rejectOptions(argv, ['shutdown-delay'], 'does not apply with --no-shutdown (the write side is never shut down)');
  const shutdownDelayMs = shutdownDelayMsOf(argv);
  if (type === 'stream' && !argv['keep-open']) rejectOptions(argv, ['count'], 'applies to dgram and seqpacket, or with -k (connections served): a stream has no messages to count');
  const maxConns = maxConnsOf(argv, argv.exec !== undefined);
  const timeout = timeoutOf(argv);
  const count = countOf(argv);
  const framedExec = argv.exec !== undefined && type === 'seqpacket' && !argv['exec-socket'];
  const framing = argv.exec === undefined || framedExec ? framingFor(argv, type) : null;
  const spec = serverSpecOf(argv, type, reporter, 'listen');
  const server = openServer(spec);
  try {
    if (type === 'dgram') return await relayDatagrams(server.fd, { ...framing!, type, reporter, rules: spec.rules, timeout, count });
    const exec: ExecOptions | null = argv.exec === undefined ? null
      : { cmd: argv.exec, framing: framedExec ? framing : null, drainSeconds: timeout ?? EXEC_DRAIN_SECONDS, reporter };
    const execModule = exec ? await import('../exec') : null; // child_process only with --exec
    if (argv['keep-open']) {
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
      ...framing!, type, reporter, label: `listen ${spec.address.text}: ${describePeer(cred)}`, timeout, count, noShutdown: !!argv['no-shutdown'], shutdownDelayMs,
    });
  } finally {
    server.close();
  }
}

/**
 * Throws UsageError (64) for options that do not apply to --exec on type: --frame and --max-size apply
 * only where usock relays CMD's lines (seqpacket without --exec-socket), --exec-socket only to seqpacket --exec.
 */
function checkExecOptions(argv: ListenArgv, type: SocketType): void {
  if (argv.exec === undefined) {
    rejectOptions(argv, ['exec-socket'], 'applies with --exec only (on seqpacket: CMD gets the socket instead of relayed lines)');
    return;
  }
  if (type !== 'seqpacket') rejectOptions(argv, ['exec-socket'], 'applies to -t seqpacket only (elsewhere CMD gets the socket anyway)');
  if (type === 'stream') rejectOptions(argv, ['frame', 'max-size'], 'does not apply with --exec on -t stream (the command reads and writes the socket)');
  if (argv['exec-socket']) rejectOptions(argv, ['frame', 'max-size'], 'does not apply with --exec-socket (the command reads and writes the socket)');
}

let sharedStdin: StdinReader | null = null;

/**
 * Relays one connection of `listen -k`: its data to stdout, and the units of the one stdin reader
 * every connection shares; a failure ends this connection only.
 */
function relayKeptOpen(fd: number, cred: Ucred | null, o: Framing & { type: SocketType; diagnostics: Reporter; timeout: number | null }, done: () => void): void {
  sharedStdin ??= new StdinReader(o, o.diagnostics, (err) => {
    o.diagnostics.warn('stdin-error', `stdin: ${(err as Error).message}: no more input is sent`);
  });
  const idle = o.timeout === null ? null : idleTimer(o.timeout, () => conn.lastActive, () => {
    o.diagnostics.info('timeout', `connection from ${describePeer(cred)} idle for ${o.timeout} s: closed`, { peer: cred });
    conn.finishNow();
  });
  if (o.type === 'stream') setSocketBuffers(fd);
  const conn = openConnection(fd, { ...o, sink: stdoutWriter(), source: sharedStdin }, (c: Connection, reason: CloseReason, err?: Error) => {
    idle?.clear();
    done();
    o.diagnostics.info('closed', `connection from ${describePeer(cred)} closed: ${describeStats(c.stats, o.type !== 'stream')}`, { peer: cred, ...c.stats });
    if (reason === 'error') o.diagnostics.warn('connection-error', `connection from ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
  });
  conn.start();
}
