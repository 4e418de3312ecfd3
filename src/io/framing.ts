// Message framing codecs (line, nul, raw, len32): bytes from stdin to messages, messages to bytes for stdout.

export type FrameMode = 'line' | 'nul' | 'raw' | 'len32';
export const FRAME_MODES: FrameMode[] = ['line', 'nul', 'raw', 'len32'];

/** A framing problem in the input; the decoder reports it and, where it can, goes on. */
export interface FrameProblem {
  kind: 'oversize' | 'truncated';
  /** The message's length (oversize), or the bytes of a truncated frame's body that arrived. */
  length: number;
  /** A truncated frame: the body length its header announced (unknown when the header itself was cut). */
  expected?: number;
}

export interface Decoder {
  /**
   * Returns the whole messages that chunk completes; problems go to the report callback. Keeps chunk's
   * memory. After a malformed frame it returns the messages before it and sets `error`.
   */
  push(chunk: Buffer): Buffer[];
  /** Set once the input cannot be decoded any further (a len32 header beyond maxSize); push returns nothing more. */
  readonly error: FrameError | null;
  /** Returns what is left at end of input as messages (a last line without delimiter). */
  end(): Buffer[];
}

/** Returns a decoder for stdin bytes; messages longer than maxSize are reported and skipped. */
export function createDecoder(mode: FrameMode, maxSize: number, report: (p: FrameProblem) => void): Decoder {
  if (mode === 'raw') return { push: (chunk) => [chunk], end: () => [], error: null };
  if (mode === 'len32') return new Len32Decoder(maxSize, report);
  return new DelimiterDecoder(mode === 'line' ? 0x0a : 0x00, maxSize, report);
}

class DelimiterDecoder implements Decoder {
  readonly error = null;
  private parts: Buffer[] = [];
  private partLength = 0;
  private skipping = false;

  constructor(
    private readonly delimiter: number,
    private readonly maxSize: number,
    private readonly report: (p: FrameProblem) => void,
  ) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const at = chunk.indexOf(this.delimiter, start);
      if (at < 0) break;
      this.take(chunk.subarray(start, at), out, true);
      start = at + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start), out, false);
    return out;
  }

  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.partLength > 0 || this.parts.length > 0 || this.skipping) this.take(Buffer.alloc(0), out, true);
    return out;
  }

  private take(piece: Buffer, out: Buffer[], complete: boolean): void {
    this.partLength += piece.length;
    if (!this.skipping) {
      if (this.partLength > this.maxSize) {
        this.skipping = true;
        this.parts = [];
      } else if (piece.length > 0 || complete) {
        this.parts.push(piece);
      }
    }
    if (!complete) return;
    if (this.skipping) this.report({ kind: 'oversize', length: this.partLength });
    else out.push(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partLength));
    this.parts = [];
    this.partLength = 0;
    this.skipping = false;
  }
}

/**
 * len32 frames: the pieces of a frame that spans reads are kept as they came and joined once, when
 * the frame is complete, so that decoding takes time linear in the input whatever the frame size.
 */
class Len32Decoder implements Decoder {
  private parts: Buffer[] = [];
  private length = 0; // bytes held in parts
  private need = 0; // 4 + the frame's length once its header is known; 0 before
  error: FrameError | null = null;

  constructor(
    private readonly maxSize: number,
    private readonly report: (p: FrameProblem) => void,
  ) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (this.error) return out;
    this.parts.push(chunk);
    this.length += chunk.length;
    for (;;) {
      if (this.need === 0) {
        if (this.length < 4) break;
        const len = this.header();
        if (len > this.maxSize) {
          this.error = new FrameError(`len32 frame of ${len} bytes on stdin exceeds --max-size ${this.maxSize}: input stops there`);
          this.parts = [];
          this.length = 0;
          return out;
        }
        this.need = 4 + len;
      }
      if (this.length < this.need) break;
      const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
      out.push(buf.subarray(4, this.need));
      const rest = buf.subarray(this.need);
      this.parts = rest.length ? [rest] : [];
      this.length = rest.length;
      this.need = 0;
    }
    return out;
  }

  /** Returns the length in the header at the start of the held bytes (at least 4 are held). */
  private header(): number {
    const first = this.parts[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return Buffer.concat(this.parts, this.length).readUInt32BE(0);
  }

  end(): Buffer[] {
    if (this.length > 0) {
      const body = Math.max(0, this.length - 4);
      this.report({ kind: 'truncated', length: body, expected: this.need ? this.need - 4 : undefined });
    }
    this.parts = [];
    this.length = 0;
    this.need = 0;
    return [];
  }
}

/** A len32 stream that cannot be resynchronised: a data error (kind DATAERR, exit 65). */
export class FrameError extends Error {
  readonly kind = 'DATAERR' as const;
}

const NEWLINE = Buffer.from('\n');
const NUL = Buffer.from([0]);

/** Returns the pieces that frame one received message for stdout, in order. */
export function encodeMessage(mode: FrameMode, msg: Buffer): Buffer[] {
  switch (mode) {
    case 'raw':
      return [msg];
    case 'line':
      return [msg, NEWLINE];
    case 'nul':
      return [msg, NUL];
    case 'len32': {
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(msg.length, 0);
      return [header, msg];
    }
  }
}
