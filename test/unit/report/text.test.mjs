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
