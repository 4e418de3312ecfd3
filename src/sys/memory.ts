// Giving memory back once a server goes idle: a V8 garbage collection, then malloc_trim(3) so that the C library returns freed pages.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lib } from './libc';

let gc: (() => void) | null | undefined;
let mallocTrim: ((pad: number) => number) | undefined;

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
    mallocTrim ??= lib().koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    mallocTrim(0);
  } catch {
    // best effort
  }
}
