// `usock connect`: relay stdio to a socket, probe an address (-z, --type auto), connect as another user, or run a command on the connection.
import { deferSignals, onSignal } from '../../cli/lifecycle';
import { addressOf, countOf, DEFAULTS, framingFor, inheritableAddressOf, rejectOptions, reporterOf, seconds, shutdownDelayMsOf, socketTypeFor, timeoutOf } from '../../cli/options';
import type { Status } from '../../cli/registry';
import { EXIT, UsageError, UsockError } from '../../errors';
import { printOut } from '../../io/stdio';
import { isInherited, parseInherited, type NamedAddress, type SocketAddress } from '../../net/address';
import { connectTo, detectType, type ClientSocket, type ConnectPatience } from '../../net/client';
import { adoptInherited } from '../../net/inherited';
import { credentialsOf } from '../../net/credentials';
import type { Reporter } from '../../report/reporter';
import { closeQuietly } from '../../sys/fd';
import { type SocketType } from '../../sys/socket';
import { becomeUser } from '../../sys/users';
import { groupsOf, userById, userByName } from '../../sys/users';
import { relayConnection } from '../relay';
import type { ConnectArgv } from './index';

/** How long the peer of an --exec command that has ended may go on sending before the connection is closed. */
const EXEC_DRAIN_SECONDS = 1;

/** Set in the environment of the child that `--as` runs: the user it becomes before anything else. */
const RUN_AS_ENV = 'USOCK_RUN_AS';

/** Runs `usock connect`; resolves to the exit status (or the signal that ended a `--as` child). Throws UsockError, SysError. */
export async function runConnect(argv: ConnectArgv): Promise<Status> {
  const reporter = reporterOf(argv);
  const type = checkOptions(argv);
  if (argv.as !== undefined && !process.env[RUN_AS_ENV]) return connectAsUser(argv.as, reporter);
  if (process.env[RUN_AS_ENV]) dropToUser(process.env[RUN_AS_ENV]);
  const address = inheritableAddressOf(argv.address);
  try {
    const bindTo = argv.bind === undefined ? undefined : addressOf(argv.bind);
    const timeout = timeoutOf(argv);
    const patience: ConnectPatience = argv.retry !== undefined ? { seconds: seconds('retry', argv.retry, true), retry: true } : { seconds: timeout ?? undefined };
    if (argv.probe && !isInherited(address)) return await probe(address, type, reporter, argv.json, bindTo, patience);
    const concrete = type as SocketType;
    const framedExec = argv.exec !== undefined && concrete === 'seqpacket' && !argv['exec-socket'];
    const framing = argv.exec === undefined || framedExec ? framingFor(argv, concrete) : null;
    const wait = seconds('wait', argv.wait ?? DEFAULTS.wait);
    const count = countOf(argv);
    const client = await connectOrAdopt(address, concrete, bindTo, patience);
    client.bound?.giveAwayDescriptor(); // the relay or the command owns fd; the bound socket keeps its file to remove
    const peer = credentialsOf(client.fd);
    reporter.info('connected', `connected to ${address.text} (${concrete})`, { address: address.text, type: concrete, peer });
    try {
      if (argv.exec !== undefined) {
        const { execOnce } = await import('../exec'); // child_process only where a command runs
        // Closed once CMD has ended: what it left unread must not turn into a reset.
        return await execOnce(client.fd, peer, { cmd: argv.exec, framing: framedExec ? framing : null, drainSeconds: EXEC_DRAIN_SECONDS, reporter });
      }
      return await relayConnection(client.fd, {
        ...framing!, type: concrete, reporter, label: `connect ${address.text}`, wait, timeout, count, noShutdown: !!argv['no-shutdown'], shutdownDelayMs: shutdownDelayMsOf(argv),
      });
    } finally {
      client.bound?.close();
    }
  } finally {
    address.release();
  }
}

/** Returns a socket of type connected to address; for fd:N and sd:, the inherited one, checked and adopted (net/inherited). Throws as connectTo and adoptInherited do. */
async function connectOrAdopt(address: SocketAddress, type: SocketType, bindTo: NamedAddress | undefined, patience: ConnectPatience): Promise<ClientSocket> {
  if (!isInherited(address)) return connectTo(address, type, bindTo, patience);
  return { fd: adoptInherited(address, type, 'connect').fd };
}

/** Returns the socket type (or 'auto' with -z) after checking that every option given applies. Throws UsageError (64). */
function checkOptions(argv: ConnectArgv): SocketType | 'auto' {
  if (parseInherited(argv.address)) rejectOptions(argv, ['probe', 'bind', 'as', 'retry'], `does not apply to ${argv.address}: the socket is connected already`);
  timeoutOf(argv);
  countOf(argv);
  if (argv.retry !== undefined) seconds('retry', argv.retry, true);
  if (argv.probe) {
    rejectOptions(argv, ['exec', 'exec-socket', 'wait', 'frame', 'max-size', 'count', 'no-shutdown', 'shutdown-delay'], 'does not apply with -z (nothing is sent or received)');
    if (argv.type === 'auto') {
      rejectOptions(argv, ['bind'], 'does not apply with --type auto (each type tried would bind it again): give the type');
      return 'auto';
    }
  }
  const type = socketTypeFor(argv, argv.address, 'connect without -z', 'connect');
  if (type !== 'dgram') rejectOptions(argv, ['wait'], 'applies to -t dgram only (a stream or seqpacket peer ends with EOF)');
  if (type === 'stream') rejectOptions(argv, ['count'], 'applies to dgram and seqpacket only (a stream has no messages to count)');
  if (type === 'dgram') rejectOptions(argv, ['no-shutdown', 'shutdown-delay'], 'applies to stream and seqpacket only (a dgram socket has no write side to shut down)');
  if (argv['no-shutdown']) rejectOptions(argv, ['shutdown-delay'], 'does not apply with --no-shutdown (the write side is never shut down)');
  shutdownDelayMsOf(argv);
  if (argv.exec === undefined) rejectOptions(argv, ['exec-socket'], 'applies with --exec only (on seqpacket: CMD gets the socket instead of relayed lines)');
  else {
    if (type !== 'seqpacket') rejectOptions(argv, ['exec-socket'], 'applies to -t seqpacket only (elsewhere CMD gets the socket anyway)');
    if (type !== 'seqpacket' || argv['exec-socket']) {
      rejectOptions(argv, ['frame', 'max-size'], `does not apply with ${argv['exec-socket'] ? '--exec-socket' : `--exec on -t ${type}`} (the command reads and writes the socket)`);
    }
    rejectOptions(argv, ['wait', 'count', 'no-shutdown', 'shutdown-delay', 'timeout'], 'does not apply with --exec (the command reads and writes the socket)');
  }
  if (!argv.probe && (argv.exec === undefined || (type === 'seqpacket' && !argv['exec-socket']))) framingFor(argv, type);
  return type;
}

/** Returns 0 when something accepts at address (printing the type with --type auto), connecting from bindTo when given; throws the connect error otherwise. */
async function probe(address: NamedAddress, typeArg: SocketType | 'auto', reporter: Reporter, json: boolean | undefined, bindTo: NamedAddress | undefined,
  patience: ConnectPatience): Promise<number> {
  const type: SocketType = typeArg === 'auto' ? await detectType(address, patience) : typeArg;
  if (typeArg !== 'auto') {
    const client = await connectTo(address, type, bindTo, patience);
    if (client.bound) client.bound.close();
    else closeQuietly(client.fd);
  }
  else await printOut(json ? JSON.stringify({ address: address.text, type }) + '\n' : `${type}\n`);
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
