// Unit tests of src/io/writer.ts: FdWriter's queue of copied and owned blocks, written with write(2) or one writev(2), partly accepted writes included.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { FdWriter } from '../../../src/io/writer.ts';
import { FdWatcher } from '../../../src/sys/poll.ts';
import { closeQuietly, read, writeGather, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';

/** Returns a writer on one end of a stream socketpair and a reader draining the other end. */
function pair(t) {
  const [a, b] = socketpair('stream', { nonblock: true });
  const watcher = new FdWatcher(a);
  t.teardown(() => {
    watcher.close();
    closeQuietly(a);
    closeQuietly(b);
  });
  const buf = Buffer.alloc(1 << 16);
  const got = [];
  const drain = () => {
    for (let n; (n = read(b, buf)) !== WOULD_BLOCK && n > 0; ) got.push(Buffer.from(buf.subarray(0, n)));
    return Buffer.concat(got);
  };
  return { writer: new FdWriter(watcher), drain };
}

test('writeGather: several buffers, subarrays included, leave in one call and in order', (t) => {
  const [a, b] = socketpair('stream', { nonblock: true });
  t.teardown(() => {
    closeQuietly(a);
    closeQuietly(b);
  });
  const parts = [Buffer.from('one,'), randomBytes(3000).subarray(7, 1007), Buffer.from('three')];
  t.is(writeGather(a, parts), 4 + 1000 + 5);
  const buf = Buffer.alloc(4096);
  t.true(buf.subarray(0, /** @type {number} */ (read(b, buf))).equals(Buffer.concat(parts)));
});

test('FdWriter: small pieces copied, owned large ones queued as they are, all arriving in order though the socket takes them in parts', async (t) => {
  const { writer, drain } = pair(t);
  const pieces = [];
  for (let i = 0; i < 40; i++) {
    const small = randomBytes(1 + ((i * 37) % 500));
    const large = randomBytes(16 * 1024 + i * 1000);
    pieces.push(small, large);
    writer.push(small);
    writer.push(large, true);
  }
  const want = Buffer.concat(pieces);
  t.is(writer.queued, want.length);
  let got = Buffer.alloc(0);
  for (let i = 0; i < 2000 && got.length < want.length; i++) {
    writer.flush();
    got = drain();
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.is(got.length, want.length);
  t.true(got.equals(want));
  t.is(writer.queued, 0);
});
