// C-escaped records of whole transfers (tap): WebAssembly SIMD (./simd) where the runtime runs it, else cEscape of ./text.
import { CHUNK, IN, OUT, PREFIX_ROOM, simd, SUFFIX_ROOM, type Simd } from './simd';
import { cEscape } from './text';

/** Receives one piece of a record; the piece is only valid during the call (copy what is kept). */
export type Emit = (piece: Buffer) => void;

export interface RecordEscaper {
  /** Emits prefix (ASCII), the C escape of data (see cEscape), then suffix (ASCII), in pieces of at most about 256 KiB. */
  record(prefix: string, data: Buffer, suffix: string, emit: Emit): void;
}

/** Returns an escaper running the module instance m. */
export function wasmEscaper(m: Simd): RecordEscaper {
  const { view, escape } = m;
  return {
    record(prefix, data, suffix, emit) {
      let start = OUT - prefix.length;
      if (prefix.length > PREFIX_ROOM) {
        emit(Buffer.from(prefix, 'latin1'));
        start = OUT;
      } else {
        view.write(prefix, start, 'latin1');
      }
      const inPlace = data.buffer === view.buffer; // data in the module's receive area: no copy
      let off = 0;
      do {
        const part = data.subarray(off, off + CHUNK);
        if (!inPlace) view.set(part, IN);
        let end = OUT + escape(inPlace ? part.byteOffset : IN, part.length, OUT);
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
    const m = simd();
    chosen = m ? wasmEscaper(m) : jsEscaper();
  }
  return chosen;
}
