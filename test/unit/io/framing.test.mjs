// Unit tests of src/io/framing.ts: the line, nul, raw and len32 decoders and encodeMessage.
import test from 'ava';
import { createDecoder, encodeMessage, FRAME_MODES, FrameError } from '../../../src/io/framing.ts';
import { len32 } from '../../helpers.mjs';

function collect(mode, maxSize, chunks) {
  const problems = [];
  const dec = createDecoder(mode, maxSize, (p) => problems.push(p));
  const msgs = [];
  for (const c of chunks) msgs.push(...dec.push(Buffer.from(c)));
  msgs.push(...dec.end());
  return { msgs: msgs.map((m) => Buffer.from(m).toString('latin1')), problems };
}

test('FRAME_MODES lists the four modes', (t) => {
  t.deepEqual([...FRAME_MODES].sort(), ['len32', 'line', 'nul', 'raw']);
});

test('line decoder: messages without the newline, across chunk boundaries', (t) => {
  const { msgs, problems } = collect('line', 100, ['one\ntw', 'o\n', 'thr', 'ee\nfour\n']);
  t.deepEqual(msgs, ['one', 'two', 'three', 'four']);
  t.deepEqual(problems, []);
});

test('line decoder: empty lines are empty messages', (t) => {
  t.deepEqual(collect('line', 100, ['a\n\nb\n']).msgs, ['a', '', 'b']);
});

test('line decoder: a last line without newline comes out at end()', (t) => {
  const problems = [];
  const dec = createDecoder('line', 100, (p) => problems.push(p));
  t.deepEqual(dec.push(Buffer.from('a\nlast')).map(String), ['a']);
  t.deepEqual(dec.end().map(String), ['last']);
  t.deepEqual(dec.end(), []);
});

test('line decoder: byte-by-byte input gives the same messages', (t) => {
  const input = 'alpha\nbeta\n\ngamma\n';
  t.deepEqual(collect('line', 100, [...input]).msgs, ['alpha', 'beta', '', 'gamma']);
});

test('line decoder: a NUL byte is data', (t) => {
  t.deepEqual(collect('line', 100, ['a\0b\n']).msgs, ['a\0b']);
});

test('line decoder: message of exactly maxSize passes, one byte more is reported and skipped', (t) => {
  const { msgs, problems } = collect('line', 4, ['abcd\nabcde\nxy\n']);
  t.deepEqual(msgs, ['abcd', 'xy']);
  t.deepEqual(problems, [{ kind: 'oversize', length: 5 }]);
});

test('line decoder: oversize message spread over chunks is reported with its whole length, nothing truncated', (t) => {
  const { msgs, problems } = collect('line', 3, ['ab', 'cd', 'ef', 'g\nok\n']);
  t.deepEqual(msgs, ['ok']);
  t.deepEqual(problems, [{ kind: 'oversize', length: 7 }]);
});

test('line decoder: oversize last line without newline is reported at end()', (t) => {
  const { msgs, problems } = collect('line', 3, ['ok\ntoolong']);
  t.deepEqual(msgs, ['ok']);
  t.is(problems.length, 1);
  t.is(problems[0].kind, 'oversize');
  t.is(problems[0].length, 7);
});

test('nul decoder: NUL delimits, newline is data', (t) => {
  const { msgs } = collect('nul', 100, ['a\nb\0c', 'd\0\0e']);
  t.deepEqual(msgs, ['a\nb', 'cd', '', 'e']);
});

test('nul decoder reports oversize messages', (t) => {
  const { msgs, problems } = collect('nul', 2, ['abc\0de\0']);
  t.deepEqual(msgs, ['de']);
  t.deepEqual(problems, [{ kind: 'oversize', length: 3 }]);
});

test('raw decoder: each chunk is one message, nothing at end', (t) => {
  const dec = createDecoder('raw', 100, () => t.fail());
  t.deepEqual(dec.push(Buffer.from('a\nb')).map(String), ['a\nb']);
  t.deepEqual(dec.push(Buffer.from('\0')).map(String), ['\0']);
  t.deepEqual(dec.end(), []);
});

test('len32 decoder: frames, zero-length frames, binary contents', (t) => {
  const data = len32('hello', '', 'a\nb\0c');
  const { msgs, problems } = collect('len32', 100, [data]);
  t.deepEqual(msgs, ['hello', '', 'a\nb\0c']);
  t.deepEqual(problems, []);
});

test('len32 decoder: header and body split at every byte', (t) => {
  const data = len32('first', 'second message');
  const { msgs } = collect(
    'len32',
    100,
    [...data].map((b) => Buffer.from([b])),
  );
  t.deepEqual(msgs, ['first', 'second message']);
});

test('len32 decoder: frame of exactly maxSize passes, a larger one sets a FrameError (kind DATAERR) and stops decoding', (t) => {
  t.deepEqual(collect('len32', 5, [len32('12345')]).msgs, ['12345']);
  const dec = createDecoder('len32', 5, () => {});
  t.deepEqual(dec.push(len32('123456')), []);
  t.true(dec.error instanceof FrameError);
  t.is(dec.error.kind, 'DATAERR');
  t.regex(dec.error.message, /6/);
  t.deepEqual(dec.push(len32('ok')), [], 'nothing is decoded after a bad header');
});

