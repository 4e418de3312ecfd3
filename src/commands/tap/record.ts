// tap's records: every transfer and event of every connection as text (C-escaped or a hex dump) or JSON lines, queued on a non-blocking writer that the relay must not outrun.
import type { Holdback } from '../../io/pipe';
import type { FdWriter } from '../../io/writer';
import { cEscape, hexDump } from '../../report/text';

/** How records are written: one line of escaped text, a header and an xxd-like dump, or one JSON object a line. */
export type RecordFormat = 'text' | 'hex' | 'json';
/** c2s: client to server (`>`), s2c: server to client (`<`). */
export type Direction = 'c2s' | 's2c';
export type TapEvent = 'open' | 'shutdown' | 'close' | 'reject';

/** The client of a connection, from SO_PEERCRED and /proc. */
export interface PeerInfo { pid: number; uid: number; gid: number; command: string }

const ARROW: Record<Direction, string> = { c2s: '>', s2c: '<' };

/** Wall-clock microseconds: Date's milliseconds carried on by the monotonic clock. */
const ORIGIN_US = BigInt(Date.now()) * 1000n - process.hrtime.bigint() / 1000n;

/** Returns now in microseconds since the epoch: the one clock of the records and the pcap file. */
export function nowMicros(): number {
  return Number(ORIGIN_US + process.hrtime.bigint() / 1000n);
}

/** Returns the time us (microseconds since the epoch; default now) as ISO 8601 UTC with microseconds (2026-01-02T03:04:05.678901Z). */
export function isoMicros(us = nowMicros()): string {
  const ms = new Date(Math.floor(us / 1000)).toISOString(); // …SS.mmmZ
  return `${ms.slice(0, -1)}${(us % 1000).toString().padStart(3, '0')}Z`;
}

/** Returns a peer as text records show it: `pid P uid U gid G command CMD`. */
function peerText(p: PeerInfo): string {
  return `pid ${p.pid} uid ${p.uid} gid ${p.gid} command ${cEscape(Buffer.from(p.command))}`;
}

/** A second destination of every record (the pcap file), told each one with the records' time (microseconds since the epoch); a Holdback too. */
export interface TapSink extends Holdback {
  open(conn: number, us: number): void;
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

  constructor(private readonly out: FdWriter, private readonly format: RecordFormat, private readonly also: TapSink | null = null) {}

  get full(): boolean {
    return this.out.full || !!this.also?.full;
  }

  whenDrained(cb: () => void): void {
    const also = this.also;
    if (!also) return this.out.whenDrained(cb);
    let waiting = 2;
    const done = () => {
      if (--waiting === 0) cb();
    };
    this.out.whenDrained(done);
    also.whenDrained(done);
  }

  /** Records connection conn opening (with its client, where known). */
  open(conn: number, peer: PeerInfo | null): void {
    this.firstPeer.set(conn, peer);
    const us = nowMicros();
    this.also?.open(conn, us);
    this.event(conn, 'open', peer ? { peer } : {}, us);
  }

  /** Records an event; fields: `dir` for shutdown, `peer` for open and reject, `error` where one says why. */
  event(conn: number, event: TapEvent, fields: { dir?: Direction; peer?: PeerInfo | null; error?: string } = {}, us = nowMicros()): void {
    if (event === 'close') this.firstPeer.delete(conn);
    if (event !== 'open') this.also?.event(conn, event, fields, us);
    const time = isoMicros(us);
    if (this.format === 'json') {
      const obj: Record<string, unknown> = { time, conn, event };
      if (fields.dir) obj.dir = fields.dir;
      if (fields.peer) obj.peer = fields.peer;
      if (fields.error) obj.error = fields.error;
      return this.write(JSON.stringify(obj) + '\n');
    }
    const extra = [fields.dir ? ARROW[fields.dir] : '', fields.peer ? peerText(fields.peer) : '', fields.error ?? ''].filter(Boolean).join(' ');
    this.write(`${time} #${conn} ${event}${extra ? ' ' + extra : ''}\n`);
  }

  /** Records a transfer of data on connection conn in direction dir. */
  data(conn: number, dir: Direction, data: Buffer): void {
    const us = nowMicros();
    this.also?.data(conn, dir, data, us);
    const time = isoMicros(us);
    const peer = this.firstPeer.get(conn);
    if (peer !== undefined) this.firstPeer.delete(conn);
    if (this.format === 'json') {
      const obj: Record<string, unknown> = { time, conn, dir, len: data.length, data: data.toString('base64'), fds: [] };
      if (peer) obj.peer = peer;
      return this.write(JSON.stringify(obj) + '\n');
    }
    const head = `${time} #${conn} ${ARROW[dir]} ${data.length}`; // the peer is on the open record, the first of the connection
    if (this.format === 'hex') this.write(`${head}\n${hexDump(data)}`);
    else this.write(`${head}: ${cEscape(data)}\n`);
  }

  /** Tells `also` that dir's side ended connection conn abruptly (the pcap file shows a reset); the records show the shutdown and close that follow. */
  reset(conn: number, dir: Direction): void {
    this.also?.reset(conn, dir, nowMicros());
  }

  /** Queues one record; text and hex records are ASCII (every other byte escaped), so latin1 encodes them fastest; JSON may hold any character. */
  private write(text: string): void {
    this.out.push(Buffer.from(text, this.format === 'json' ? 'utf8' : 'latin1'), true);
    this.out.flush();
  }
}
