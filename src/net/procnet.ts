// The system's Unix sockets from /proc/net/unix, and the processes that hold them from /proc/PID/fd.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface UnixSocketEntry {
  inode: number;
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown';
  state: 'unconnected' | 'connecting' | 'connected' | 'disconnecting' | 'unknown';
  listening: boolean;
  address: string; // path, @abstract, or '' when unnamed
}

const TYPES: Record<string, UnixSocketEntry['type']> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };
const STATES: Record<string, UnixSocketEntry['state']> = { '01': 'unconnected', '02': 'connecting', '03': 'connected', '04': 'disconnecting' };
const SO_ACCEPTCON = 0x10000;

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
      type: TYPES[f[4]!] ?? 'unknown',
      state: STATES[f[5]!] ?? 'unknown',
      listening: (parseInt(f[3]!, 16) & SO_ACCEPTCON) !== 0,
      address: path,
    });
  }
  return out;
}

export interface SocketOwner { pid: number; command: string }

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
    const args = raw.toString('utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
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
