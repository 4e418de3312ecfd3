// activate's NOTIFY_SOCKET: a datagram socket in a private 0700 directory; each notification (sd_notify(3)) reported with its sender's pid and the time since CMD started, FDSTORE descriptors reported and closed.
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../../cli/lifecycle';
import { parseNamedAddress } from '../../net/address';
import { DatagramReceiver, type Datagram } from '../../net/datagram';
import { type BoundSocket, bindSocketFile } from '../../net/socketfile';
import { describeDescriptor } from '../../proc/fdinfo';
import type { Reporter } from '../../report/reporter';
import { escapeBytes, plural } from '../../report/text';
import { SCM_MAX_FD, SUN_PATH_MAX } from '../../sys/platform/linux';
import { closeQuietly } from '../../sys/fd';

/** The longest notification kept (systemd's NOTIFY_BUFFER_MAX, PIPE_BUF); a longer one is reported cut. */
const NOTIFY_MAX = 4096;

export interface NotifyOptions {
  reporter: Reporter;
  /** Returns when (performance.now(), ms) the command that pid belongs to started: the time a notification is reported after. */
  startOf(pid: number): number;
  /** Called for each READY=1. */
  onReady(pid: number): void;
}

/** Returns the fields of a notification: its KEY=VALUE lines (a line without `=` is kept with an empty value). */
export function notificationFields(data: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of data.toString('utf8').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) fields[line] = '';
    else fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

/** Returns a directory for the notify socket: private (0700, mkdtemp), under $TMPDIR when a socket path there fits sun_path, else /tmp. */
function privateDirectory(): string {
  const base = tmpdir();
  const roomy = Buffer.byteLength(join(base, 'usock-notify-XXXXXX', 'notify')) <= SUN_PATH_MAX ? base : '/tmp';
  return mkdtempSync(join(roomy, 'usock-notify-'));
}

/**
 * Binds the notify socket and reports every notification until the process ends (the socket and its
 * directory are removed then). Returns its path, for NOTIFY_SOCKET. Throws SysError or UsockError when it cannot be made.
 */
export function openNotifySocket(o: NotifyOptions): string {
  const dir = privateDirectory();
  const path = join(dir, 'notify');
  let server: BoundSocket;
  try {
    server = bindSocketFile(parseNamedAddress(path), 'dgram', { label: 'notify socket' });
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  const receiver = new DatagramReceiver(server.fd, {
    maxData: NOTIFY_MAX,
    maxFds: SCM_MAX_FD,
    credentials: true,
    rules: null,
    diagnostics: o.reporter,
    onDatagram: (d) => report(d, o),
  });
  receiver.start();
  onCleanup(() => {
    receiver.close();
    server.close();
    try {
      rmdirSync(dir);
    } catch {
      // best effort: the process is ending
    }
  });
  return path;
}

/** Reports one notification (a line, or a JSON record), closes the descriptors it carried, and calls onReady for READY=1. */
function report(d: Datagram, o: NotifyOptions): void {
  const pid = d.cred?.pid ?? 0;
  const after = Math.max(0, Math.round(performance.now() - o.startOf(pid)) / 1000);
  const fields = notificationFields(d.data);
  const fds = d.fds.map((fd) => {
    const { kind, target } = describeDescriptor(fd);
    closeQuietly(fd);
    return { kind, target };
  });
  const cut = d.length > d.data.length;
  const shown = Object.entries(fields)
    .map(([k, v]) => escapeBytes(Buffer.from(`${k}=${v}`)))
    .join(', ');
  const extra = [
    fds.length ? `${plural(fds.length, 'descriptor')} (${fds.map((f) => f.target).join(', ')}) closed` : '',
    cut ? `cut at ${NOTIFY_MAX} of ${d.length} bytes` : '',
  ].filter((s) => s !== '');
  o.reporter.notice(
    'notify',
    `notify from pid ${pid} after ${after.toFixed(2)} s: ${shown}${extra.length ? ` [${extra.join('; ')}]` : ''}`,
    {
      time: new Date().toISOString(),
      pid,
      after,
      fields,
      ...(fds.length ? { fds } : {}),
      ...(cut ? { length: d.length } : {}),
    },
  );
  if (fields.READY === '1') o.onReady(pid);
}
