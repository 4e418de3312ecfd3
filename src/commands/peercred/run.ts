// `usock peercred`: the credentials of a listening process (SO_PEERCRED), or of each client with --listen (SCM_CREDENTIALS for dgram).
import { readFileSync, readlinkSync } from 'node:fs';
import { addressOf, reporterOf, serverSpecOf } from '../../cli/options';
import { deadline, idleTimer } from '../../io/timer';
import { EXIT, UsockError } from '../../errors';
import { printOut } from '../../io/stdio';
import { acceptLoop } from '../../net/accept';
import { connectAndRelease } from '../../net/client';
import { peerGroups, peerLabel } from '../../net/credentials';
import { DatagramReceiver } from '../../net/datagram';
import { findOwners, processCommand, readUnixSockets } from '../../net/procnet';
import { openServer } from '../../net/server';
import { colourWanted, renderTable, terminalWidth } from '../../report/table';
import { escapeField } from '../../report/text';
import { closeQuietly } from '../../sys/fd';
import { getpeername, peerCredentials, type SocketType, type Ucred } from '../../sys/socket';
import { isTerminal } from '../../sys/tty';
import { groupById, userById } from '../../sys/users';
import type { PeercredSettings } from './index';

/** Where a record's pid, uid and gid come from. */
export type CredentialSource = 'SO_PEERCRED' | 'SCM_CREDENTIALS' | 'proc';

/** One peer as peercred reports it; null where the kernel or /proc does not tell. */
export interface PeerRecord {
  pid: number;
  uid: number;
  gid: number;
  user: string | null;
  group: string | null;
  groups: number[] | null;
  label: string | null;
  exe: string | null;
  cgroup: string | null;
  command: string | null;
  source: CredentialSource;
}

const KEYS: Array<keyof PeerRecord> = ['pid', 'uid', 'gid', 'user', 'group', 'groups', 'label', 'exe', 'cgroup', 'command', 'source'];

/** Returns the target of /proc/PID/exe, or null when it cannot be read. */
function processExe(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** Returns pid's cgroup: the cgroup v2 path (`0::PATH`), else the v1 lines joined by ';'; null when /proc hides it. */
function processCgroup(pid: number): string | null {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean);
    const unified = lines.find((l) => l.startsWith('0::'));
    if (unified && lines.length === 1) return unified.slice(3);
    return lines.join(';') || null;
  } catch {
    return null;
  }
}

/** Returns the full record for credentials the kernel gave: names from the user and group databases, the rest from /proc. */
export function describeCredentials(cred: Ucred, groups: number[] | null, label: string | null, source: CredentialSource): PeerRecord {
  const known = cred.pid > 0;
  const command = known ? processCommand(cred.pid) : '';
  return {
    pid: cred.pid,
    uid: cred.uid,
    gid: cred.gid,
    user: userById(cred.uid)?.name ?? null,
    group: groupById(cred.gid)?.name ?? null,
    groups,
    label,
    exe: known ? processExe(cred.pid) : null,
    cgroup: known ? processCgroup(cred.pid) : null,
    command: command === '' ? null : command,
    source,
  };
}

/** Returns a value as one text field: '-' for unknown, gids joined by ',', control characters escaped. */
function textValue(v: PeerRecord[keyof PeerRecord]): string {
  if (v === null) return '-';
  return escapeField(Array.isArray(v) ? v.join(',') : String(v));
}

type Style = 'table' | 'text' | 'json';

/**
 * Prints records on stdout: a table on a TTY, `key<TAB>value` lines (one record) or one line of
 * `key=value` fields per record (--listen) otherwise, one JSON object per line with --json. Records
 * come out in arrival order even though a table is built asynchronously.
 */
class RecordPrinter {
  private readonly style: Style;
  private printing: Promise<void> = Promise.resolve();

  constructor(
    json: boolean | undefined,
    private readonly perLine: boolean,
  ) {
    this.style = json ? 'json' : isTerminal(1) ? 'table' : 'text';
  }

  /** Queues record for stdout; resolves once it (and every record before it) is written. */
  print(record: PeerRecord): Promise<void> {
    this.printing = this.printing.then(async () => printOut(await this.format(record)));
    return this.printing;
  }

  private async format(record: PeerRecord): Promise<string> {
    if (this.style === 'json') return JSON.stringify(record) + '\n';
    if (this.style === 'table') return tableOf(record);
    if (this.perLine) return KEYS.map((k) => `${k}=${textValue(record[k])}`).join('\t') + '\n';
    return KEYS.map((k) => `${k}\t${textValue(record[k])}`).join('\n') + '\n';
  }
}

/** Returns a two-column table of record, keys in colour where colour is wanted; long values wrap inside the terminal's width. */
async function tableOf(record: PeerRecord): Promise<string> {
  const chalk = colourWanted() ? (await import('chalk')).default : null;
  // Borders and padding take 7 columns; keys are never wrapped, values are cut into lines here (cli-table3's
  // own wrapping measured the keys' colour escapes as text and cut keys, escapes and all, into pieces).
  const keyWidth = Math.max(...KEYS.map((k) => k.length));
  const valueWidth = Math.max(20, terminalWidth() - keyWidth - 7);
  const rows = KEYS.map((k) => [chalk ? chalk.cyan(k) : k, wrapText(textValue(record[k]), valueWidth)]);
  return renderTable(rows, { wordWrap: false });
}

/** Returns text cut into lines of at most width characters. */
function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join('\n') || text;
}

