// tap's records: every transfer and event of every connection as text (C-escaped or a hex dump) or JSON lines, queued on a non-blocking writer that the relay must not outrun.
import { afterAll, type Holdback } from '../../io/pipe';
import { HIGH_WATER, type ByteWriter } from '../../io/writer';
import { describeDescriptor } from '../../proc/fdinfo';
import { recordEscaper, type Place } from '../../report/cescape';
import { cEscape, hexDump } from '../../report/text';

/** How records are written: one line of escaped text, a header and an xxd-like dump, or one JSON object a line. */
export type RecordFormat = 'text' | 'hex' | 'json';
/** c2s: client to server (`>`), s2c: server to client (`<`). */
export type Direction = 'c2s' | 's2c';
export type TapEvent = 'open' | 'shutdown' | 'close' | 'reject' | 'drop';

/** The client of a connection, from SO_PEERCRED and /proc. */
export interface PeerInfo {
  pid: number;
  uid: number;
  gid: number;
  command: string;
}

/** A descriptor passed with a unit (SCM_RIGHTS) as records show it: its number in tap, its kind and what it points to (proc/fdinfo). */
export interface FdRecord {
  fd: number;
  kind: string;
  target: string;
}

/** Returns the records of open descriptors of tap's (from /proc/self/fd, before they are passed on or closed). Never throws. */
export function describeFds(fds: readonly number[]): FdRecord[] {
  return fds.map((fd) => {
    const { kind, target } = describeDescriptor(fd);
    return { fd, kind, target };
  });
}

/** Returns descriptors as text records show them: `7 file /etc/hostname, 8 pipe pipe:[1234]`, targets C-escaped (and `,` as `\x2c`, so that the list splits at `, `). */
export function fdsText(fds: readonly FdRecord[]): string {
  return fds.map((f) => `${f.fd} ${f.kind} ${cEscape(Buffer.from(f.target)).replaceAll(',', '\\x2c')}`).join(', ');
}

const ARROW: Record<Direction, string> = { c2s: '>', s2c: '<' };

const NO_FDS: readonly FdRecord[] = [];

/** Data up to this long is escaped in JavaScript, into one string with its record: for a few bytes, cheaper than a call into the WebAssembly escaper. */
const ESCAPE_IN_JS = 512;
/** Pieces of records at least this long are written at once rather than queued (see Recorder.emit). */
const WRITE_AT_ONCE = 16 * 1024;
/**
 * Smaller records wait at most this long for the ones that follow them, so that they leave together. Not
 * shorter: a timer due every few milliseconds costs a relay more than its records (on the project's VM, a
 * 2 ms one added 7 us of CPU to each round trip of a ping-pong through a bare relay, a 10 ms one nothing).
 */
const FLUSH_DELAY_MS = 20;

/** The ISO text of the last whole second a record was made in (2026-01-02T03:04:05), and that second. */
let secondText = '';
let second = -1;

/** Returns now in microseconds since the epoch (the wall clock at start carried on by the monotonic one): the one clock of the records and the pcap file. */
export function nowMicros(): number {
  return Math.floor((timeOrigin + performance.now()) * 1000);
}

/** performance.timeOrigin, read once: the getter asks Node each time. */
const timeOrigin = performance.timeOrigin;

/** Returns the time us (microseconds since the epoch; default now) as ISO 8601 UTC with microseconds (2026-01-02T03:04:05.678901Z). */
export function isoMicros(us = nowMicros()): string {
  const s = Math.floor(us / 1e6);
  if (s !== second) {
    second = s;
    secondText = new Date(s * 1000).toISOString().slice(0, 19);
  }
  return `${secondText}.${String(us - s * 1e6).padStart(6, '0')}Z`;
}

/** Returns a peer as text records show it: `pid P uid U gid G command CMD`. */
function peerText(p: PeerInfo): string {
  return `pid ${p.pid} uid ${p.uid} gid ${p.gid} command ${cEscape(Buffer.from(p.command))}`;
}

/** A second destination of every record (the pcap file), told each one with the records' time (microseconds since the epoch); a Holdback too. */
export interface TapSink extends Holdback {
  open(conn: number, us: number): void;
  /** Records data (only read during the call: copy what is kept). */
  data(conn: number, dir: Direction, data: Buffer, us: number): void;
  event(conn: number, event: TapEvent, fields: { dir?: Direction; error?: string }, us: number): void;
  /** dir's side ended the connection abruptly (a reset, or an error on its socket). */
  reset(conn: number, dir: Direction, us: number): void;
}

