// The system's Unix sockets from /proc/net/unix, and the processes that hold them from /proc/PID/fd.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { SO_ACCEPTCON } from '../sys/platform/linux';
import { socketTypeName } from '../sys/socket';

export interface UnixSocketEntry {
  inode: number;
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown';
  state: 'unconnected' | 'connecting' | 'connected' | 'disconnecting' | 'unknown';
  listening: boolean;
  address: string; // path, @abstract, or '' when unnamed
}

const STATES: Record<string, UnixSocketEntry['state']> = {
  '01': 'unconnected',
  '02': 'connecting',
  '03': 'connected',
  '04': 'disconnecting',
};

/** Returns every entry of /proc/net/unix ([] when it cannot be read). */
export function readUnixSockets(): UnixSocketEntry[] {
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return [];
  }
  const out: UnixSocketEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    const path = line.trim().split(/\s+/).slice(7).join(' ');
    out.push({
      inode: Number(f[6]),
      type: socketTypeName(parseInt(f[4]!, 16)),
      state: STATES[f[5]!] ?? 'unknown',
      listening: (parseInt(f[3]!, 16) & SO_ACCEPTCON) !== 0,
      address: path,
    });
  }
  return out;
}

export interface SocketOwner {
  pid: number;
  command: string;
}

/** Returns, for each inode asked for, the processes holding that socket (found through /proc/PID/fd links). */
export function findOwners(inodes: number[]): Map<number, SocketOwner[]> {
  const wanted = new Map(inodes.map((i) => [`socket:[${i}]`, i]));
  const found = new Map<number, SocketOwner[]>();
  if (wanted.size === 0) return found;
  for (const pid of readdirSafe('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = wanted.get(link);
      if (inode === undefined) continue;
      const list = found.get(inode) ?? [];
      if (!list.some((o) => o.pid === Number(pid))) list.push({ pid: Number(pid), command: processCommand(Number(pid)) });
      found.set(inode, list);
    }
  }
  return found;
}

/** Returns the command line of pid (arguments joined by spaces), its comm name, or '' when /proc hides it. */
export function processCommand(pid: number): string {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`);
    const args = raw
      .toString('utf8')
      .split('\0')
      .filter((a, i, all) => a !== '' || i < all.length - 1);
    if (args.length) return args.join(' ').trim();
  } catch {
    // fall through to comm
  }
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** One line (or more: a name may hold newlines) of /proc/net/unix, its name as the bytes the kernel printed. */
export interface ProcUnixSocket {
  inode: number;
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown';
  state: UnixSocketEntry['state'];
  listening: boolean;
  /**
   * The name as sun_path's bytes: a path, or an abstract name starting with a 0 byte (/proc prints it
   * as '@', and shows every 0 byte in an abstract name as '@' too); null when the socket has no name.
   */
  name: Buffer | null;
}

/** `Num: RefCount Protocol Flags Type St Inode [Path]` (the kernel's unix_seq_show), Path being what follows one space. */
const PROC_LINE = /^[0-9a-fA-F]+: [0-9A-F]{8} [0-9A-F]{8} ([0-9A-F]{8}) ([0-9A-F]{4}) ([0-9A-F]{2}) +(\d+)(?: (.*))?$/s;

/**
 * Returns the entries of /proc/net/unix text (read as latin1, so that each byte is one character).
 * A name holding a newline spans several lines: a line that does not start as an entry does goes on
 * the previous entry's name. Entries whose type is not known are kept (type 'unknown').
 */
export function parseProcNetUnix(text: string): ProcUnixSocket[] {
  const out: ProcUnixSocket[] = [];
  let last: { entry: ProcUnixSocket; path: string | null } | null = null;
  const finish = () => {
    if (!last) return;
    const p = last.path;
    last.entry.name =
      p === null
        ? null
        : p.startsWith('@')
          ? Buffer.concat([Buffer.from([0]), Buffer.from(p.slice(1), 'latin1')])
          : Buffer.from(p, 'latin1');
  };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines.slice(1)) {
    const m = PROC_LINE.exec(line);
    if (!m) {
      if (last) last.path = (last.path ?? '') + '\n' + line;
      continue;
    }
    finish();
    const entry: ProcUnixSocket = {
      inode: Number(m[4]),
      type: socketTypeName(parseInt(m[2]!, 16)),
      state: STATES[m[3]!] ?? 'unknown',
      listening: (parseInt(m[1]!, 16) & SO_ACCEPTCON) !== 0,
      name: null,
    };
    out.push(entry);
    last = { entry, path: m[5] ?? null };
  }
  finish();
  return out;
}

/** Returns every entry of /proc/net/unix with its name's bytes. Throws the Node error when /proc/net/unix cannot be read. */
export function readProcNetUnix(): ProcUnixSocket[] {
  return parseProcNetUnix(readFileSync('/proc/net/unix', 'latin1'));
}

/**
 * Returns, for every socket that a process holds open, the pids holding it (ascending): one pass over
 * every /proc/PID/fd, each link read once. Processes /proc hides (another user's, for a non-root
 * caller) or that end meanwhile are left out; `hidden` counts the pids whose descriptors could not be read.
 */
export function socketHolders(): { holders: Map<number, number[]>; hidden: number } {
  const holders = new Map<number, number[]>();
  let hidden = 0;
  const pids = readdirSafe('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    const dir = `/proc/${pid}/fd/`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') hidden++;
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(dir + fd);
      } catch {
        continue;
      }
      if (!link.startsWith('socket:[')) continue;
      const inode = Number(link.slice(8, -1));
      const list = holders.get(inode);
      if (!list) holders.set(inode, [pid]);
      else if (list[list.length - 1] !== pid) list.push(pid);
    }
  }
  return { holders, hidden };
}
