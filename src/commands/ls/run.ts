// `usock ls`: the Unix sockets of the system from /proc/net/unix, their peers from sock_diag, their holders from /proc/PID/fd.
import { resolve } from 'node:path';
import { exactArg, reporterOf } from '../../cli/options';
import { EXIT, UsageError } from '../../errors';
import { printOut } from '../../io/stdio';
import { processCommand, readProcNetUnix, socketHolders, type ProcUnixSocket } from '../../net/procnet';
import { dumpUnixDiag, type UnixDiagEntry } from '../../net/sockdiag';
import { headCells, renderTable, terminalWidth } from '../../report/table';
import { escapeBytes, escapeField } from '../../report/text';
import { isTerminal } from '../../sys/tty';
import type { LsSettings } from './index';

/** One socket as ls shows it; null where it is unknown or does not apply. */
export interface LsRecord {
  address: string | null;
  type: string;
  state: 'listening' | 'connected' | 'unconnected' | 'connecting' | 'disconnecting' | 'unknown';
  inode: number;
  peer: number | null;
  pid: number | null;
  pids: number[];
  command: string | null;
}

/** The columns of the table and of the tab-separated lines, in order. */
const COLUMNS = ['address', 'type', 'state', 'inode', 'peer', 'pid', 'command'] as const;

/** Returns the address as shown: the path, `@name` for an abstract one, control and non-UTF-8 bytes escaped; null when unnamed. */
export function addressText(name: Buffer | null): string | null {
  if (name === null || name.length === 0) return null;
  return name[0] === 0 ? '@' + escapeBytes(name.subarray(1)) : escapeBytes(name);
}

/** Returns the bytes PREFIX matches against sun_path: `@pre` as an abstract name (a 0 byte first), a path resolved against the cwd. */
function prefixBytes(text: string): Buffer {
  const exact = exactArg(text);
  const raw = typeof exact === 'string' ? Buffer.from(exact) : exact;
  if (raw[0] === 0x40) return Buffer.concat([Buffer.from([0]), raw.subarray(1)]); // '@'
  if (raw[0] === 0x2f) return raw; // '/'
  // Relative: resolved against the cwd byte for byte (latin1 keeps each byte one character). A PREFIX naming a
  // directory ("dir/", ".", "..", "dir/..") matches what is inside it only: the resolved path keeps a final '/'.
  const rel = raw.toString('latin1');
  const joined = Buffer.from(resolve(Buffer.from(process.cwd()).toString('latin1'), rel), 'latin1');
  const directory = /(^|\/)(\.\.?)?$/.test(rel);
  return directory && joined[joined.length - 1] !== 0x2f ? Buffer.concat([joined, Buffer.from('/')]) : joined;
}

/** Returns the state ls shows for a /proc/net/unix entry. */
function stateOf(e: ProcUnixSocket): LsRecord['state'] {
  return e.listening ? 'listening' : e.state;
}

/** Returns a record's value as one text field: '-' when unknown, control characters escaped (the address is already). */
function field(r: LsRecord, k: (typeof COLUMNS)[number]): string {
  const v = r[k];
  if (v === null) return '-';
  return k === 'address' ? (v as string) : escapeField(String(v));
}

/** Runs `usock ls`; resolves to 0. Throws UsageError (64) for a bad --pid, UsockError when /proc/net/unix cannot be read. */
export async function runLs(argv: LsSettings): Promise<number> {
  const reporter = reporterOf(argv);
  const pid = argv.pid ?? null;
  const type = argv.type ?? null;
  if (argv.prefix !== undefined && /^(fd|sd):/.test(argv.prefix)) {
    throw new UsageError(
      `ls: ${argv.prefix} names an inherited socket, not an address to match`,
      `for a path that begins so, write ./${argv.prefix}; --pid PID lists a process's sockets`,
    );
  }
  const prefix = argv.prefix === undefined ? null : prefixBytes(argv.prefix);
  if (prefix !== null && prefix.length === 0)
    throw new UsageError('ls: an empty PREFIX matches nothing', 'leave PREFIX out to list every socket');

  let entries: ProcUnixSocket[];
  try {
    entries = readProcNetUnix();
  } catch (err) {
    throw new UsageError(`ls: cannot read /proc/net/unix: ${(err as Error).message}`);
  }
  let diag: Map<number, UnixDiagEntry> | null = null;
  try {
    diag = dumpUnixDiag();
  } catch (err) {
    reporter.info('no-sock-diag', `netlink sock_diag is not available (${(err as Error).message}): peers are unknown`, {
      error: (err as Error).message,
    });
  }
  const { holders, hidden } = socketHolders();
  if (hidden > 0)
    reporter.info('hidden-processes', `/proc hides the descriptors of ${hidden} processes: their sockets show no pid`, {
      processes: hidden,
    });

  const commands = new Map<number, string | null>();
  const commandOf = (p: number) => {
    if (!commands.has(p)) commands.set(p, processCommand(p) || null);
    return commands.get(p)!;
  };
  const records: LsRecord[] = [];
  for (const e of entries) {
    if (argv.listening && !e.listening) continue;
    if (type && e.type !== type) continue;
    const pids = holders.get(e.inode) ?? [];
    if (pid !== null && !pids.includes(pid)) continue;
    const d = diag?.get(e.inode);
    // sock_diag gives the name's exact bytes (/proc shows a 0 byte of an abstract name as '@', and cannot tell '@' from it).
    const name = d ? d.name : e.name;
    if (prefix && !(name && name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix))) continue;
    records.push({
      address: addressText(name),
      type: e.type,
      state: stateOf(e),
      inode: e.inode,
      peer: d?.peer ?? null,
      pid: pids[0] ?? null,
      pids,
      command: pids.length ? commandOf(pids[0]!) : null,
    });
  }
  reporter.info('sockets', `${records.length} of ${entries.length} sockets`, { shown: records.length, total: entries.length });

  if (argv.json) await printOut(records.map((r) => JSON.stringify(r) + '\n').join(''));
  else if (isTerminal(1)) await printOut(await tableOf(records));
  else await printOut(records.map((r) => COLUMNS.map((k) => field(r, k)).join('\t') + '\n').join(''));
  return EXIT.OK;
}

/** Returns records as a table with a header row; commands are cut to fit the terminal's width (the last column, ending in '…'). */
async function tableOf(records: LsRecord[]): Promise<string> {
  const head = await headCells(COLUMNS.map((c) => c.toUpperCase()));
  const cells = records.map((r) => COLUMNS.map((k) => field(r, k)));
  // Each column takes its widest cell, 2 of padding and 1 of border; the table 1 more for its last border.
  const others = COLUMNS.slice(0, -1).reduce((sum, c, i) => sum + Math.max(c.length, ...cells.map((row) => row[i]!.length)) + 3, 1);
  const room = Math.max(12, terminalWidth() - others - 3);
  for (const row of cells) {
    const last = row.length - 1;
    if (row[last]!.length > room) row[last] = row[last]!.slice(0, room - 1) + '…';
  }
  return renderTable(cells, { head, wordWrap: false, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
}
