// C-escaped records of whole transfers (tap): WebAssembly SIMD (./simd) where the runtime runs it, else cEscape of ./text.
import { copyInto } from '../sys/memory';
import { CHUNK, IN, OUT, PREFIX_ROOM, simd, SUFFIX_ROOM, type Simd } from './simd';
import { cEscape } from './text';

/** Receives one piece of a record; the piece is only valid during the call (copy what is kept). */
export type Emit = (piece: Buffer) => void;

/**
 * Room to escape into straight away (a FileWriter's ring in the module's memory): reserve returns a view of
 * `length` free bytes there, or null; commit hands the first `length` bytes of the last reservation over.
 */
export interface Place {
  reserve(length: number): Buffer | null;
  commit(length: number): void;
}

export interface RecordEscaper {
  /**
   * Emits prefix (ASCII), the C escape of data (see cEscape), then suffix (ASCII), in pieces of at most about
   * 256 KiB; or, piece by piece, writes them straight into place where it has room in the module's memory.
   */
  record(prefix: string, data: Buffer, suffix: string, emit: Emit, place?: Place | null): void;
}

/** Returns an escaper running the module instance m. */
export function wasmEscaper(m: Simd): RecordEscaper {
  const { view } = m;
  return {
    record(prefix, data, suffix, emit, place) {
      if (place && prefix.length <= PREFIX_ROOM && suffix.length <= SUFFIX_ROOM && intoPlace(m, prefix, data, suffix, emit, place)) return;
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
        let end = OUT + escapePart(m, part, OUT);
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

/** Escapes part (at most CHUNK bytes) to output in m's memory where it lies there (the receive area), else from a copy at IN; returns the length written. */
function escapePart(m: Simd, part: Buffer, output: number): number {
  if (part.buffer === m.view.buffer) return m.escape(part.byteOffset, part.length, output);
  copyInto(m.view, IN, part); // V8 copies into shared memory slowly
  return m.escape(IN, part.length, output);
}

/**
 * Escapes the record piece by piece straight into place, while it has room in m's memory for each; when
 * the first piece does not fit it returns false having written nothing, when a later one does not, the
 * rest goes to emit through OUT. Returns true when the record was written.
 */
function intoPlace(m: Simd, prefix: string, data: Buffer, suffix: string, emit: Emit, place: Place): boolean {
  const { view } = m;
  let off = 0;
  do {
    const part = data.subarray(off, off + CHUNK);
    const first = off === 0;
    const last = off + part.length >= data.length;
    const spot = place.reserve((first ? prefix.length : 0) + 4 * part.length + 16 + (last ? suffix.length : 0));
    if (!spot || spot.buffer !== view.buffer) {
      if (first) return false;
      wasmEscaper(m).record('', data.subarray(off), suffix, emit); // out of room, or at the ring's end: the rest through OUT
      return true;
    }
    let o = spot.byteOffset;
    if (first) o += view.write(prefix, o, 'latin1');
    o += escapePart(m, part, o);
    if (last) o += view.write(suffix, o, 'latin1');
    place.commit(o - spot.byteOffset);
    off += part.length;
  } while (off < data.length);
  return true;
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
