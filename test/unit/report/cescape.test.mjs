// Unit tests of src/report/cescape.ts: tap's record escaper, the WebAssembly module (assembled from src/report/simd.wat) against the JavaScript one.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assembleWat } from '../../../scripts/wat.mjs';
import { FileWriter } from '../../../src/io/file-writer.ts';
import { jsEscaper, recordEscaper, wasmEscaper } from '../../../src/report/cescape.ts';
import { instantiateSimd } from '../../../src/report/simd.ts';
import { cEscape } from '../../../src/report/text.ts';
import { tmpDir } from '../../helpers.mjs';

const module = instantiateSimd(await assembleWat('src/report/simd.wat'));
const wasm = wasmEscaper(module);

/** Returns the record an escaper emits, joined, and the number of pieces. */
function recordOf(escaper, prefix, data, suffix) {
  const pieces = [];
  escaper.record(prefix, data, suffix, (piece) => pieces.push(Buffer.from(piece)));
  return { text: Buffer.concat(pieces).toString('latin1'), pieces: pieces.length };
}

const rule = (b) =>
  b === 0x5c
    ? '\\\\'
    : b >= 0x20 && b < 0x7f
      ? String.fromCharCode(b)
      : b === 0x0a
        ? '\\n'
        : b === 0x0d
          ? '\\r'
          : b === 0x09
            ? '\\t'
            : `\\x${b.toString(16).padStart(2, '0')}`;

test('wasm: each of the 256 byte values, alone, amid text and at every position of a 16-byte block, as the C rule says', (t) => {
  for (let b = 0; b < 256; b++) {
    t.is(recordOf(wasm, '', Buffer.from([b]), '').text, rule(b));
    for (let at = 0; at < 40; at++) {
      const data = Buffer.alloc(40, 0x61);
      data[at] = b;
      t.is(recordOf(wasm, 'p ', data, '\n').text, `p ${'a'.repeat(at)}${rule(b)}${'a'.repeat(39 - at)}\n`);
    }
  }
});

test('wasm and js: the same records as cEscape for random bytes, text, and sizes across the 64 KiB pieces', (t) => {
  const text = Buffer.from('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n\\ \t'.repeat(5000));
  for (const data of [
    Buffer.alloc(0),
    randomBytes(1),
    randomBytes(15),
    randomBytes(17),
    randomBytes(65536),
    randomBytes(65537),
    randomBytes(300000),
    text,
    text.subarray(3),
  ]) {
    const want = `#1 > ${data.length}: ${cEscape(data)}\n`;
    for (const escaper of [wasm, jsEscaper()]) t.is(recordOf(escaper, `#1 > ${data.length}: `, data, '\n').text, want);
  }
});

test('wasm: a record leaves in one piece up to 64 KiB of data, in one piece per 64 KiB beyond; long prefixes and suffixes too', (t) => {
  t.is(recordOf(wasm, 'head: ', Buffer.alloc(65536, 0x61), '\n').pieces, 1);
  t.is(recordOf(wasm, 'head: ', Buffer.alloc(65537, 0x61), '\n').pieces, 2);
  const long = 'x'.repeat(5000);
  const r = recordOf(wasm, long, Buffer.from('a\nb'), long);
  t.is(r.text, `${long}a\\nb${long}`);
});

test('recordEscaper: the escaper of this process (from the sources: the JavaScript one) escapes as cEscape does', (t) => {
  const data = randomBytes(1000);
  t.is(recordOf(recordEscaper(), '', data, '').text, cEscape(data));
});

test("wasm: data in the module's receive area (where tap reads a stream) is escaped in place: the same records as a copy elsewhere", (t) => {
  const text = Buffer.from('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n\\ \t\x00\xff'.repeat(8000)).subarray(0, module.receiveArea.length);
  text.copy(module.receiveArea);
  for (const [start, end] of [
    [0, module.receiveArea.length],
    [1, 17],
    [5, 65_541],
    [65_536, 200_003],
  ]) {
    const inPlace = module.receiveArea.subarray(start, end);
    t.is(inPlace.buffer, module.view.buffer);
    t.is(recordOf(wasm, '#1 > : ', inPlace, '\n').text, `#1 > : ${cEscape(text.subarray(start, end))}\n`);
  }
});

test("wasm: records escaped straight into a FileWriter's ring in the module's memory reach the file as cEscape says, through the ring's wraps, a full ring and data in the receive area", async (t) => {
  const file = path.join(tmpDir(t), 'records');
  const fd = fs.openSync(file, 'w');
  const writer = new FileWriter(fd, module.ringArea);
  t.teardown(() => {
    writer.stop();
    fs.closeSync(fd);
  });
  const place = { reserve: (n) => writer.reserve(n), commit: (n) => writer.commit(n) };
  const want = [];
  for (let i = 0; i < 60; i++) {
    /** @type {Buffer} */
    let data = i % 3 === 0 ? Buffer.from('GET / HTTP/1.1\r\n\\'.repeat(9000 + i)) : randomBytes(150_000 + i * 997);
    if (i % 2 === 1) {
      // read where tap reads a stream
      data = data.subarray(0, module.receiveArea.length);
      data.copy(module.receiveArea);
      want.push(`#${i} > ${data.length}: ${cEscape(data)}\n`);
      data = module.receiveArea.subarray(0, data.length);
    } else want.push(`#${i} > ${data.length}: ${cEscape(data)}\n`);
    wasm.record(`#${i} > ${data.length}: `, data, '\n', (piece) => writer.writeNow(piece), place);
    writer.flush();
    if (i % 20 === 19) await new Promise((resolve) => writer.whenDrained(() => resolve(undefined))); // else the ring fills: the rest goes through emit
  }
  await new Promise((resolve) => writer.whenDrained(() => resolve(undefined)));
  const got = fs.readFileSync(file, 'latin1');
  t.true(got.length > 4 * module.ringArea.length, 'several times the ring');
  t.is(got, want.join(''));
});
