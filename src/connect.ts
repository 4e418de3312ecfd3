// `usock connect`: relay stdio to a socket, probe an address (-z, --type auto), connect as another user, or run a command on the connection.
import { spawn } from 'node:child_process';
import { CliError, EXIT, UsageError } from './errors';
import { Connection, Stdio, describeStats, exitStatusOf, type CloseReason } from './io/relay';
import { runOnConnection } from './exec';
import { parseAddress, type SocketAddress } from './net/address';
import { concreteType, connectTo, detectType } from './net/client';
import { writeAllSync, type Reporter } from './output';
import { relayConfig, reporterFor, seconds, type CommonArgs } from './settings';
import { becomeUser, closeQuietly, peerCredentials, type SocketType } from './sys/socket';
import { groupsOf, userById, userByName } from './sys/users';
import { handleSignals } from './lifecycle';

export interface ConnectArgs extends CommonArgs {
  address: string;
  probe?: boolean;
  bind?: string;
  wait: number;
  as?: string;
  exec?: string;
}

const RUN_AS_ENV = 'USOCK_RUN_AS';

/** Runs `usock connect`; returns the exit status. Throws CliError, SysError or UsageError. */
export async function runConnect(argv: ConnectArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const wait = seconds('wait', argv.wait);
  if (argv.as !== undefined && !process.env[RUN_AS_ENV]) return connectAsUser(argv.as, reporter);
  if (process.env[RUN_AS_ENV]) dropToUser(process.env[RUN_AS_ENV]);
  handleSignals();
  const address = parseAddress(argv.address);
  try {
    if (argv.probe) return await probe(address, argv.type, reporter, argv.json);
    const type = concreteType(argv.type, 'connect without -z');
    const cfg = relayConfig(argv, type, reporter);
    const bindTo = argv.bind === undefined ? undefined : parseAddress(argv.bind);
    const client = await connectTo(address, type, bindTo);
    bindTo?.release();
    client.bound?.giveAwayDescriptor(); // the relay or the command owns fd; the bound socket keeps its file to remove
    reporter.info('connected', `connected to ${argv.address} (${type})`, { address: argv.address, type, peer: credentialsOf(client.fd) });
    if (argv.exec !== undefined) {
      const peer = credentialsOf(client.fd);
      client.bound?.close();
      return await runOnConnection(argv.exec, client.fd, peer);
    }
    try {
      return await relayClient(client.fd, cfg, wait, reporter);
    } finally {
      client.bound?.close();
    }
  } finally {
    address.release();
  }
}

function credentialsOf(fd: number) {
  try {
    return peerCredentials(fd);
  } catch {
    return null;
  }
}

/** Returns 0 when something accepts at address (printing the type with --type auto); throws the connect error otherwise. */
async function probe(address: SocketAddress, typeArg: string, reporter: Reporter, json?: boolean): Promise<number> {
  const type: SocketType = typeArg === 'auto' ? await detectType(address) : concreteType(typeArg, 'connect -z');
  if (typeArg !== 'auto') closeQuietly((await connectTo(address, type)).fd);
  if (typeArg === 'auto') writeAllSync(1, json ? JSON.stringify({ address: address.text, type }) + '\n' : `${type}\n`);
  reporter.info('probe', `${address.text}: ${type} socket accepts connections`, { address: address.text, type });
  return EXIT.OK;
}

/** Relays stdio over a connected socket until the peer closes (stream, seqpacket) or replies stop (dgram). */
function relayClient(fd: number, cfg: ReturnType<typeof relayConfig>, wait: number, reporter: Reporter): Promise<number> {
  const stdio = new Stdio(reporter);
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    const conn = new Connection(fd, cfg, stdio, (c: Connection, reason: CloseReason, err?: Error) => {
      if (timer) clearTimeout(timer);
      const inputEnded = stdio.ended;
      stdio.stop();
      reporter.info('closed', `connection closed: ${describeStats(c.stats, cfg.type !== 'stream')}`, { ...c.stats });
      if (reason === 'error') return reject(err);
      resolve(exitStatusOf(c, reporter, inputEnded));
    });
    stdio.configure(cfg, conn.stats);
    if (cfg.type === 'dgram') {
      // No EOF comes from a datagram peer: after stdin ends, wait until replies stop for `wait` seconds.
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => stdio.out.whenDrained(() => conn.finishNow()), wait * 1000);
      };
      stdio.onEnd = () => conn.whenSent(() => { conn.onMessage = arm; arm(); });
    }
    conn.start();
  });
}

/** Runs this same command in a child process as user (root only); returns the child's status. */
async function connectAsUser(name: string, reporter: Reporter): Promise<number> {
  if (process.getuid?.() !== 0) throw new CliError('--as needs root (usock runs as uid ' + process.getuid?.() + ')', EXIT.NOPERM);
  const user = userByName(name) ?? (/^\d+$/.test(name) ? userById(Number(name)) : null);
  if (!user) throw new UsageError(`unknown user '${name}'`);
  const groups = groupsOf(user.name, user.gid);
  reporter.info('as-user', `connecting as ${user.name} (uid ${user.uid} gid ${user.gid} groups ${groups.join(',')})`, { ...user, groups });
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [RUN_AS_ENV]: JSON.stringify(user) },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal) process.kill(process.pid, signal);
      resolve(code ?? EXIT.FAILURE);
    });
  });
}

/** Becomes the user the parent named (uid, gid and supplementary groups), before anything else happens. */
function dropToUser(spec: string): void {
  const { name, uid, gid } = JSON.parse(spec) as { name: string; uid: number; gid: number };
  becomeUser(name, uid, gid);
}