/**
 * Writes records to a queued writer, and to `also` (the pcap file) when given. As a Holdback it is full while the writer holds more than its
 * high-water mark (or `also` is full), so that the relay pauses rather than let records pile up or drop them.
 */
export class Recorder implements Holdback {
  /** Peers whose first data record is still to come (in JSON it carries the peer again). */
  private readonly firstPeer = new Map<number, PeerInfo | null>();
  private readonly escaper = recordEscaper();
  /** Where text records are escaped straight into the writer's buffer, when it has one in the escaper's memory. */
  private readonly place: Place | null;
  private flushQueued = false;
  /**
   * Takes a piece of an escaped record: a large one (a bulk transfer) is written at once where the writer
   * has nothing queued (no copy); a small one is queued and written with the records that follow it (see
   * flushSoon), so that recording adds no write(2) to a message's round trip.
   */
  private readonly emit = (piece: Buffer) => {
    if (piece.length >= WRITE_AT_ONCE) return this.out.writeNow(piece);
    this.out.push(piece);
    this.flushSoon();
  };
  private readonly flushNow = () => {
    this.flushQueued = false;
    this.formatPending();
    this.out.flush();
  };
  /**
   * Small data records not formatted yet (see data), in order, kept without an object each: their bytes
   * one after another in pendingData, and four numbers a record in pendingMeta (connection, direction:
   * 0 c2s, 1 s2c, time, length). flushSoon formats them once they hold WRITE_AT_ONCE bytes.
   */
  private pendingData = Buffer.allocUnsafe(2 * WRITE_AT_ONCE);
  private pendingMeta = new Float64Array(4 * 64);
  private pendingCount = 0;
  private pendingBytes = 0;

  constructor(
    private readonly out: ByteWriter,
    private readonly format: RecordFormat,
    private readonly also: TapSink | null = null,
  ) {
    this.place = out.reserve && out.commit ? (out as Place) : null;
  }

  get full(): boolean {
    return this.out.full || this.pendingBytes >= HIGH_WATER || !!this.also?.full;
  }

  whenDrained(cb: () => void): void {
    this.formatPending();
    const also = this.also;
    afterAll([(done) => this.out.whenDrained(done), also && ((done) => also.whenDrained(done))], cb);
  }

  /** Records connection conn opening (with its client, where known). */
  open(conn: number, peer: PeerInfo | null): void {
    this.firstPeer.set(conn, peer);
    const us = nowMicros();
    this.also?.open(conn, us);
    this.event(conn, 'open', peer ? { peer } : {}, us);
  }

  /**
   * Records an event; fields: `dir` for shutdown and drop, `peer` for open and reject, `fds` for drop
   * (descriptors tap closed instead of passing them on), `error` where one says why.
   */
  event(
    conn: number,
    event: TapEvent,
    fields: { dir?: Direction; peer?: PeerInfo | null; fds?: readonly FdRecord[]; error?: string } = {},
    us = nowMicros(),
  ): void {
    this.formatPending(); // the data records before it first
    if (event === 'close') this.firstPeer.delete(conn);
    if (event !== 'open') this.also?.event(conn, event, fields, us);
    const time = isoMicros(us);
    if (this.format === 'json') {
      const obj: Record<string, unknown> = { time, conn, event };
      if (fields.dir) obj.dir = fields.dir;
      if (fields.peer) obj.peer = fields.peer;
      if (fields.fds) obj.fds = fields.fds.map(({ fd, kind, target }) => ({ fd, kind, target }));
      if (fields.error) obj.error = fields.error;
      return this.write(JSON.stringify(obj) + '\n');
    }
    if (fields.fds) {
      // drop: like a data record's header, then the reason after a colon
      return this.write(
        `${time} #${conn} ${event}${fields.dir ? ' ' + ARROW[fields.dir] : ''} fds: ${fdsText(fields.fds)}${fields.error ? ': ' + fields.error : ''}\n`,
      );
    }
    const extra = [fields.dir ? ARROW[fields.dir] : '', fields.peer ? peerText(fields.peer) : '', fields.error ?? '']
      .filter(Boolean)
      .join(' ');
    this.write(`${time} #${conn} ${event}${extra ? ' ' + extra : ''}\n`);
  }

