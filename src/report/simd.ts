// The WebAssembly SIMD module of ./simd.wat (assembled by the build and embedded): one instance with its memory laid out for its callers, or null where the runtime cannot run it.

/** The assembled ./simd.wat, base64; set by scripts/build.mjs, absent when running from the sources. */
declare const __SIMD_WASM__: string | undefined;

/** The part of WebAssembly used here (the project's TypeScript libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Bytes the callers hand to the module per call (their escape takes at most 4 x as many). */
export const CHUNK = 64 * 1024;
/** Room before the output area for a record's prefix, so that prefix and data leave in one piece. */
export const PREFIX_ROOM = 1024;
/** Room after the output for a record's suffix. */
export const SUFFIX_ROOM = 1024;
/** The size of the receive area: a relay's stream receive buffer, so that what it reads is escaped and summed where it lands. */
export const RECEIVE_SIZE = 256 * 1024;
/** The size of the ring area (a power of two): a record file's ring (io/file-writer), so that records are escaped straight into it. */
export const RING_SIZE = 4 * 1024 * 1024;
/** Memory layout: hex digits at 0, the input (CHUNK bytes), the prefix room, the output (4 x CHUNK, 16 bytes of overrun, the suffix room), the receive area, the ring area. */
export const IN = 64;
export const OUT = IN + CHUNK + PREFIX_ROOM;
const RECEIVE = (OUT + 4 * CHUNK + 16 + SUFFIX_ROOM + 4095) & ~4095;
const RING = RECEIVE + RECEIVE_SIZE;
const MEMORY_END = RING + RING_SIZE;

export interface Simd {
  /** The module's memory (shared: a SharedArrayBuffer), as a Buffer (valid for good: the memory never grows after set-up). */
  view: Buffer;
  /** The ring area (RING_SIZE bytes of view): for a FileWriter, whose worker thread writes it out. */
  ringArea: Buffer;
  /** The receive area (RECEIVE_SIZE bytes of view): data there is escaped and summed in place, without a copy. */
  receiveArea: Buffer;
  /** Escapes length bytes at input into output; returns the length written (see simd.wat). */
  escape: (input: number, length: number, output: number) => number;
  /** Returns the one's-complement sum of length bytes at input as little-endian 16-bit words, folded to 16 bits. */
  sum: (input: number, length: number) => number;
}

/** Returns an instance of the assembled module wasm with its memory grown to the layout above. Throws (CompileError, or ReferenceError without WebAssembly) where the runtime cannot run it. */
export function instantiateSimd(wasm: Uint8Array): Simd {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
  const memory = instance.exports.memory as WasmMemory;
  const pages = Math.ceil(MEMORY_END / 65536) - memory.buffer.byteLength / 65536;
  if (pages > 0) memory.grow(pages);
  const view = Buffer.from(memory.buffer); // after grow: growing detaches earlier views
  return {
    view,
    receiveArea: view.subarray(RECEIVE, RECEIVE + RECEIVE_SIZE),
    ringArea: view.subarray(RING, RING + RING_SIZE),
    escape: instance.exports.escape as Simd['escape'],
    sum: instance.exports.sum as Simd['sum'],
  };
}

let loaded: Simd | null | undefined;

/** Returns this process's instance, made on first use: null when running from the sources (nothing assembled) or where WebAssembly or its SIMD is missing (--jitless). */
export function simd(): Simd | null {
  if (loaded === undefined) {
    try {
      loaded = typeof __SIMD_WASM__ === 'string' ? instantiateSimd(Buffer.from(__SIMD_WASM__, 'base64')) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
