// `usock connect`: relay stdio to a socket, probe an address (-z, --type auto), connect as another user, or run a command on the connection.
import { deferSignals, onSignal } from '../../cli/lifecycle';
import { addressOf, inheritableAddressOf, reporterOf } from '../../cli/options';
import type { Status } from '../../cli/registry';
import { EXIT, UsageError, UsockError } from '../../errors';
import { printOut } from '../../io/stdio';
import { isInherited, type NamedAddress, type SocketAddress } from '../../net/address';
import { connectTo, detectType, type ClientSocket, type ConnectPatience } from '../../net/client';
import { adoptInherited } from '../../net/inherited';
import { credentialsOf } from '../../net/credentials';
import type { Reporter } from '../../report/reporter';
import { closeQuietly } from '../../sys/fd';
import type { SocketType } from '../../sys/socket';
import { becomeUser } from '../../sys/users';
import { groupsOf, userById, userByName } from '../../sys/users';
import { relayConnection } from '../relay';
import type { ConnectSettings } from './index';

/** How long the peer of an --exec command that has ended may go on sending before the connection is closed. */
const EXEC_DRAIN_SECONDS = 1;

/** Set in the environment of the child that `--as` runs: the user it becomes before anything else. */
const RUN_AS_ENV = 'USOCK_RUN_AS';

/** Runs `usock connect`; resolves to the exit status (or the signal that ended a `--as` child). Throws UsockError, SysError. */
export async function runConnect(s: ConnectSettings): Promise<Status> {
  const reporter = reporterOf(s);
  if (s.as !== undefined && !process.env[RUN_AS_ENV]) return connectAsUser(s.as, reporter);
  if (process.env[RUN_AS_ENV]) dropToUser(process.env[RUN_AS_ENV]);
  const type = s.type;
  if (s.probe || type === 'auto') return probeAt(s, type, reporter); // -t auto comes with -z, and -z with a path or @name (the spec)
  const address = inheritableAddressOf(s.address);
  try {
    const bindTo = s.bind === undefined ? undefined : addressOf(s.bind);
    const framedExec = s.exec !== undefined && type === 'seqpacket' && !s.execSocket;
    const framing = s.exec === undefined || framedExec ? { frame: s.frame, maxSize: s.maxSize } : null;
    const client = await connectOrAdopt(address, type, bindTo, patienceOf(s));
    client.bound?.giveAwayDescriptor(); // the relay or the command owns fd; the bound socket keeps its file to remove
    const peer = credentialsOf(client.fd);
    reporter.info('connected', `connected to ${address.text} (${type})`, { address: address.text, type, peer });
    try {
      if (s.exec !== undefined) {
        const { execOnce } = await import('../exec'); // child_process only where a command runs
        // Closed once CMD has ended: what it left unread must not turn into a reset.
        return await execOnce(client.fd, peer, {
          cmd: s.exec,
          framing: framedExec ? framing : null,
          drainSeconds: EXEC_DRAIN_SECONDS,
          reporter,
        });
      }
      return await relayConnection(client.fd, {
        frame: s.frame,
        maxSize: s.maxSize,
        type,
        reporter,
        label: `connect ${address.text}`,
        wait: s.wait,
        timeout: s.timeout ?? null,
        count: s.count ?? null,
        noShutdown: s.noShutdown,
        shutdownDelayMs: Math.round(s.shutdownDelay * 1000),
      });
    } finally {
      client.bound?.close();
    }
  } finally {
    address.release();
  }
}

/** Returns how long connecting may take: --retry (trying again meanwhile), else -w. */
function patienceOf(s: ConnectSettings): ConnectPatience {
  return s.retry !== undefined ? { seconds: s.retry, retry: true } : { seconds: s.timeout };
}

/** Runs `connect -z` (with -t auto: prints the type); resolves to 0 or throws the connect error. Releases what it parses. */
async function probeAt(s: ConnectSettings, type: SocketType | 'auto', reporter: Reporter): Promise<number> {
  const address = addressOf(s.address);
  try {
    const bindTo = s.bind === undefined ? undefined : addressOf(s.bind);
    return await probe(address, type, reporter, s.json, bindTo, patienceOf(s));
  } finally {
    address.release();
  }
}

/** Returns a socket of type connected to address; for fd:N and sd:, the inherited one, checked and adopted (net/inherited). Throws as connectTo and adoptInherited do. */
async function connectOrAdopt(
  address: SocketAddress,
  type: SocketType,
  bindTo: NamedAddress | undefined,
  patience: ConnectPatience,
): Promise<ClientSocket> {
  if (!isInherited(address)) return connectTo(address, type, bindTo, patience);
  return { fd: adoptInherited(address, type, 'connect').fd };
}

/** Returns 0 when something accepts at address (printing the type with --type auto), connecting from bindTo when given; throws the connect error otherwise. */
async function probe(
  address: NamedAddress,
  typeArg: SocketType | 'auto',
  reporter: Reporter,
  json: boolean | undefined,
  bindTo: NamedAddress | undefined,
  patience: ConnectPatience,
): Promise<number> {
  const type: SocketType = typeArg === 'auto' ? await detectType(address, patience) : typeArg;
  if (typeArg !== 'auto') {
    const client = await connectTo(address, type, bindTo, patience);
    if (client.bound) client.bound.close();
    else closeQuietly(client.fd);
  } else await printOut(json ? JSON.stringify({ address: address.text, type }) + '\n' : `${type}\n`);
  reporter.info('probe', `${address.text}: ${type} socket accepts connections`, { address: address.text, type });
  return EXIT.OK;
}

/**
 * Runs this same command in a child process as user (root only). A signal is passed on to the child;
 * resolves to the child's status, or to the signal that ended it, so that usock dies of it too.
 */
async function connectAsUser(name: string, reporter: Reporter): Promise<Status> {
  if (process.getuid?.() !== 0) throw new UsockError(`--as needs root (usock runs as uid ${process.getuid?.()})`, 'NOPERM');
  const user = userByName(name) ?? (/^\d+$/.test(name) ? userById(Number(name)) : null);
  if (!user) throw new UsageError(`unknown user '${name}'`);
  const groups = groupsOf(user.name, user.gid);
  reporter.info('as-user', `connecting as ${user.name} (uid ${user.uid} gid ${user.gid} groups ${groups.join(',')})`, { ...user, groups });
  deferSignals();
  const { start } = await import('../../proc/spawn');
  const running = await start(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [RUN_AS_ENV]: JSON.stringify(user) },
  });
  onSignal((sig) => running.child.kill(sig));
  const ended = await running.ended;
  return ended.signal ?? ended.status;
}

/** Becomes the user the parent named (uid, gid and supplementary groups), before anything else happens. */
function dropToUser(spec: string): void {
  const { name, uid, gid } = JSON.parse(spec) as { name: string; uid: number; gid: number };
  becomeUser(name, uid, gid);
}