  /**
   * Records a transfer of data on connection conn in direction dir, with the descriptors that came with
   * it (SCM_RIGHTS) and ctrunc when the kernel truncated its control data (MSG_CTRUNC: descriptors lost).
   * data is only read during the call.
   */
  data(conn: number, dir: Direction, data: Buffer, fds: readonly FdRecord[] = NO_FDS, ctrunc = false): void {
    const us = nowMicros();
    this.also?.data(conn, dir, data, us);
    const peer = this.firstPeer.get(conn);
    if (peer !== undefined) this.firstPeer.delete(conn);
    // A small transfer (a request, a reply) is formatted a moment later, with the ones that follow it: its
    // relay goes on at once. data is the relay's receive buffer, read again once this returns: a copy waits.
    // One with descriptors, or a connection's first (its peer), is formatted now, after those waiting.
    if (data.length < WRITE_AT_ONCE && fds.length === 0 && !ctrunc && peer === undefined) {
      if (this.pendingBytes + data.length > this.pendingData.length) this.formatPending();
      if (4 * this.pendingCount === this.pendingMeta.length) {
        const meta = new Float64Array(2 * this.pendingMeta.length);
        meta.set(this.pendingMeta);
        this.pendingMeta = meta;
      }
      data.copy(this.pendingData, this.pendingBytes);
      const m = 4 * this.pendingCount++;
      this.pendingMeta[m] = conn;
      this.pendingMeta[m + 1] = dir === 'c2s' ? 0 : 1;
      this.pendingMeta[m + 2] = us;
      this.pendingMeta[m + 3] = data.length;
      this.pendingBytes += data.length;
      return this.flushSoon();
    }
    this.formatPending();
    this.formatData(conn, dir, data, fds, ctrunc, us, peer);
  }

  /** Formats the data records waiting (see pendingData), in order. */
  formatPending(): void {
    const count = this.pendingCount;
    if (count === 0) return;
    const meta = this.pendingMeta;
    this.pendingCount = 0;
    for (let i = 0, off = 0; i < count; i++) {
      const length = meta[4 * i + 3]!;
      this.formatData(
        meta[4 * i]!,
        meta[4 * i + 1] ? 's2c' : 'c2s',
        this.pendingData.subarray(off, off + length),
        NO_FDS,
        false,
        meta[4 * i + 2]!,
        undefined,
      );
      off += length;
    }
    this.pendingBytes = 0;
  }

  private formatData(
    conn: number,
    dir: Direction,
    data: Buffer,
    fds: readonly FdRecord[],
    ctrunc: boolean,
    us: number,
    peer: PeerInfo | null | undefined,
  ): void {
    const time = isoMicros(us);
    if (this.format === 'json') {
      const obj: Record<string, unknown> = {
        time,
        conn,
        dir,
        len: data.length,
        data: data.toString('base64'),
        fds: fds.map(({ fd, kind, target }) => ({ fd, kind, target })),
      };
      if (ctrunc) obj.ctrunc = true;
      if (peer) obj.peer = peer;
      return this.write(JSON.stringify(obj) + '\n');
    }
    // the peer is on the open record, the first of the connection; descriptors follow the length
    let head = `${time} #${conn} ${ARROW[dir]} ${data.length}`;
    if (fds.length || ctrunc) head += ` fds: ${fds.length ? fdsText(fds) : 'none'}${ctrunc ? ' (MSG_CTRUNC: descriptors lost)' : ''}`;
    if (this.format === 'hex') this.write(`${head}\n${hexDump(data)}`);
    else if (data.length <= ESCAPE_IN_JS) this.write(`${head}: ${cEscape(data)}\n`);
    else {
      this.escaper.record(`${head}: `, data, '\n', this.emit, this.place);
      if (data.length >= WRITE_AT_ONCE) this.out.flush(); // what went straight into the writer's buffer leaves now
    }
  }

  /** Tells `also` that dir's side ended connection conn abruptly (the pcap file shows a reset); the records show the shutdown and close that follow. */
  reset(conn: number, dir: Direction): void {
    this.also?.reset(conn, dir, nowMicros());
  }

  /**
   * Queues one record; text and hex records are ASCII (every other byte escaped), so latin1 encodes them
   * fastest, straight into the writer's buffer where it has one; JSON may hold any character.
   */
  private write(text: string): void {
    const spot = this.format === 'json' ? null : this.place?.reserve(text.length);
    if (spot) {
      spot.write(text, 0, 'latin1');
      this.place!.commit(text.length);
    } else this.out.push(Buffer.from(text, this.format === 'json' ? 'utf8' : 'latin1'), true);
    this.flushSoon();
  }

  /**
   * Writes the queue FLUSH_DELAY_MS from now (records of a whole exchange leave in one write(2), none on a
   * message's round trip), or at once when it holds a block's worth.
   */
  private flushSoon(): void {
    if (this.out.queued + this.pendingBytes >= WRITE_AT_ONCE) return this.flushNow();
    if (this.flushQueued) return;
    this.flushQueued = true;
    setTimeout(this.flushNow, FLUSH_DELAY_MS);
  }
}
