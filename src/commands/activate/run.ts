// `usock activate`: bind every ADDRESS as listen does, then hand the sockets to CMD as systemd's socket activation does (at the first client, or --now), or start a CMD per connection (--accept, --inetd); readiness reported, signals passed on, CMD's status returned.
import { deferSignals, onSignal } from '../../cli/lifecycle';
import { reporterOf, serverSpecOf } from '../../cli/options';
import type { Status } from '../../cli/registry';
import { UsageError, UsockError } from '../../errors';
import { setLongTimeout } from '../../io/timer';
import { openServer } from '../../net/server';
import type { BoundSocket } from '../../net/socketfile';
import type { Running } from '../../proc/spawn';
import type { Reporter } from '../../report/reporter';
import { FdWatcher } from '../../sys/poll';
import { closeQuietly } from '../../sys/fd';
import { checkCommand, fdNames, makeBlocking, setenvOf, startWithSockets } from './handover';
import type { ActivateSettings } from './index';
import { openNotifySocket } from './notify';

/** How long a daemon stopped for --ready-timeout has after SIGTERM before it gets SIGKILL. */
const KILL_AFTER_MS = 5000;

/** The start and exit of each CMD (lines with -v, records with --json), and the times notifications are reported after. */
export class Records {
  private readonly starts = new Map<number, number>();
  private lastStart = performance.now();

  constructor(
    readonly reporter: Reporter,
    private readonly name: string,
  ) {}

  /** Reports an event: a JSON record with --json (unless -q), a line with -v. */
  record(event: string, text: string, fields: Record<string, unknown>): void {
    if (this.reporter.json) this.reporter.notice(event, text, { time: new Date().toISOString(), ...fields });
    else this.reporter.info(event, text, fields);
  }

  /** Records that CMD started as pid (`what`: for whom). */
  started(pid: number, what: string, fields: Record<string, unknown> = {}): void {
    this.lastStart = performance.now();
    this.starts.set(pid, this.lastStart);
    this.record('start', `started ${this.name} (pid ${pid})${what ? ` ${what}` : ''}`, { pid, ...fields });
  }

  /** Records that the CMD of pid ended: its status, or the signal that killed it. */
  exited(pid: number, status: number, signal: NodeJS.Signals | null): void {
    this.starts.delete(pid);
    this.record(
      'exit',
      `${this.name} (pid ${pid}) ${signal ? `killed by ${signal}` : `exited with status ${status}`}`,
      signal ? { pid, signal } : { pid, status },
    );
  }

  /** Returns when the command of pid started (the latest CMD's for another process; usock's start before any). */
  startOf(pid: number): number {
    return this.starts.get(pid) ?? this.lastStart;
  }
}

/**
 * Runs `usock activate`; resolves to CMD's status or the signal it died of (with --accept and --inetd,
 * the signal that ended usock). Throws UsageError, UsockError (127 CMD not found, 126 not runnable, 75
 * --ready-timeout, 73 and 77 binding), SysError.
 */
export async function runActivate(argv: ActivateSettings): Promise<Status> {
  const reporter = reporterOf(argv);
  const { type, maxConns } = argv;
  const command = argv.rest ?? [];
  if (command.length === 0) throw new UsageError('no command after --', 'usage: usock activate [options] ADDRESS... -- CMD [ARGS...]');
  const mode = argv.accept ? 'accept' : argv.inetd ? 'inetd' : null; // one or neither (the spec)
  const readyTimeout = argv.readyTimeout ?? null;
  const setenv = setenvOf(argv.setenv);
  const specs = argv.address.map((address) => ({
    ...serverSpecOf(address, argv, type, reporter, 'activate'),
    limitedBy: mode ? undefined : 'the daemon must check its peers itself',
  }));
  const names = fdNames(
    argv.fdname,
    specs.map((s) => s.address),
  );
  checkCommand(command[0]!, { ...process.env, ...setenv }.PATH);
  const servers: BoundSocket[] = [];
  try {
    for (const spec of specs) servers.push(openServer(spec));
  } catch (err) {
    for (const server of servers) server.close();
    throw err;
  }
  const records = new Records(reporter, command[0]!);
  const readiness = { ready: false, onReady: () => {} };
  const notifySocket = openNotifySocket({
    reporter,
    startOf: (pid) => records.startOf(pid),
    onReady: () => {
      readiness.ready = true;
      readiness.onReady();
    },
  });
  const env = { ...process.env, NOTIFY_SOCKET: notifySocket, ...setenv };
  deferSignals(); // a signal goes to CMD; usock ends with it
  if (mode) {
    const { servePerConnection } = await import('./per-connection');
    return servePerConnection(servers, { kind: mode, command, env, rules: specs[0]!.rules, maxConns, records, onSignal });
  }
  return runDaemon(servers, { command, env, names, now: argv.now, readyTimeout, records, readiness });
}

