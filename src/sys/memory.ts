// Memory of a relaying process: freed heap kept for reuse while it works (mallopt(3)), given back once it goes idle (V8 garbage collections, then malloc_trim(3)); copies into shared memory (memcpy(3)).
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

/** Collects garbage, then hands freed heap pages of every malloc arena back to the kernel. Never throws. */
function collectAndTrim(): void {
  try {
    collector()?.();
    lib().malloc_trim(0);
  } catch {
    // best effort
  }
}

/**
 * V8 grows its young generation under a burst of clients (to 16 MiB a semi-space, 27 MiB resident) and
 * sizes it down only in a collection that finds its allocation rate low over the last 5 s. The first
 * collection at idle comes too soon after the burst for that, and V8's own memory reducer waits 30 s or
 * more: a second one follows after this long.
 */
const SECOND_PASS_MS = 6000;
/** The share of the wait the event loop may have been busy and still count as idle for the second pass. */
const QUIET_UTILIZATION = 0.05;
let secondPass: NodeJS.Timeout | null = null;

/**
 * Collects garbage, then asks the C library to hand freed heap pages back to the kernel; a second pass
 * 6 s later, when the process stayed quiet meanwhile, gives back the young generation a burst grew. For
 * a server whose clients have all left: buffers they used are garbage that V8 would otherwise keep until
 * the next allocation pressure. The second pass's timer keeps no process alive. Never throws.
 */
export function releaseMemory(): void {
  collectAndTrim();
  if (secondPass) clearTimeout(secondPass);
  const before = performance.eventLoopUtilization();
  secondPass = setTimeout(() => {
    secondPass = null;
    if (performance.eventLoopUtilization(before).utilization <= QUIET_UTILIZATION) collectAndTrim();
  }, SECOND_PASS_MS);
  secondPass.unref();
}

/**
 * Asks the C library to keep freed buffers of a busy relay for reuse: 256 KiB buffers come from the heap
 * rather than their own mmap(2), and freed heap is not handed back at each free. Otherwise each buffer
 * of a bulk transfer is fresh memory the kernel must fault in and zero (about a third of tap's time
 * for 1 GiB). releaseMemory still hands everything back once the process is idle. Also keeps V8's young
 * generation at its starting size. Never throws.
 */
export function keepFreedMemory(): void {
  try {
    // V8 grows its young generation under a burst of clients (up to 16 MiB a semi-space) and keeps it
    // grown once they are gone, collections or not: it stays at its starting size here.
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // the flags are frozen: the young generation may grow
  }
  try {
    lib().mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    lib().mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  } catch {
    // best effort
  }
}

/** Copies shorter than this into shared memory are left to V8 (a libc call costs about a microsecond). */
const MEMCPY_FROM = 4096;

/**
 * Copies src to dst at offset (it fits there). Into a SharedArrayBuffer V8 copies with relaxed atomics,
 * several times slower than libc's memcpy(3), which does the long copies here. Throws only on a bad range.
 */
export function copyInto(dst: Uint8Array, offset: number, src: Uint8Array): void {
  if (offset + src.length > dst.length) throw new RangeError('copyInto: out of range');
  if (src.length < MEMCPY_FROM) dst.set(src, offset);
  else lib().memcpy(dst.subarray(offset, offset + src.length), src, src.length);
}
