// `usock listen`: bind an address and relay stdio with one peer, with every peer (-k), with datagram senders, or run a command per connection.
import { openServer, serverSettings } from './net/serve';
import { type AccessArgs } from './access';
import { UsageError } from './errors';
import { runOnConnection } from './exec';
import { Connection, DatagramListener, Stdio, describeStats, exitStatusOf, newStats, type CloseReason } from './io/relay';
import { handleSignals } from './lifecycle';
import { concreteType } from './net/client';
import { acceptLoop, passCredentials } from './net/server';
import { relayConfig, reporterFor, type CommonArgs } from './settings';

export interface ListenArgs extends CommonArgs, AccessArgs {
  address: string;
  'keep-open'?: boolean;
  exec?: string;
  mode?: string;
  backlog: number;
}

/** Runs `usock listen`; returns the exit status (servers with -k or dgram run until a signal). Throws CliError, SysError. */
export async function runListen(argv: ListenArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'listen');
  const cfg = relayConfig(argv, type, reporter);
  const settings = serverSettings(argv);
  const rules = settings.rules;
  if (type === 'dgram' && argv.exec !== undefined) {
    throw new UsageError('--exec needs connections: use -t stream or -t seqpacket', 'a dgram listener has no connection to give a command');
  }
  handleSignals();
  const server = openServer(argv.address, type, settings, reporter, 'listen');
  const stdio = new Stdio(reporter);
  stdio.configure(cfg, newStats());

  if (type === 'dgram') {
    if (rules) passCredentials(server.fd);
    const listener = new DatagramListener(server.fd, cfg, stdio, rules);
    listener.start();
    return new Promise<number>(() => {}); // until a signal
  }

  return new Promise<number>((resolve, reject) => {
    const keepOpen = !!argv['keep-open'];
    const done = (status: number) => {
      server.close();
      resolve(status);
    };
    const loop = acceptLoop(server.fd, {
      rules,
      reporter,
      onPeer: (fd, cred) => {
        if (!keepOpen) {
          loop.stop();
          server.close();
        }
        if (argv.exec !== undefined) {
          const status = runOnConnection(argv.exec, fd, cred);
          if (!keepOpen) status.then(done, reject);
          return;
        }
        const conn = new Connection(fd, cfg, stdio, (c: Connection, reason: CloseReason, err?: Error) => {
          reporter.info('closed', `connection closed: ${describeStats(c.stats, type !== 'stream')}`, { peer: cred, ...c.stats });
          if (keepOpen) {
            if (reason === 'error') reporter.warn('connection-error', (err as Error).message);
            return;
          }
          const inputEnded = stdio.ended;
          stdio.stop();
          if (reason === 'error') reject(err);
          else done(exitStatusOf(c, reporter, inputEnded));
        });
        conn.start();
      },
    });
  });
}
