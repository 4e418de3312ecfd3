// Message framing codecs (line, nul, raw, len32): bytes from stdin to messages, messages to bytes for stdout.

export type FrameMode = 'line' | 'nul' | 'raw' | 'len32';
export const FRAME_MODES: FrameMode[] = ['line', 'nul', 'raw', 'len32'];

/** A framing problem in the input; the decoder reports it and, where it can, goes on. */
export interface FrameProblem { kind: 'oversize' | 'truncated'; length: number }

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

  constructor(private readonly delimiter: number, private readonly maxSize: number, private readonly report: (p: FrameProblem) => void) {}

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

class Len32Decoder implements Decoder {
  private pending: Buffer = Buffer.alloc(0);
  error: FrameError | null = null;

  constructor(private readonly maxSize: number, private readonly report: (p: FrameProblem) => void) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (this.error) return out;
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > this.maxSize) {
        this.error = new FrameError(`len32 frame of ${len} bytes on stdin exceeds --max-size ${this.maxSize}: input stops there`);
        this.pending = Buffer.alloc(0);
        return out;
      }
      if (buf.length < 4 + len) break;
      out.push(buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }

  end(): Buffer[] {
    if (this.pending.length) this.report({ kind: 'truncated', length: this.pending.length });
    this.pending = Buffer.alloc(0);
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
    case 'raw': return [msg];
    case 'line': return [msg, NEWLINE];
    case 'nul': return [msg, NUL];
    case 'len32': {
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(msg.length, 0);
      return [header, msg];
    }
  }
}
