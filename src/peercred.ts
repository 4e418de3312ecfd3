// `usock peercred`: the credentials of a listening process (SO_PEERCRED), or of each client with --listen (SCM_CREDENTIALS for dgram).
import { openServer, serverSettings, warnRulesIgnored } from './net/serve';
import { readFileSync, readlinkSync } from 'node:fs';
import { isatty } from 'node:tty';
import { type AccessArgs } from './access';
import { CliError, EXIT, Exit } from './errors';
import { handleSignals } from './lifecycle';
import { concreteType, connectToAddress } from './net/client';
import { findOwners, processCommand, readUnixSockets } from './net/procnet';
import { acceptLoop, passCredentials, peerGroups, peerLabel, receiveChecked } from './net/server';
import { writeAllSync, type Reporter } from './output';
import { reporterFor, type CommonArgs } from './settings';
import { hasCode } from './sys/errors';
import { FdWatcher } from './sys/poll';
import { SOCKADDR_UN_SIZE } from './sys/platform/linux';
import { closeQuietly, getpeername, peerCredentials, WOULD_BLOCK, type Ucred } from './sys/socket';
import { groupById, userById } from './sys/users';

export interface PeercredArgs extends CommonArgs, AccessArgs {
  address: string;
  listen?: boolean;
  mode?: string;
  backlog: number;
}

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

