// Unit tests of src/report/text.ts: cEscape and hexDump, the data of tap's records.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { cEscape, hexDump } from '../../../src/report/text.ts';

test('cEscape: printable ASCII as it is, \\n \\r \\t \\\\ named, every other byte as \\xNN', (t) => {
  t.is(cEscape(Buffer.from('GET / HTTP/1.1\r\n\tx\\y"\'')), 'GET / HTTP/1.1\\r\\n\\tx\\\\y"\'');
  t.is(cEscape(Buffer.from([0, 0x1b, 0x7f, 0x80, 0xff, 0x20, 0x7e])), '\\x00\\x1b\\x7f\\x80\\xff ~');
  t.is(cEscape(Buffer.from('é')), '\\xc3\\xa9');
  t.is(cEscape(Buffer.alloc(0)), '');
});

test('cEscape: every one of the 256 byte values escapes as the C rule says, alone and amid text', (t) => {
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
  for (let b = 0; b < 256; b++) {
    t.is(cEscape(Buffer.from([b])), rule(b), `byte 0x${b.toString(16)}`);
    t.is(cEscape(Buffer.from([0x61, b, 0x62])), `a${rule(b)}b`);
  }
});

test('hexDump: the same lines as xxd for lengths 0 to 40', (t) => {
  const all = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37 + 5) & 0xff));
  for (let n = 0; n <= 40; n++) {
    const bytes = all.subarray(0, n);
    let xxd;
    try {
      xxd = execFileSync('xxd', [], { input: bytes }).toString();
    } catch {
      return t.pass('xxd is not installed');
    }
    t.is(hexDump(bytes), xxd, `length ${n}`);
  }
});
