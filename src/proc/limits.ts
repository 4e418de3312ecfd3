// This process's descriptor budget: its open-files limit (RLIMIT_NOFILE, from /proc/self/limits) and how many descriptors it holds now.
import { readdirSync, readFileSync } from 'node:fs';

/** Returns the soft limit on open files (`ulimit -n`), or null when it is unlimited or cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

/** Returns the number of descriptors open in this process now (less the one reading /proc/self/fd), or null when /proc cannot tell. */
export function openDescriptors(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}
