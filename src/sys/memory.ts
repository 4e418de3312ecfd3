// Memory of a relaying process: freed heap kept for reuse while it works (mallopt(3)), given back once it goes idle (a V8 garbage collection, then malloc_trim(3)).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lib } from './libc';
import { M_MMAP_THRESHOLD, M_TRIM_THRESHOLD } from './platform/linux';

let gc: (() => void) | null | undefined;

/** Returns V8's gc(), exposed at run time (no command-line flag needed); null where V8 refuses. */
function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    gc = null;
  }
  return gc;
}

/**
 * Collects garbage, then asks the C library to hand freed heap pages back to the kernel. For a server
 * whose clients have all left: buffers they used are garbage that V8 would otherwise keep until the
 * next allocation pressure. Never throws.
 */
export function releaseMemory(): void {
  try {
    collector()?.();
    lib().malloc_trim(0);
  } catch {
    // best effort
  }
}

/**
 * Asks the C library to keep freed buffers of a busy relay for reuse: 256 KiB buffers come from the heap
 * rather than their own mmap(2), and freed heap is not handed back at each free. Otherwise each buffer
 * of a bulk transfer is fresh memory the kernel must fault in and zero (about a third of tap's time
 * for 1 GiB). releaseMemory still hands everything back once the process is idle. Never throws.
 */
export function keepFreedMemory(): void {
  try {
    lib().mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    lib().mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  } catch {
    // best effort
  }
}
