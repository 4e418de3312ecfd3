// C-escaped records of whole transfers (tap): WebAssembly SIMD (./cescape.wat, assembled by the build) where the runtime runs it, else cEscape of ./text.
import { cEscape } from './text';

/** The assembled ./cescape.wat, base64; set by scripts/build.mjs, absent when running from the sources. */
declare const __CESCAPE_WASM__: string | undefined;

/** The part of WebAssembly used here (the project's TypeScript libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }

/** Receives one piece of a record; the piece is only valid during the call (copy what is kept). */
export type Emit = (piece: Buffer) => void;

export interface RecordEscaper {
  /** Emits prefix (ASCII), the C escape of data (see cEscape), then suffix (ASCII), in pieces of at most about 256 KiB. */
  record(prefix: string, data: Buffer, suffix: string, emit: Emit): void;
}

/** Bytes escaped per call into the module (their escape takes at most 4 x as many). */
const CHUNK = 64 * 1024;
/** Room before the output area for a record's prefix, so that prefix and data leave in one piece. */
const PREFIX_ROOM = 1024;
/** Memory layout: hex digits at 0, input, prefix room, output (4 x CHUNK, 16 bytes of overrun, a suffix). */
const IN = 64;
const OUT = IN + CHUNK + PREFIX_ROOM;
const SUFFIX_ROOM = 1024;
const MEMORY_END = OUT + 4 * CHUNK + 16 + SUFFIX_ROOM;

/**
 * Returns an escaper running the assembled module wasm. Throws (WebAssembly.CompileError, or a
 * ReferenceError without WebAssembly) when the runtime cannot run it.
 */
export function wasmEscaper(wasm: Uint8Array): RecordEscaper {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
  const memory = instance.exports.memory as WasmMemory;
  const escape = instance.exports.escape as (input: number, length: number, output: number) => number;
  const pages = Math.ceil(MEMORY_END / 65536) - memory.buffer.byteLength / 65536;
  if (pages > 0) memory.grow(pages);
  const view = Buffer.from(memory.buffer); // after grow: growing detaches earlier views
  return {
    record(prefix, data, suffix, emit) {
      let start = OUT - prefix.length;
      if (prefix.length > PREFIX_ROOM) {
        emit(Buffer.from(prefix, 'latin1'));
        start = OUT;
      } else {
        view.write(prefix, start, 'latin1');
      }
      let off = 0;
      do {
        const part = data.subarray(off, off + CHUNK);
        view.set(part, IN);
        let end = OUT + escape(IN, part.length, OUT);
        off += part.length;
        if (off >= data.length && suffix.length <= SUFFIX_ROOM) {
          end += view.write(suffix, end, 'latin1');
          suffix = '';
        }
        emit(view.subarray(start, end));
        start = OUT;
      } while (off < data.length);
      if (suffix) emit(Buffer.from(suffix, 'latin1'));
    },
  };
}

/** Returns an escaper in plain JavaScript (cEscape of each 64 KiB: V8 handles strings of that size fastest). */
export function jsEscaper(): RecordEscaper {
  return {
    record(prefix, data, suffix, emit) {
      let off = 0;
      let head = prefix;
      do {
        const part = data.subarray(off, off + CHUNK);
        off += part.length;
        emit(Buffer.from(`${head}${cEscape(part)}${off >= data.length ? suffix : ''}`, 'latin1'));
        head = '';
      } while (off < data.length);
    },
  };
}

let chosen: RecordEscaper | null = null;

/** Returns the escaper of this process: the WebAssembly one where the build embedded it and the runtime runs it, else the JavaScript one. */
export function recordEscaper(): RecordEscaper {
  if (!chosen) {
    try {
      chosen = typeof __CESCAPE_WASM__ === 'string' ? wasmEscaper(Buffer.from(__CESCAPE_WASM__, 'base64')) : jsEscaper();
    } catch {
      chosen = jsEscaper(); // no WebAssembly (--jitless) or no SIMD
    }
  }
  return chosen;
}
