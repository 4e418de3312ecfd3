// `usock echo-server`: every byte (stream), message (seqpacket) or datagram (dgram) goes back to its sender, for any number of clients, until a signal.
import { openServer, serverSettings } from './net/serve';
import { type AccessArgs, type AccessRules } from './access';
import { handleSignals } from './lifecycle';
import { concreteType } from './net/client';
import { acceptLoop, passCredentials, receiveChecked } from './net/server';
import type { Reporter } from './output';
import { reporterFor, wholeNumber, type CommonArgs } from './settings';
import { hasCode } from './sys/errors';
import { FdWatcher } from './sys/poll';
import { MSG_TRUNC, SOCKADDR_UN_SIZE } from './sys/platform/linux';
import { closeQuietly, read, recv, seqpacketEnded, recvfrom, send, sendto, write, WOULD_BLOCK, type SocketType } from './sys/socket';

export interface EchoArgs extends CommonArgs, AccessArgs {
  address: string;
  mode?: string;
  backlog: number;
}

const CHUNK = 256 * 1024;
const HIGH_WATER = 1024 * 1024;

/** Runs `usock echo-server` until a signal ends the process. Throws CliError or SysError at start-up. */
export async function runEchoServer(argv: EchoArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'echo-server');
  const maxSize = wholeNumber('max-size', argv['max-size'] ?? 262144, 1, 1 << 30);
  const settings = serverSettings(argv);
  const rules = settings.rules;
  handleSignals();
  const server = openServer(argv.address, type, settings, reporter, 'echo-server');
  if (type === 'dgram') echoDatagrams(server.fd, maxSize, rules, reporter);
  else acceptLoop(server.fd, { rules, reporter, onPeer: (fd) => new EchoConnection(fd, type, maxSize, reporter) });
  return new Promise<number>(() => {}); // until a signal
}

/** Echoes one connection until the client closes; owns fd. Reading stops while more than HIGH_WATER waits to go back. */
class EchoConnection {
  private readonly watcher: FdWatcher;
  private queue: Buffer[] = [];
  private queued = 0;
  private offset = 0;
  private eof = false;
  private closed = false;
  private buf: Buffer | null = null;

  constructor(private readonly fd: number, private readonly type: SocketType, private readonly maxSize: number, private readonly reporter: Reporter) {
    this.watcher = new FdWatcher(fd);
    this.watcher.onReadable(() => this.readSome());
  }

  private readSome(): void {
    try {
      for (let i = 0; i < 64 && this.queued < HIGH_WATER; i++) {
        const buf = (this.buf ??= Buffer.allocUnsafe(this.type === 'stream' ? CHUNK : this.maxSize));
        const n = this.type === 'stream' ? read(this.fd, buf) : recv(this.fd, buf, MSG_TRUNC);
        if (n === WOULD_BLOCK) break;
        if (n === 0 && (this.type === 'stream' || seqpacketEnded(this.fd))) {
          this.eof = true;
          break;
        }
        if (n > buf.length && this.type !== 'stream') {
          this.reporter.warn('oversize', `message of ${n} bytes exceeds --max-size ${this.maxSize}: not echoed`, { length: n });
          continue;
        }
        this.echo(buf.subarray(0, n));
        // A short stream read has emptied the socket: the level-triggered poll calls again for more.
        if (this.type === 'stream' && n < buf.length) break;
      }
    } catch (err) {
      if (!hasCode(err, 'ECONNRESET')) this.reporter.warn('echo-error', (err as Error).message);
      return this.close();
    }
    this.flush();
  }

  /** Sends data back at once when nothing waits before it; queues a copy of what the socket did not take. */
  private echo(data: Buffer): void {
    if (this.queue.length === 0) {
      const n = this.type === 'stream' ? write(this.fd, data) : send(this.fd, data);
      if (n !== WOULD_BLOCK) {
        if (this.type !== 'stream' || n === data.length) return;
        data = data.subarray(n);
      }
    }
    this.enqueue(Buffer.from(data));
  }

  private enqueue(b: Buffer): void {
    this.queue.push(b);
    this.queued += b.length;
  }

  private flush(): void {
    try {
      while (this.queue.length) {
        const head = this.queue[0]!;
        const n = this.type === 'stream' ? write(this.fd, head.subarray(this.offset)) : send(this.fd, head);
        if (n === WOULD_BLOCK) break;
        if (this.type === 'stream' && this.offset + n < head.length) { this.offset += n; continue; }
        this.queue.shift();
        this.queued -= head.length;
        this.offset = 0;
      }
    } catch {
      return this.close();
    }
    if (this.queue.length === 0 && this.eof) return this.close();
    this.watcher.onWritable(this.queue.length ? () => this.flush() : null);
    this.watcher.onReadable(!this.eof && this.queued < HIGH_WATER ? () => this.readSome() : null);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    closeQuietly(this.fd);
  }
}

/**
 * Sends every datagram back to its sender; unnamed senders cannot get a reply and are counted with -v.
 * With rules, each datagram's SCM_CREDENTIALS decide: a rejected sender's datagram is dropped and reported.
 * fd stays owned by the caller.
 */
function echoDatagrams(fd: number, maxSize: number, rules: AccessRules | null, reporter: Reporter): void {
  if (rules) passCredentials(fd);
  const watcher = new FdWatcher(fd);
  const buf = Buffer.allocUnsafe(maxSize);
  const from = Buffer.alloc(SOCKADDR_UN_SIZE);
  const fromLen = new Uint32Array(1);
  watcher.onReadable(() => {
    for (let i = 0; i < 256; i++) {
      let n: number | null;
      try {
        if (rules) {
          const msg = receiveChecked(fd, buf, from, fromLen, rules, reporter);
          n = msg === WOULD_BLOCK || msg === null ? msg : msg.length;
        } else {
          n = recvfrom(fd, buf, MSG_TRUNC, from, fromLen);
        }
      } catch (err) {
        reporter.warn('echo-error', (err as Error).message);
        return;
      }
      if (n === WOULD_BLOCK) return;
      if (n === null) continue; // rejected by the access rules, and reported
      if (n > buf.length) {
        reporter.warn('oversize', `datagram of ${n} bytes exceeds --max-size ${maxSize}: not echoed`, { length: n });
        continue;
      }
      if (fromLen[0]! <= 2) {
        reporter.info('unnamed', `datagram of ${n} bytes from an unnamed sender: no address to echo to`);
        continue;
      }
      try {
        // A full receiver queue drops this echo rather than stall every other client.
        if (sendto(fd, buf.subarray(0, n), from.subarray(0, fromLen[0])) === WOULD_BLOCK) {
          reporter.warn('echo-dropped', `echo of ${n} bytes dropped: the sender's queue is full`);
        }
      } catch (err) {
        reporter.info('echo-failed', `echo not delivered: ${(err as Error).message}`);
      }
    }
  });
}
