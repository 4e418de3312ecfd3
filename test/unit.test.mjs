// Unit tests of the pure modules in dist/lib.mjs: sockaddr_un encoding, framing codecs, exit codes and error lines.
import test from 'ava';
import {
  encodePathAddress,
  encodeAbstractAddress,
  encodeAutobindAddress,
  decodeAddress,
  createDecoder,
  encodeMessage,
  FRAME_MODES,
  FrameError,
  EXIT,
  exitCodeFor,
  errorLines,
} from '../dist/lib.mjs';
import { len32 } from './helpers.mjs';

const AF_UNIX = 1;

function collect(mode, maxSize, chunks) {
  const problems = [];
  const dec = createDecoder(mode, maxSize, (p) => problems.push(p));
  const msgs = [];
  for (const c of chunks) msgs.push(...dec.push(Buffer.from(c)));
  msgs.push(...dec.end());
  return { msgs: msgs.map((m) => Buffer.from(m).toString('latin1')), problems };
}

// ---- sockaddr_un ----------------------------------------------------------------------------------------

test('encodePathAddress: family AF_UNIX little-endian, the path bytes, exactly one NUL', (t) => {
  const a = encodePathAddress('/tmp/x.sock');
  t.is(a.length, 2 + 11 + 1);
  t.is(a.readUInt16LE(0), AF_UNIX);
  t.is(a[0], 1);
  t.is(a[1], 0);
  t.is(a.toString('utf8', 2, 13), '/tmp/x.sock');
  t.is(a[13], 0);
});

test('encodePathAddress accepts a Buffer and relative paths', (t) => {
  const a = encodePathAddress(Buffer.from('rel.sock'));
  t.deepEqual(a, Buffer.concat([Buffer.from([1, 0]), Buffer.from('rel.sock'), Buffer.from([0])]));
});

test('encodePathAddress: 107 bytes fit, 108 bytes throw RangeError with the byte count', (t) => {
  const ok = '/' + 'a'.repeat(106);
  t.is(Buffer.byteLength(ok), 107);
  const a = encodePathAddress(ok);
  t.is(a.length, 110);
  t.is(a[109], 0);
  const err = t.throws(() => encodePathAddress('/' + 'a'.repeat(107)), { instanceOf: RangeError });
  t.regex(err.message, /socket path too long \(108 bytes, max 107\)/);
});

test('encodePathAddress counts bytes, not characters', (t) => {
  const p = 'é'.repeat(54); // 108 bytes, 54 characters
  t.is(Buffer.byteLength(p), 108);
  t.throws(() => encodePathAddress(p), { instanceOf: RangeError });
  const q = 'é'.repeat(53); // 106 bytes
  t.is(encodePathAddress(q).length, 2 + 106 + 1);
});

test('encodePathAddress refuses an empty path and a NUL inside the path', (t) => {
  t.throws(() => encodePathAddress(''), { instanceOf: RangeError });
  t.throws(() => encodePathAddress('a\0b'), { instanceOf: RangeError });
});

test('encodeAbstractAddress: family, one NUL, exactly the name, no padding', (t) => {
  const a = encodeAbstractAddress('name');
  t.deepEqual(a, Buffer.from([1, 0, 0, 0x6e, 0x61, 0x6d, 0x65]));
  t.is(a.length, 7);
  const b = encodeAbstractAddress(Buffer.from('x'));
  t.is(b.length, 4);
  t.is(encodeAbstractAddress('').length, 3);
});

test('encodeAbstractAddress keeps binary names and trailing characters exactly', (t) => {
  const name = Buffer.from([0x61, 0x00, 0x62, 0x20]);
  const a = encodeAbstractAddress(name);
  t.deepEqual(a.subarray(3), name);
  t.is(a.length, 3 + 4);
});

test('encodeAbstractAddress: 107 bytes fit, 108 do not', (t) => {
  t.is(encodeAbstractAddress('n'.repeat(107)).length, 110);
  t.throws(() => encodeAbstractAddress('n'.repeat(108)), { instanceOf: RangeError });
});

test('encodeAutobindAddress is the family alone', (t) => {
  const a = encodeAutobindAddress();
  t.true(Buffer.isBuffer(a));
  t.is(a.length, 2);
  t.is(a.readUInt16LE(0), AF_UNIX);
});

test('decodeAddress: path with and without the NUL in the length', (t) => {
  const a = encodePathAddress('/run/app.sock');
  t.is(decodeAddress(a, a.length), '/run/app.sock');
  t.is(decodeAddress(a, a.length - 1), '/run/app.sock');
});