/** Runs `usock peercred`; returns 0 (with --listen it serves until a signal). Throws UsockError, SysError or UsageError. */
export async function runPeercred(s: PeercredSettings): Promise<number> {
  const reporter = reporterOf(s);
  const { type } = s;
  if (s.listen) return listenForPeers(s, type, reporter);
  const timeout = s.timeout ?? null;
  const address = addressOf(s.address);
  const fd = await deadline(
    connectAndRelease(address, type, { seconds: timeout ?? undefined }),
    timeout,
    () => new UsockError(`peercred ${address.text}: timed out after ${timeout} s`, 'TEMPFAIL'),
  );
  try {
    await new RecordPrinter(s.json, false).print(type === 'dgram' ? datagramServer(fd, address.text) : streamServer(fd));
    return EXIT.OK;
  } finally {
    closeQuietly(fd);
  }
}

/** Returns the record of the process at the other end of a connected stream or seqpacket socket. Throws SysError. */
function streamServer(fd: number): PeerRecord {
  return describeCredentials(peerCredentials(fd), peerGroups(fd) ?? null, peerLabel(fd), 'SO_PEERCRED');
}

/**
 * Returns the record of the process holding the dgram socket fd is connected to. Linux records no
 * credentials when a datagram socket connects (SO_PEERCRED gives pid 0, uid and gid -1), so the
 * process is found through /proc/net/unix and /proc/PID/fd, and its ids read from /proc/PID/status.
 * Throws UsockError (FAILURE) when /proc does not show it (another user's process, for a non-root usock).
 */
function datagramServer(fd: number, text: string): PeerRecord {
  const cred = peerCredentials(fd);
  if (cred.pid > 0) return describeCredentials(cred, peerGroups(fd) ?? null, peerLabel(fd), 'SO_PEERCRED');
  const bound = getpeername(fd);
  const inodes = readUnixSockets()
    .filter((e) => e.type === 'dgram' && e.address === bound)
    .map((e) => e.inode);
  const pids = [...findOwners(inodes).values()]
    .flat()
    .map((o) => o.pid)
    .filter((p) => p !== process.pid)
    .sort((a, b) => a - b);
  const pid = pids[0];
  const status = pid === undefined ? null : processStatus(pid);
  if (pid === undefined || !status) {
    throw new UsockError(
      `${text}: the kernel records no credentials for a datagram socket, and /proc does not show which process holds it`,
      'FAILURE',
      'run usock as root (or as the user of that process) to see it in /proc',
    );
  }
  return describeCredentials({ pid, uid: status.uid, gid: status.gid }, status.groups, null, 'proc');
}

/** Returns the effective uid and gid and the supplementary groups from /proc/PID/status, or null. */
function processStatus(pid: number): { uid: number; gid: number; groups: number[] } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) =>
      (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const uids = field('Uid');
    const gids = field('Gid');
    if (uids.length < 2 || gids.length < 2) return null;
    return { uid: uids[1]!, gid: gids[1]!, groups: field('Groups') };
  } catch {
    return null;
  }
}

/** Serves `peercred --listen` until a signal: one record per admitted client (stream, seqpacket) or per admitted message (dgram). */
function listenForPeers(s: PeercredSettings, type: SocketType, reporter: ReturnType<typeof reporterOf>): Promise<number> {
  const timeout = s.timeout ?? null;
  const count = s.count ?? null;
  const spec = serverSpecOf(s.address, s, type, reporter, 'peercred');
  const server = openServer(spec);
  const printer = new RecordPrinter(s.json, true);
  let records = 0;
  let lastActive = Date.now();
  let finish: (status: number | Error) => void = () => {};
  const ended = new Promise<number>((resolve, reject) => {
    finish = (status) => (typeof status === 'number' ? resolve(status) : reject(status));
  });
  /** Prints one record; -c N ends the server once the Nth is out. */
  const emit = (record: PeerRecord) => {
    lastActive = Date.now();
    const n = ++records;
    void printer.print(record).then(() => {
      if (count && n === count) finish(EXIT.OK);
    });
  };
  // -w: no record for that long ends the server: 0 when it printed some, 75 when none came.
  if (timeout !== null) {
    idleTimer(
      timeout,
      () => lastActive,
      () => finish(records > 0 ? EXIT.OK : new UsockError(`timed out after ${timeout} s waiting for a client`, 'TEMPFAIL')),
    );
  }
  if (type === 'dgram') {
    new DatagramReceiver(server.fd, {
      maxData: 0, // only the credentials matter, not the data
      credentials: true,
      rules: spec.rules,
      diagnostics: reporter,
      onDatagram: (d) => {
        if (!d.cred || d.cred.pid === 0) {
          reporter.warn('no-credentials', `message of ${d.length} bytes without credentials: skipped`);
          return;
        }
        emit(describeCredentials(d.cred, null, null, 'SCM_CREDENTIALS'));
      },
    }).start();
  } else {
    const loop = acceptLoop(server.fd, {
      rules: spec.rules,
      maxConns: s.maxConns,
      diagnostics: reporter,
      onPeer: (fd, cred) => {
        // Read everything before closing: the record describes the peer as it is now.
        const record = cred ? describeCredentials(cred, peerGroups(fd) ?? null, peerLabel(fd), 'SO_PEERCRED') : null;
        closeQuietly(fd);
        loop.released();
        if (record) emit(record);
        else reporter.warn('no-credentials', 'a client left before its credentials could be read');
      },
    });
  }
  return ended; // until a signal, -c or -w
}
