// Unit tests of src/io/receive.ts on real socketpairs: receive areas, the ones shared by size, and the ancillary data of a receive.
import test from 'ava';
import fs from 'node:fs';
import { ancillaryOf, ReceiveArea, sharedReceiveArea } from '../../../src/io/receive.ts';
import { sendWithDescriptors } from '../../../src/sys/msg.ts';
import { closeQuietly, write } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';

test('one shared area per size, the same each time it is asked for', (t) => {
  const a = sharedReceiveArea(1000);
  t.is(sharedReceiveArea(1000), a);
  t.is(a.buffer.length, 1000);
  t.not(sharedReceiveArea(2000), a);
});

test("an area's reader receives into the area's own buffer, and is made once", (t) => {
  const [x, y] = socketpair('stream');
  t.teardown(() => {
    closeQuietly(x);
    closeQuietly(y);
  });
  const area = new ReceiveArea(Buffer.alloc(64));
  t.is(area.reader, area.reader);
  write(x, Buffer.from('into the area'));
  const n = /** @type {number} */ (area.reader.receive(y));
  t.is(area.buffer.subarray(0, n).toString(), 'into the area');
  t.is(ancillaryOf(area.reader), undefined, 'no ancillary data');
});

test('ancillaryOf: the descriptors of the last receive', (t) => {
  const [x, y] = socketpair('stream');
  const f = fs.openSync('/dev/null', 'r');
  t.teardown(() => {
    closeQuietly(x);
    closeQuietly(y);
    closeQuietly(f);
  });
  const area = new ReceiveArea(Buffer.alloc(64));
  sendWithDescriptors(x, Buffer.from('fd'), [f]);
  area.reader.receive(y);
  const anc = ancillaryOf(area.reader);
  t.is(anc.fds.length, 1);
  t.false(anc.truncated);
  for (const fd of anc.fds) closeQuietly(fd);
});
