// pcap capture of synthetic flows (classic libpcap format, raw IPv4): a TCP flow per stream connection, UDP for messages; pure code, the caller writes the packets.
import { copyInto } from '../sys/memory';
import { CHUNK, IN, simd, type Simd } from './simd';

/** LINKTYPE_RAW: each packet starts with its IPv4 header. */
export const LINKTYPE_RAW = 101;
/** The client's and the server's IPv4 addresses: 127.0.0.1 and 127.0.0.2. */
export const CLIENT_IP = 0x7f000001;
export const SERVER_IP = 0x7f000002;
/** The most payload one TCP segment carries: the IP packet stays within 65,535 bytes (20 IP + 20 TCP), a multiple of 4 so that later segments of a chunk stay word-aligned for the checksum. */
export const TCP_MAX_PAYLOAD = 65_492;
/** The most payload one UDP datagram carries (65,535 - 20 IP - 8 UDP); a longer message becomes several datagrams. */
export const UDP_MAX_PAYLOAD = 65_507;
/** The snapshot length in the file's header: every packet is captured whole. */
const SNAPLEN = 65_535;

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const REC = 16; // pcap record header
const IP = 20;
const TCP = 20;
const UDP = 8;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** c2s: from the client (127.0.0.1), s2c: from the server (127.0.0.2). */
export type FlowDirection = 'c2s' | 's2c';

/**
 * Receives each packet as two pieces: `head` (pcap record header, IP and TCP/UDP headers), valid only during the
 * call (it is reused), and `payload` (a view of the caller's data, not copied; null when the packet has none).
 */
export type PacketSink = (head: Buffer, payload: Buffer | null) => void;

/** Returns the 24-byte pcap global header (little-endian, microsecond timestamps, LINKTYPE_RAW). */
export function globalHeader(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  // thiszone and sigfigs: 0
  b.writeUInt32LE(SNAPLEN, 16);
  b.writeUInt32LE(LINKTYPE_RAW, 20);
  return b;
}

/** Returns the TCP/UDP port of connection conn's client: 40000 for the first, then up, wrapping within 1024..65535. */
export function clientPort(conn: number): number {
  return 1024 + ((40_000 - 1024 + conn - 1) % (65_536 - 1024));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Returns s folded to 16 bits in one's-complement arithmetic (s: a non-negative whole number below 2^53). */
function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

const swap16 = (v: number) => ((v & 0xff) << 8) | (v >>> 8);

/**
 * Returns the one's-complement sum of bytes[start, end) read as big-endian 16-bit words (the byte at start is a
 * high byte; an odd last byte is padded with zero), folded to 16 bits. Long ranges are summed as native 32-bit words.
 */
export function onesSum(bytes: Uint8Array, start: number, end: number, m: Simd | null = simd()): number {
  if (m && end - start >= SIMD_SUM_FROM) return simdSum(m, bytes, start, end);
  let sum = 0;
  let i = start;
  if (end - start >= 64) {
    const pre = (4 - ((bytes.byteOffset + i) & 3)) & 3; // bytes before the first aligned word
    for (let k = 0; k < pre; k++) sum += k & 1 ? bytes[i + k]! : bytes[i + k]! << 8;
    i += pre;
    const words = (end - i) >>> 2;
    // 32-bit words whose 16-bit halves are native-order words, in four sums (doubles: exact up to 2^21 words each),
    // folded every 2^20 words per sum.
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    let mid = 0;
    for (let w0 = 0; w0 < words; w0 += 1 << 22) {
      const wEnd = Math.min(words, w0 + (1 << 22));
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      let w = w0;
      for (; w + 4 <= wEnd; w += 4) {
        s0 += u32[w]!;
        s1 += u32[w + 1]!;
        s2 += u32[w + 2]!;
        s3 += u32[w + 3]!;
      }
      for (; w < wEnd; w++) s0 += u32[w]!;
      mid = fold(mid + fold(s0) + fold(s1) + fold(s2) + fold(s3));
    }
    // The words start at an even offset from start (pre even) on a little-endian machine: each is byte-swapped.
    sum += (pre & 1) === (LITTLE_ENDIAN ? 0 : 1) ? swap16(mid) : mid;
    i += words * 4;
  }
  for (; i < end; i++) sum += (i - start) & 1 ? bytes[i]! : bytes[i]! << 8;
  return fold(sum);
}

/** Ranges at least this long are summed by the WebAssembly module where there is one: a copy into its memory and 16 bytes a step. */
const SIMD_SUM_FROM = 512;

/** onesSum by the module m, CHUNK bytes a call (CHUNK is even, so each piece starts on a word); bytes in the module's memory are summed where they are. */
function simdSum(m: Simd, bytes: Uint8Array, start: number, end: number): number {
  const inPlace = bytes.buffer === m.view.buffer;
  let sum = 0;
  for (let off = start; off < end; off += CHUNK) {
    const stop = Math.min(end, off + CHUNK);
    if (inPlace) sum += m.sum(bytes.byteOffset + off, stop - off);
    else {
      copyInto(m.view, IN, bytes.subarray(off, stop)); // V8 copies into shared memory slowly
      sum += m.sum(IN, stop - off);
    }
  }
  return swap16(fold(sum)); // a sum of little-endian words is the big-endian sum byte-swapped (RFC 1071)
}

/** Returns the Internet checksum (RFC 1071) of bytes[start, end): the complement of their one's-complement sum. */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return ~onesSum(bytes, start, end) & 0xffff;
}