test('decodeAddress: path in a full 110-byte buffer stops at the NUL', (t) => {
  const buf = Buffer.alloc(110, 0x41);
  encodePathAddress('/tmp/s').copy(buf);
  t.is(decodeAddress(buf, 110), '/tmp/s');
});

test('decodeAddress: abstract name uses exactly length bytes', (t) => {
  const buf = Buffer.alloc(110, 0x5a);
  encodeAbstractAddress('abc').copy(buf);
  t.is(decodeAddress(buf, 6), '@abc');
  t.is(decodeAddress(buf, 5), '@ab');
  const a = encodeAbstractAddress('my-name');
  t.is(decodeAddress(a, a.length), '@my-name');
});

test('decodeAddress: unnamed (length 0 or family only) is the empty string', (t) => {
  t.is(decodeAddress(Buffer.alloc(110), 0), '');
  t.is(decodeAddress(Buffer.alloc(110), 2), '');
  t.is(decodeAddress(encodeAutobindAddress(), 2), '');
});

test('decodeAddress: round trip of encode for paths and names', (t) => {
  for (const p of ['/a', 'rel/x.sock', '/' + 'p'.repeat(106)]) {
    const a = encodePathAddress(p);
    t.is(decodeAddress(a, a.length), p);
  }
  for (const n of ['x', 'systemd/notify', 'with space']) {
    const a = encodeAbstractAddress(n);
    t.is(decodeAddress(a, a.length), '@' + n);
  }
});

// ---- framing ---------------------------------------------------------------------------------------------

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

test('len32 decoder: one 32 MiB frame in 64 KiB reads decodes in time linear in its size (no copy per read)', (t) => {
  const size = 32 * 1024 * 1024;
  const dec = createDecoder('len32', size, () => {});
  const frame = len32(Buffer.alloc(size, 7));
  const started = process.hrtime.bigint();
  const out = [];
  for (let i = 0; i < frame.length; i += 65536) out.push(...dec.push(frame.subarray(i, i + 65536)));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.is(out.length, 1);
  t.is(out[0].length, size);
  t.log(`decoded one 32 MiB frame in ${ms.toFixed(0)} ms`);
  t.true(ms < 2000, `took ${ms} ms: quadratic copying is about 3 s here`);
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

// ---- exit codes and errors -------------------------------------------------------------------------------

test('EXIT follows sysexits', (t) => {
  t.like(EXIT, { OK: 0, FAILURE: 1, USAGE: 64, NOINPUT: 66, UNAVAILABLE: 69, CANTCREAT: 73, IOERR: 74, NOPERM: 77 });
});

function sysErr(code, message = `x: ${code}`) {
  const e = new Error(message);
  e.code = code;
  return e;
}

test('exitCodeFor maps errno codes to the cli.md table', (t) => {
  t.is(exitCodeFor(sysErr('ENOENT')), 69);
  t.is(exitCodeFor(sysErr('ECONNREFUSED')), 69);
  t.is(exitCodeFor(sysErr('EADDRINUSE')), 73);
  t.is(exitCodeFor(sysErr('EACCES')), 77);
  t.is(exitCodeFor(sysErr('EPERM')), 77);
  t.is(exitCodeFor(sysErr('EPIPE')), 74);
  t.is(exitCodeFor(sysErr('EIO')), 74);
});

test('exitCodeFor: unknown errors are 1', (t) => {
  t.is(exitCodeFor(new Error('boom')), 1);
  t.is(exitCodeFor(sysErr('EWHATEVER')), 1);
  t.is(exitCodeFor('a string'), 1);
  t.is(exitCodeFor(null), 1);
  t.is(exitCodeFor(undefined), 1);
});

test('errorLines: one `usock: ` line, only the first line of the message', (t) => {
  t.deepEqual(errorLines(new Error('boom\nat something')), ['usock: boom']);
  t.deepEqual(errorLines('plain'), ['usock: plain']);
});

test('errorLines never returns more than a message and one hint line', (t) => {
  for (const e of [new Error('x'), sysErr('ECONNREFUSED', 'connect /x: Connection refused (ECONNREFUSED)'), sysErr('EACCES'), 42, null]) {
    const lines = errorLines(e);
    t.true(lines.length >= 1 && lines.length <= 2);
    t.true(lines[0].startsWith('usock: '));
    if (lines[1] !== undefined) t.true(lines[1].startsWith('hint: '));
    t.false(lines.some((l) => l.includes('\n')));
  }
});

test('errorLines does not put a stack trace in its lines', (t) => {
  const e = new Error('failed');
  const lines = errorLines(e);
  t.false(lines.some((l) => /^\s+at /m.test(l)));
  t.is(lines[0], 'usock: failed');
});
