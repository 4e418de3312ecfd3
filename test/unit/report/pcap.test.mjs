// Unit tests of src/report/pcap.ts: the global header, checksums (against a plain byte-by-byte sum), the handshake,
// segmentation of 1 MiB into packets within 64 KiB with continuous sequence numbers, FIN, RST, and UDP datagrams.
import test from 'ava';
import { assembleWat } from '../../../scripts/wat.mjs';
import { instantiateSimd } from '../../../src/report/simd.ts';
import { randomBytes } from 'node:crypto';
import {
  ACK,
  FIN,
  PSH,
  RST,
  SYN,
  TCP_MAX_PAYLOAD,
  UDP_MAX_PAYLOAD,
  TcpFlow,
  UdpFlow,
  checksum,
  clientPort,
  globalHeader,
  onesSum,
} from '../../../src/report/pcap.ts';

/** One's-complement sum of big-endian 16-bit words, one byte at a time. */
function naiveSum(b, start = 0, end = b.length) {
  let s = 0;
  for (let i = start; i < end; i++) s += (i - start) % 2 === 0 ? b[i] << 8 : b[i];
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Returns the packets a flow emits as whole Buffers (record header included), and the emit function. */
function collector() {
  const packets = [];
  return { packets, emit: (head, payload) => packets.push(Buffer.concat(payload ? [head, payload] : [head])) };
}

/** Parses a packet (pcap record header, IPv4, TCP or UDP) and checks every length and checksum. */
function parse(t, p) {
  const incl = p.readUInt32LE(8);
  t.is(incl, p.length - 16);
  t.is(p.readUInt32LE(12), incl);
  const ip = p.subarray(16);
  t.is(ip[0], 0x45);
  t.is(ip.readUInt16BE(2), ip.length);
  t.true(ip.length <= 65_535);
  t.is(naiveSum(ip, 0, 20), 0xffff, 'IP header checksum');
  const proto = ip[9];
  const src = ip.readUInt32BE(12);
  const dst = ip.readUInt32BE(16);
  const l4 = ip.subarray(20);
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(src, 0);
  pseudo.writeUInt32BE(dst, 4);
  pseudo[9] = proto;
  pseudo.writeUInt16BE(l4.length, 10);
  const padded = Buffer.concat([pseudo, l4, Buffer.alloc(l4.length & 1)]);
  t.is(naiveSum(padded), 0xffff, `${proto === 6 ? 'TCP' : 'UDP'} checksum`);
  const time = p.readUInt32LE(0) * 1e6 + p.readUInt32LE(4);
  if (proto === 6) {
    return {
      time,
      src,
      dst,
      sport: l4.readUInt16BE(0),
      dport: l4.readUInt16BE(2),
      seq: l4.readUInt32BE(4),
      ack: l4.readUInt32BE(8),
      flags: l4[13],
      payload: l4.subarray(20),
    };
  }
  t.is(l4.readUInt16BE(4), l4.length);
  return { time, src, dst, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), payload: l4.subarray(8) };
}

test('globalHeader: classic libpcap, little-endian, version 2.4, snaplen 65535, LINKTYPE_RAW', (t) => {
  t.is(globalHeader().toString('hex'), 'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '65000000');
});

test('onesSum and checksum: the same as a byte-by-byte sum for every length, alignment and start parity', (t) => {
  const big = randomBytes(70_000);
  const ff = Buffer.alloc(300, 0xff);
  for (const buf of [big, ff]) {
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 2, 3, 63, 64, 65, 66, 67, 100, 257, 1000, 4099]) {
        t.is(
          onesSum(buf, start, Math.min(buf.length, start + len)),
          naiveSum(buf, start, Math.min(buf.length, start + len)),
          `start ${start} len ${len}`,
        );
      }
    }
    const sub = buf.subarray(3); // an unaligned view
    t.is(onesSum(sub, 1, sub.length), naiveSum(sub, 1, sub.length));
  }
  t.is(onesSum(big, 0, big.length), naiveSum(big));
  const huge = randomBytes((20 << 20) + 5); // more than one block of 2^22 words
  t.is(onesSum(huge, 1, huge.length), naiveSum(huge, 1, huge.length));
  // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2
  t.is(onesSum(Buffer.from('0001f203f4f5f6f7', 'hex'), 0, 8), 0xddf2);
  t.is(checksum(Buffer.from('0001f203f4f5f6f7', 'hex')), 0x220d);
});

test('onesSum by the WebAssembly module (src/report/simd.wat): the same as a byte-by-byte sum for every length, alignment and parity, across its 64 KiB pieces', async (t) => {
  const m = instantiateSimd(await assembleWat('src/report/simd.wat'));
  const big = randomBytes(200_000);
  const ff = Buffer.alloc(70_000, 0xff);
  for (const buf of [big, ff]) {
    for (let start = 0; start < 5; start++) {
      for (const len of [512, 513, 527, 528, 529, 4099, 65_491, 65_536, 65_537, 131_073]) {
        const end = Math.min(buf.length, start + len);
        t.is(onesSum(buf, start, end, m), naiveSum(buf, start, end), `start ${start} len ${len}`);
      }
    }
  }
  t.is(onesSum(Buffer.alloc(1000), 0, 1000, m), 0);
});

test("onesSum of bytes in the module's receive area: summed in place, the same as elsewhere, at every alignment and parity", async (t) => {
  const m = instantiateSimd(await assembleWat('src/report/simd.wat'));
  const data = randomBytes(m.receiveArea.length);
  data.copy(m.receiveArea);
  for (let start = 0; start < 5; start++) {
    for (const len of [512, 513, 4099, 65_491, 65_537, m.receiveArea.length - 5]) {
      t.is(onesSum(m.receiveArea, start, start + len, m), naiveSum(data, start, start + len), `start ${start} len ${len}`);
    }
  }
  const view = m.receiveArea.subarray(3, 70_003); // a view that starts inside the area
  t.is(onesSum(view, 1, view.length, m), naiveSum(data, 4, 70_003));
});