/** The sum of the TCP/UDP pseudo-header: source and destination addresses, protocol, length. */
function pseudoSum(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/** Writes the pcap record header and an IPv4 header (no options, DF) into b at 0; ipLength: the IP packet's length. */
function writeIpHead(b: Buffer, us: number, ipLength: number, proto: number, id: number, src: number, dst: number): void {
  b.writeUInt32LE(Math.floor(us / 1e6), 0);
  b.writeUInt32LE(us % 1e6, 4);
  b.writeUInt32LE(ipLength, 8);
  b.writeUInt32LE(ipLength, 12);
  b[REC] = 0x45; // version 4, 5 words
  b[REC + 1] = 0;
  b.writeUInt16BE(ipLength, REC + 2);
  b.writeUInt16BE(id, REC + 4);
  b.writeUInt16BE(0x4000, REC + 6); // don't fragment
  b[REC + 8] = 64; // TTL
  b[REC + 9] = proto;
  b.writeUInt16BE(0, REC + 10);
  b.writeUInt32BE(src, REC + 12);
  b.writeUInt32BE(dst, REC + 16);
  b.writeUInt16BE(checksum(b, REC, REC + IP), REC + 10);
}

/** One side of a TCP flow: its address, port, next sequence number and IP id. */
interface TcpSide {
  ip: number;
  port: number;
  seq: number;
  id: number;
  fin: boolean;
}

/**
 * A stream connection as a TCP flow: a handshake, each transfer as segments of at most TCP_MAX_PAYLOAD bytes each
 * acknowledged by the other side, a FIN (acknowledged) for each half-close, RST for a reset. Packets go to emit as they
 * are made; `us` is each packet's time in microseconds since the epoch.
 */
export class TcpFlow {
  private readonly c: TcpSide;
  private readonly s: TcpSide;
  private readonly head = Buffer.allocUnsafe(REC + IP + TCP);
  /** True after a reset: nothing more is sent. */
  dead = false;

  /** isn: the two initial sequence numbers (by default derived from the client port). */
  constructor(
    private readonly emit: PacketSink,
    clientPortNo: number,
    serverPortNo: number,
    isn: { client: number; server: number } = {
      client: Math.imul(clientPortNo, 0x9e3779b1) >>> 0,
      server: Math.imul(clientPortNo, 0x85ebca6b) >>> 0,
    },
  ) {
    this.c = { ip: CLIENT_IP, port: clientPortNo, seq: isn.client >>> 0, id: 1, fin: false };
    this.s = { ip: SERVER_IP, port: serverPortNo, seq: isn.server >>> 0, id: 1, fin: false };
  }

  /** Emits the three-way handshake: SYN, SYN-ACK, ACK. */
  open(us: number): void {
    this.segment(this.c, this.s, SYN, null, us);
    this.segment(this.s, this.c, SYN | ACK, null, us);
    this.segment(this.c, this.s, ACK, null, us);
  }

  /** Emits data from dir's side as segments, each followed by the other side's ACK (PSH on the last). */
  data(dir: FlowDirection, data: Buffer, us: number): void {
    if (this.dead) return;
    const [from, to] = dir === 'c2s' ? [this.c, this.s] : [this.s, this.c];
    for (let off = 0; off < data.length; off += TCP_MAX_PAYLOAD) {
      const end = Math.min(off + TCP_MAX_PAYLOAD, data.length);
      this.segment(from, to, end === data.length ? PSH | ACK : ACK, data.subarray(off, end), us);
      this.segment(to, from, ACK, null, us);
    }
  }

  /** Emits dir's side's FIN and the other side's ACK, once per side. */
  shutdown(dir: FlowDirection, us: number): void {
    const [from, to] = dir === 'c2s' ? [this.c, this.s] : [this.s, this.c];
    if (this.dead || from.fin) return;
    from.fin = true;
    this.segment(from, to, FIN | ACK, null, us);
    this.segment(to, from, ACK, null, us);
  }

  /** Emits RST from dir's side; the flow is over. */
  reset(dir: FlowDirection, us: number): void {
    if (this.dead) return;
    const [from, to] = dir === 'c2s' ? [this.c, this.s] : [this.s, this.c];
    this.segment(from, to, RST | ACK, null, us);
    this.dead = true;
  }

  /** Ends the flow: a FIN for each side that has not sent one (client first). */
  close(us: number): void {
    this.shutdown('c2s', us);
    this.shutdown('s2c', us);
    this.dead = true;
  }

  /** Emits one segment from `from` to `to` and advances from's sequence number. */
  private segment(from: TcpSide, to: TcpSide, flags: number, payload: Buffer | null, us: number): void {
    const h = this.head;
    const n = payload ? payload.length : 0;
    writeIpHead(h, us, IP + TCP + n, PROTO_TCP, from.id, from.ip, to.ip);
    from.id = (from.id + 1) & 0xffff;
    const t = REC + IP;
    h.writeUInt16BE(from.port, t);
    h.writeUInt16BE(to.port, t + 2);
    h.writeUInt32BE(from.seq, t + 4);
    h.writeUInt32BE(flags & ACK ? to.seq : 0, t + 8);
    h[t + 12] = 5 << 4; // 5 words, no options
    h[t + 13] = flags;
    h.writeUInt16BE(65_535, t + 14); // window
    h.writeUInt32BE(0, t + 16); // checksum and urgent pointer
    let sum = pseudoSum(from.ip, to.ip, PROTO_TCP, TCP + n) + onesSum(h, t, t + TCP);
    if (payload) sum += onesSum(payload, 0, n);
    h.writeUInt16BE(~fold(sum) & 0xffff, t + 16);
    from.seq = (from.seq + n + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    this.emit(h, payload);
  }
}

/** Messages as UDP datagrams between the client's port and the server's; a message over UDP_MAX_PAYLOAD bytes is split into several. */
export class UdpFlow {
  private readonly head = Buffer.allocUnsafe(REC + IP + UDP);
  private readonly ids = { c2s: 1, s2c: 1 };

  constructor(
    private readonly emit: PacketSink,
    private readonly clientPortNo: number,
    private readonly serverPortNo: number,
  ) {}

  /** Emits one message from dir's side: one datagram, or several in order when it is longer than UDP_MAX_PAYLOAD. */
  data(dir: FlowDirection, data: Buffer, us: number): void {
    let off = 0;
    do {
      const end = Math.min(off + UDP_MAX_PAYLOAD, data.length);
      this.datagram(dir, data.subarray(off, end), us);
      off = end;
    } while (off < data.length);
  }

  private datagram(dir: FlowDirection, payload: Buffer, us: number): void {
    const h = this.head;
    const [src, dst, sport, dport] =
      dir === 'c2s'
        ? [CLIENT_IP, SERVER_IP, this.clientPortNo, this.serverPortNo]
        : [SERVER_IP, CLIENT_IP, this.serverPortNo, this.clientPortNo];
    const n = payload.length;
    writeIpHead(h, us, IP + UDP + n, PROTO_UDP, this.ids[dir], src, dst);
    this.ids[dir] = (this.ids[dir] + 1) & 0xffff;
    const u = REC + IP;
    h.writeUInt16BE(sport, u);
    h.writeUInt16BE(dport, u + 2);
    h.writeUInt16BE(UDP + n, u + 4);
    h.writeUInt16BE(0, u + 6);
    const sum = ~fold(pseudoSum(src, dst, PROTO_UDP, UDP + n) + onesSum(h, u, u + UDP) + onesSum(payload, 0, n)) & 0xffff;
    h.writeUInt16BE(sum === 0 ? 0xffff : sum, u + 6); // 0 would mean "no checksum"
    this.emit(h, n ? payload : null);
  }
}