interface DaemonOptions {
  command: string[];
  env: NodeJS.ProcessEnv;
  names: string[];
  now: boolean;
  readyTimeout: number | null;
  records: Records;
  readiness: { ready: boolean; onReady: () => void };
}

/** Resolves once one of the servers is readable (a client waits in the backlog, or a datagram in the queue), without taking anything from it. */
function firstActivity(servers: BoundSocket[]): Promise<void> {
  return new Promise((resolve) => {
    const watchers = servers.map((s) => new FdWatcher(s.fd));
    for (const watcher of watchers) {
      watcher.onReadable(() => {
        for (const w of watchers) w.close();
        resolve();
      });
    }
  });
}

/**
 * Starts the daemon with every socket (lazily, unless --now), closes usock's copies (the socket files stay
 * usock's to remove), and resolves to its status or the signal it died of. Throws StartError, and
 * UsockError (TEMPFAIL) when --ready-timeout passes without READY=1 (the daemon is ended first).
 */
async function runDaemon(servers: BoundSocket[], o: DaemonOptions): Promise<Status> {
  let daemon: Running | null = null;
  let pending: NodeJS.Signals | null = null;
  let interrupted: (signal: NodeJS.Signals) => void = () => {};
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    interrupted = resolve;
  });
  onSignal((signal) => {
    if (daemon) daemon.child.kill(signal);
    else {
      pending = signal;
      interrupted(signal);
    }
  });
  if (!o.now) {
    const first = await Promise.race([firstActivity(servers), signalled]);
    if (typeof first === 'string') return first; // a signal before any client: nothing started
  }
  for (const server of servers) makeBlocking(server.fd);
  daemon = await startWithSockets(o.command, { kind: 'fds', fds: servers.map((s) => s.fd), names: o.names }, o.env);
  const pid = daemon.child.pid ?? 0;
  for (const server of servers) {
    server.giveAwayDescriptor(); // the file is still removed at exit
    closeQuietly(server.fd);
  }
  o.records.started(pid, `with LISTEN_FDS=${servers.length}`);
  if (pending !== null) daemon.child.kill(pending);
  const running = daemon;
  const timedOut =
    o.readyTimeout === null
      ? null
      : new Promise<'timeout'>((resolve) => {
          const timer = setLongTimeout(() => resolve('timeout'), o.readyTimeout! * 1000);
          o.readiness.onReady = () => timer.clear();
          if (o.readiness.ready) timer.clear();
        });
  const outcome = await Promise.race(timedOut ? [running.ended, timedOut] : [running.ended]);
  if (outcome === 'timeout') {
    running.child.kill('SIGTERM');
    const kill = setTimeout(() => running.child.kill('SIGKILL'), KILL_AFTER_MS);
    const { status, signal } = await running.ended;
    clearTimeout(kill);
    o.records.exited(pid, status, signal);
    throw new UsockError(`${o.command[0]} (pid ${pid}) did not send READY=1 within ${o.readyTimeout} s: stopped with SIGTERM`, 'TEMPFAIL');
  }
  o.records.exited(pid, outcome.status, outcome.signal);
  return outcome.signal ?? outcome.status;
}