/** Returns a value as one text field: '-' for unknown, gids joined by ',', control characters escaped (\t, \n, \\, \xHH). */
function textValue(v: PeerRecord[keyof PeerRecord]): string {
  if (v === null) return '-';
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return s.replace(/[\\\x00-\x1f\x7f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

type Style = 'table' | 'text' | 'json';

/** True when colour is wanted: stdout is a TTY and NO_COLOR is not set (chalk decides the rest, FORCE_COLOR included). */
function colourWanted(): boolean {
  return isatty(1) && !process.env.NO_COLOR;
}

/**
 * Prints records on stdout: a table on a TTY, `key<TAB>value` lines (one record) or one line of
 * `key=value` fields per record (--listen) otherwise, one JSON object per line with --json.
 * A closed stdout ends usock with status 0.
 */
class RecordPrinter {
  private readonly style: Style;

  constructor(json: boolean | undefined, private readonly perLine: boolean) {
    this.style = json ? 'json' : isatty(1) ? 'table' : 'text';
  }

  async print(record: PeerRecord): Promise<void> {
    let out: string;
    if (this.style === 'json') out = JSON.stringify(record) + '\n';
    else if (this.style === 'table') out = await tableOf(record);
    else if (this.perLine) out = KEYS.map((k) => `${k}=${textValue(record[k])}`).join('\t') + '\n';
    else out = KEYS.map((k) => `${k}\t${textValue(record[k])}`).join('\n') + '\n';
    try {
      writeAllSync(1, out);
    } catch (err) {
      if (hasCode(err, 'EPIPE')) throw new Exit(EXIT.OK);
      throw err;
    }
  }
}

/** Returns a two-column cli-table3 table of record, keys in colour when colourWanted(). */
async function tableOf(record: PeerRecord): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const { default: chalk } = await import('chalk');
  const colour = colourWanted();
  // Long values (command lines, cgroups) wrap inside the terminal's width.
  const keyWidth = Math.max(...KEYS.map((k) => k.length)) + 2;
  const valueWidth = Math.max(20, (process.stdout.columns || 80) - keyWidth - 3);
  const table = new Table({ style: { head: [], border: [] }, colWidths: [keyWidth, valueWidth], wordWrap: true, wrapOnWordBoundary: false });
  for (const k of KEYS) table.push({ [colour ? chalk.cyan(k) : k]: textValue(record[k]) });
  return table.toString() + '\n';
}

/** Runs `usock peercred`; returns 0 (with --listen it serves until a signal). Throws CliError, SysError or UsageError. */
export async function runPeercred(argv: PeercredArgs): Promise<number> {
  const reporter = reporterFor(argv);
  const type = concreteType(argv.type, 'peercred');
  if (argv.listen) return listenForPeers(argv, type, reporter);
  warnRulesIgnored(argv, reporter);
  handleSignals();
  const client = { fd: await connectToAddress(argv.address, type) };
  try {
    const printer = new RecordPrinter(argv.json, false);
    await printer.print(type === 'dgram' ? datagramServer(client.fd, argv.address) : streamServer(client.fd));
    return EXIT.OK;
  } finally {
    closeQuietly(client.fd);
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
 * Throws CliError (1) when /proc does not show it (another user's process, for a non-root usock).
 */
function datagramServer(fd: number, text: string): PeerRecord {
  const cred = peerCredentials(fd);
  if (cred.pid > 0) return describeCredentials(cred, peerGroups(fd) ?? null, peerLabel(fd), 'SO_PEERCRED');
  const bound = getpeername(fd);
  const inodes = readUnixSockets().filter((e) => e.type === 'dgram' && e.address === bound).map((e) => e.inode);
  const pids = [...findOwners(inodes).values()].flat().map((o) => o.pid).filter((p) => p !== process.pid).sort((a, b) => a - b);
  const pid = pids[0];
  const status = pid === undefined ? null : processStatus(pid);
  if (pid === undefined || !status) {
    throw new CliError(`${text}: the kernel records no credentials for a datagram socket, and /proc does not show which process holds it`,
      EXIT.FAILURE, 'run usock as root (or as the user of that process) to see it in /proc');
  }
  return describeCredentials({ pid, uid: status.uid, gid: status.gid }, status.groups, null, 'proc');
}

/** Returns the effective uid and gid and the supplementary groups from /proc/PID/status, or null. */
function processStatus(pid: number): { uid: number; gid: number; groups: number[] } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const uids = field('Uid');
    const gids = field('Gid');
    if (uids.length < 2 || gids.length < 2) return null;
    return { uid: uids[1]!, gid: gids[1]!, groups: field('Groups') };
  } catch {
    return null;
  }
}

/** Serves `peercred --listen` until a signal: one record per admitted client (stream, seqpacket) or per admitted message (dgram). */
function listenForPeers(argv: PeercredArgs, type: ReturnType<typeof concreteType>, reporter: Reporter): Promise<number> {
  const settings = serverSettings(argv);
  const rules = settings.rules;
  handleSignals();
  const server = openServer(argv.address, type, settings, reporter, 'peercred');
  if (type === 'dgram') passCredentials(server.fd);
  const printer = new RecordPrinter(argv.json, true);
  // Records are printed in arrival order even though a table is built asynchronously.
  let printing = Promise.resolve();
  const emit = (record: PeerRecord) => {
    printing = printing.then(() => printer.print(record)).catch((err) => {
      setImmediate(() => { throw err; });
    });
  };
  if (type === 'dgram') {
    const watcher = new FdWatcher(server.fd);
    const none = Buffer.alloc(0); // only the credentials matter, not the data
    const from = Buffer.alloc(SOCKADDR_UN_SIZE);
    const fromLen = new Uint32Array(1);
    watcher.onReadable(() => {
      for (let i = 0; i < 64; i++) {
        let msg;
        try {
          msg = receiveChecked(server.fd, none, from, fromLen, rules, reporter);
        } catch (err) {
          reporter.warn('recv-failed', (err as Error).message);
          return;
        }
        if (msg === WOULD_BLOCK) return;
        if (msg === null) continue; // rejected, and reported
        if (!msg.cred || msg.cred.pid === 0) {
          reporter.warn('no-credentials', `message of ${msg.length} bytes without credentials: skipped`);
          continue;
        }
        emit(describeCredentials(msg.cred, null, null, 'SCM_CREDENTIALS'));
      }
    });
  } else {
    acceptLoop(server.fd, {
      rules,
      reporter,
      onPeer: (fd, cred) => {
        // Read everything before closing: the record describes the peer as it is now.
        const record = cred ? describeCredentials(cred, peerGroups(fd) ?? null, peerLabel(fd), 'SO_PEERCRED') : null;
        closeQuietly(fd);
        if (record) emit(record);
        else reporter.warn('no-credentials', 'a client left before its credentials could be read');
      },
    });
  }
  return new Promise<number>(() => {}); // until a signal
}