test('len32 decoder: an oversize header alone is enough; the frames before it in the same chunk still come out', (t) => {
  const dec = createDecoder('len32', 10, () => {});
  const h = Buffer.alloc(4);
  h.writeUInt32BE(0xffffffff);
  t.deepEqual(dec.push(h), []);
  t.true(dec.error instanceof FrameError);
  const dec2 = createDecoder('len32', 10, () => {});
  t.deepEqual(dec2.push(Buffer.concat([len32('ok'), h])).map(String), ['ok']);
  t.true(dec2.error instanceof FrameError);
});

test('len32 decoder: a truncated frame at end() is reported with the body bytes that arrived and the length announced (not the header)', (t) => {
  const problems = [];
  const dec = createDecoder('len32', 100, (p) => problems.push(p));
  const data = Buffer.concat([len32('ok'), len32('cut off').subarray(0, 6)]);
  t.deepEqual(dec.push(data).map(String), ['ok']);
  t.deepEqual(dec.end(), []);
  t.deepEqual(problems, [{ kind: 'truncated', length: 2, expected: 7 }]);
  const cutHeader = createDecoder('len32', 100, (p) => problems.push(p));
  cutHeader.push(Buffer.from([0, 0]));
  cutHeader.end();
  t.deepEqual(problems[1], { kind: 'truncated', length: 0, expected: undefined });
});

test('len32 decoder: one 32 MiB frame in 64 KiB reads is copied about once, not once per read (linear, not quadratic)', (t) => {
  const size = 32 * 1024 * 1024;
  const dec = createDecoder('len32', size, () => {});
  const frame = len32(Buffer.alloc(size, 7));
  // Counts the bytes Buffer.concat copies while decoding: joining the held reads on every read copies ~size²/128 KiB.
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = (list, total) => {
    const b = concat(list, total);
    copied += b.length;
    return b;
  };
  const started = process.hrtime.bigint();
  const out = [];
  try {
    for (let i = 0; i < frame.length; i += 65536) out.push(...dec.push(frame.subarray(i, i + 65536)));
  } finally {
    Buffer.concat = concat;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.is(out.length, 1);
  t.is(out[0].length, size);
  t.log(`decoded one 32 MiB frame in ${ms.toFixed(0)} ms, ${copied} bytes copied`);
  t.true(copied <= 2 * frame.length, `copied ${copied} bytes for a frame of ${frame.length}`);
});

test('encodeMessage: line, nul, raw, len32', (t) => {
  const m = Buffer.from('msg');
  t.deepEqual(Buffer.concat(encodeMessage('line', m)), Buffer.from('msg\n'));
  t.deepEqual(Buffer.concat(encodeMessage('nul', m)), Buffer.from('msg\0'));
  t.deepEqual(Buffer.concat(encodeMessage('raw', m)), Buffer.from('msg'));
  t.deepEqual(Buffer.concat(encodeMessage('len32', m)), Buffer.from([0, 0, 0, 3, 0x6d, 0x73, 0x67]));
  t.true(encodeMessage('line', m).every((p) => Buffer.isBuffer(p)));
});

test('encodeMessage len32: big-endian length, empty message', (t) => {
  const big = Buffer.alloc(0x010203, 1);
  const pieces = encodeMessage('len32', big);
  const all = Buffer.concat(pieces);
  t.is(all.readUInt32BE(0), 0x010203);
  t.is(all.length, 4 + 0x010203);
  t.deepEqual(Buffer.concat(encodeMessage('len32', Buffer.alloc(0))), Buffer.alloc(4));
  t.deepEqual(Buffer.concat(encodeMessage('line', Buffer.alloc(0))), Buffer.from('\n'));
});

test('len32 encode then decode round-trips binary messages', (t) => {
  const msgs = [Buffer.from([0, 10, 0, 10]), Buffer.alloc(0), Buffer.from('x'.repeat(1000))];
  const wire = Buffer.concat(msgs.flatMap((m) => encodeMessage('len32', m)));
  const dec = createDecoder('len32', 2000, () => t.fail());
  const out = dec.push(wire);
  t.deepEqual(
    out.map((b) => Buffer.from(b)),
    msgs,
  );
});

test('line and nul encode then decode round-trip messages without the delimiter', (t) => {
  for (const mode of /** @type {const} */ (['line', 'nul'])) {
    const msgs = ['a', '', 'bc d'].map((s) => Buffer.from(s));
    const wire = Buffer.concat(msgs.flatMap((m) => encodeMessage(mode, m)));
    const dec = createDecoder(mode, 100, () => t.fail());
    t.deepEqual(dec.push(wire).map(String), ['a', '', 'bc d']);
    t.deepEqual(dec.end(), []);
  }
});