test('clientPort: 40000 for connection 1, distinct up, wrapping within 1024..65535', (t) => {
  t.is(clientPort(1), 40_000);
  t.is(clientPort(2), 40_001);
  t.is(clientPort(65_535 - 40_000 + 1), 65_535);
  t.is(clientPort(65_535 - 40_000 + 2), 1024);
  for (const c of [1, 1000, 30_000, 64_512, 64_513, 1e9]) t.true(clientPort(c) >= 1024 && clientPort(c) <= 65_535);
});

test('TcpFlow: handshake, 1 MiB each way in segments within 64 KiB each acknowledged, sequence numbers continuous, FIN each way', (t) => {
  const { packets, emit } = collector();
  const flow = new TcpFlow(emit, 40_001, 80, { client: 0xfffff000, server: 1000 }); // the client's numbers wrap
  flow.open(1_700_000_000_123_456);
  const up = randomBytes(1 << 20);
  const down = randomBytes((1 << 20) + 3).subarray(3); // an unaligned view
  flow.data('c2s', up, 1_700_000_001_000_000);
  flow.data('s2c', down, 1_700_000_002_000_000);
  flow.shutdown('c2s', 1_700_000_003_000_000);
  flow.data('s2c', Buffer.from('late'), 1_700_000_003_000_001);
  flow.shutdown('s2c', 1_700_000_004_000_000);
  flow.shutdown('s2c', 1_700_000_004_000_000); // once only
  flow.close(1_700_000_005_000_000);
  const ps = packets.map((p) => parse(t, p));
  const C = 0x7f000001;
  const S = 0x7f000002;
  t.deepEqual(
    ps.slice(0, 3).map((p) => [p.src, p.sport, p.dport, p.flags, p.seq, p.ack]),
    [
      [C, 40_001, 80, SYN, 0xfffff000, 0],
      [S, 80, 40_001, SYN | ACK, 1000, 0xfffff001],
      [C, 40_001, 80, ACK, 0xfffff001, 1001],
    ],
  );
  t.is(ps[0].time, 1_700_000_000_123_456);
  const seqs = { [C]: 0xfffff001, [S]: 1001 };
  const got = { [C]: [], [S]: [] };
  for (const p of ps.slice(3)) {
    t.is(p.seq, seqs[p.src], 'continuous');
    t.is(p.ack, seqs[p.src === C ? S : C], 'acknowledges all the other side sent');
    t.true(p.payload.length <= TCP_MAX_PAYLOAD);
    seqs[p.src] = (seqs[p.src] + p.payload.length + (p.flags & FIN ? 1 : 0)) >>> 0;
    got[p.src].push(p.payload);
    t.is(p.flags & (SYN | RST), 0);
  }
  t.true(Buffer.concat(got[C]).equals(up));
  t.true(Buffer.concat(got[S]).equals(Buffer.concat([down, Buffer.from('late')])));
  const dataPackets = ps.filter((p) => p.payload.length);
  t.is(dataPackets.length, 2 * Math.ceil((1 << 20) / TCP_MAX_PAYLOAD) + 1);
  t.true(
    ps.every((p, i) => !p.payload.length || !ps[i + 1].payload.length),
    'each data segment is followed by an ACK',
  );
  t.is(ps.filter((p) => p.flags & PSH).length, 3);
  const fins = ps.filter((p) => p.flags & FIN);
  t.deepEqual(
    fins.map((p) => p.src),
    [C, S],
  );
  t.is(ps.at(-1).flags, ACK);
  t.is(ps.at(-1).src, C);
});

test('TcpFlow: RST from the side that reset ends the flow; nothing after it', (t) => {
  const { packets, emit } = collector();
  const flow = new TcpFlow(emit, 40_000, 5432);
  flow.open(1);
  flow.data('c2s', Buffer.from('hello'), 2);
  flow.reset('s2c', 3);
  flow.shutdown('c2s', 4);
  flow.data('c2s', Buffer.from('x'), 5);
  flow.close(6);
  const ps = packets.map((p) => parse(t, p));
  t.is(ps.length, 6);
  const rst = ps.at(-1);
  t.is(rst.flags, RST | ACK);
  t.is(rst.src, 0x7f000002);
  t.is(rst.sport, 5432);
  t.is(rst.ack, ps[3].seq + 5);
});

test('UdpFlow: one datagram per message, an empty one too; a message over 65,507 bytes split in order', (t) => {
  const { packets, emit } = collector();
  const flow = new UdpFlow(emit, 40_002, 53);
  const big = randomBytes(150_000);
  flow.data('c2s', Buffer.from('query'), 10);
  flow.data('s2c', Buffer.alloc(0), 11);
  flow.data('s2c', big, 12);
  const ps = packets.map((p) => parse(t, p));
  t.deepEqual(
    ps.map((p) => [p.sport, p.dport, p.payload.length]),
    [
      [40_002, 53, 5],
      [53, 40_002, 0],
      [53, 40_002, UDP_MAX_PAYLOAD],
      [53, 40_002, UDP_MAX_PAYLOAD],
      [53, 40_002, 150_000 - 2 * UDP_MAX_PAYLOAD],
    ],
  );
  t.true(Buffer.concat(ps.slice(2).map((p) => p.payload)).equals(big));
  t.is(ps[0].payload.toString(), 'query');
});
