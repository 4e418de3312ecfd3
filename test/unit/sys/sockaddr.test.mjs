// Unit tests of src/sys/sockaddr.ts: sockaddr_un encoding (path, abstract, autobind) and decoding.
import test from 'ava';
import { encodePathAddress, encodeAbstractAddress, encodeAutobindAddress, decodeAddress } from '../../../src/sys/sockaddr.ts';

const AF_UNIX = 1;

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
