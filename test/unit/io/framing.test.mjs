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
  const { msgs } = collect('len32', 100, [...data].map((b) => Buffer.from([b])));
  t.deepEqual(msgs, ['first', 'second message']);
});

test('len32 decoder: frame of exactly maxSize passes, larger throws FrameError', (t) => {
  t.deepEqual(collect('len32', 5, [len32('12345')]).msgs, ['12345']);
  const dec = createDecoder('len32', 5, () => {});
  const err = t.throws(() => dec.push(len32('123456')), { instanceOf: FrameError });
  t.true(err instanceof Error);
  t.regex(err.message, /6/);
});

test('len32 decoder: an oversize header alone is enough to throw', (t) => {
  const dec = createDecoder('len32', 10, () => {});
  const h = Buffer.alloc(4);
  h.writeUInt32BE(0xffffffff);
  t.throws(() => dec.push(h), { instanceOf: FrameError });
});

test('len32 decoder: a truncated frame at end() is reported with the bytes left', (t) => {
  const problems = [];
  const dec = createDecoder('len32', 100, (p) => problems.push(p));
  const data = Buffer.concat([len32('ok'), len32('cut off').subarray(0, 6)]);
  t.deepEqual(dec.push(data).map(String), ['ok']);
  t.deepEqual(dec.end(), []);
  t.deepEqual(problems, [{ kind: 'truncated', length: 6 }]);
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
  t.deepEqual(out.map((b) => Buffer.from(b)), msgs);
});

test('line and nul encode then decode round-trip messages without the delimiter', (t) => {
  for (const mode of ['line', 'nul']) {
    const msgs = ['a', '', 'bc d'].map((s) => Buffer.from(s));
    const wire = Buffer.concat(msgs.flatMap((m) => encodeMessage(mode, m)));
    const dec = createDecoder(mode, 100, () => t.fail());
    t.deepEqual(dec.push(wire).map(String), ['a', '', 'bc d']);
    t.deepEqual(dec.end(), []);
  }
});
