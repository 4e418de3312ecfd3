// activate --accept and --inetd: every ADDRESS accepted on by usock, each admitted connection given a CMD of its own (as fd 3 with LISTEN_FDS=1, or on stdin and stdout), until a signal.
import type { Status } from '../../cli/registry';
import type { Diagnostics } from '../../sys/diagnostics';
import { acceptLoop, type AcceptLoop } from '../../net/accept';
import type { AccessRules } from '../../net/access';
import type { BoundSocket } from '../../net/socketfile';
import type { Running } from '../../proc/spawn';
import { describePeer } from '../../report/text';
import { closeQuietly } from '../../sys/fd';
import type { Ucred } from '../../sys/socket';
import { ExecQueue, type Loop } from '../exec';
import { makeBlocking, startWithSockets } from './handover';
import type { Records } from './run';

/** The LISTEN_FDNAMES of a connection handed over with --accept (as systemd's Accept=yes names it). */
const CONNECTION_NAME = 'connection';

export interface PerConnectionOptions {
  kind: 'accept' | 'inetd';
  command: string[];
  env: NodeJS.ProcessEnv;
  rules: AccessRules | null;
  maxConns: number;
  records: Records;
  /** Registers the hook that gets SIGINT, SIGTERM and SIGHUP (cli/lifecycle's onSignal). */
  onSignal(hook: (signal: NodeJS.Signals) => void): void;
}

/**
 * Accepts on every server until a signal, which goes to every running CMD; resolves to that signal once
 * they have all ended (usock then dies of it). Never rejects: a CMD that cannot start is reported and its
 * connection closed. The servers stay the caller's.
 */
export function servePerConnection(servers: BoundSocket[], o: PerConnectionOptions): Promise<Status> {
  const children = new Set<Running>();
  const label = `--${o.kind}`;
  let active = 0;
  let short = false;
  let stopping: NodeJS.Signals | null = null;
  let finish: (status: Status) => void = () => {};
  const finished = new Promise<Status>((resolve) => {
    finish = resolve;
  });
  const loops: AcceptLoop[] = [];
  const update = () => {
    for (const loop of loops) {
      if (short || active >= o.maxConns) loop.hold();
      else loop.resume();
    }
  };
  // --max-conns counts the commands of every ADDRESS together; the queue holds all loops while no command can start.
  const together: Loop = {
    hold: () => {
      short = true;
      update();
    },
    resume: () => {
      short = false;
      update();
    },
    released: () => {
      active = Math.max(0, active - 1);
      if (stopping === null) update();
      else if (children.size === 0) finish(stopping);
    },
  };
  const queue = new ExecQueue({ reporter: o.records.reporter }, together, (fd, cred) => startOn(fd, cred), label);

  async function startOn(fd: number, cred: Ucred | null): Promise<{ done: Promise<number> }> {
    makeBlocking(fd);
    const running = await startWithSockets(
      o.command,
      o.kind === 'accept' ? { kind: 'fds', fds: [fd], names: [CONNECTION_NAME] } : { kind: 'stdio', fd },
      o.env,
    );
    closeQuietly(fd); // CMD holds the connection now: its end is the client's EOF
    children.add(running);
    const pid = running.child.pid ?? 0;
    o.records.started(pid, `for ${describePeer(cred)}`, { peer: cred });
    const done = running.ended.then(
      ({ status, signal }) => {
        children.delete(running);
        o.records.exited(pid, status, signal);
        return status;
      },
      () => {
        children.delete(running);
        return 1;
      },
    );
    return { done };
  }

  const diagnostics: Diagnostics = {
    // --json records each accepted connection with the peer's credentials (-v shows it as a line)
    info: (event, text, fields) =>
      event === 'accepted' ? o.records.record(event, text, fields ?? {}) : o.records.reporter.info(event, text, fields),
    warn: (event, text, fields, what) => o.records.reporter.warn(event, text, fields, what),
  };
  for (const server of servers) {
    loops.push(
      acceptLoop(server.fd, {
        rules: o.rules,
        diagnostics,
        onPeer: (fd, cred) => {
          active++;
          if (active >= o.maxConns) update();
          queue.add(fd, cred);
        },
      }),
    );
  }
  o.onSignal((signal) => {
    if (stopping === null) {
      for (const loop of loops) loop.stop();
    }
    stopping = signal;
    for (const { child } of children) child.kill(signal);
    if (children.size === 0) finish(signal);
  });
  return finished;
}
