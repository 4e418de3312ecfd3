// Unit tests of src/io/connection.ts on real socketpairs: a fault in one connection's callback ends that connection only; echo and half-close.
import test from 'ava';
import { Connection } from '../../../src/io/connection.ts';
import { closeQuietly, write, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, shutdown } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

/** A sink that keeps what it gets; `failOn` makes writeNow throw when the bytes contain it. */
function memorySink(failOn) {
  const got = [];
  const take = (b) => {
    if (failOn && b.toString().includes(failOn)) throw new Error('sink fault');
    got.push(Buffer.from(b));
  };
  return { got, text: () => Buffer.concat(got).toString(), writeNow: take, push: take, flush() {}, full: false, whenDrained: (cb) => cb() };
}

test('an exception in one connection\'s read callback finishes that connection with error; another connection goes on', async (t) => {
  const [a1, b1] = socketpair('stream');
  const [a2, b2] = socketpair('stream');
  t.teardown(() => { closeQuietly(b1); closeQuietly(b2); });
  const ends = [];
  const bad = new Connection(a1, { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: memorySink('boom'), source: null },
    (c, reason, err) => ends.push({ which: 'bad', reason, message: err?.message }));
  const goodSink = memorySink();
  const good = new Connection(a2, { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: goodSink, source: null },
    (c, reason) => ends.push({ which: 'good', reason }));
  bad.start();
  good.start();
  write(b1, Buffer.from('boom'));
  await waitUntil(() => ends.length === 1, 5000, 'the faulty connection to finish');
  t.deepEqual(ends[0], { which: 'bad', reason: 'error', message: 'sink fault' });
  // its socket is closed: the other end reads EOF
  await waitUntil(() => read(b1, Buffer.alloc(8)) === 0, 5000, 'EOF where the faulty connection was');
  write(b2, Buffer.from('still here'));
  await waitUntil(() => goodSink.text() === 'still here', 5000, 'the other connection to go on');
  shutdown(b2, 1);
  await waitUntil(() => ends.length === 2, 5000, 'the other connection to finish at EOF');
  t.deepEqual(ends[1], { which: 'good', reason: 'eof' });
});

test('an echoing connection (sink null) sends back what it reads and shuts down its side after the peer\'s EOF', async (t) => {
  const [a, b] = socketpair('stream');
  t.teardown(() => closeQuietly(b));
  let ended = null;
  new Connection(a, { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: null, source: null }, (c, reason) => { ended = reason; }).start();
  write(b, Buffer.from('ping'));
  shutdown(b, 1);
  const chunks = [];
  const buf = Buffer.alloc(64);
  await waitUntil(() => {
    const n = read(b, buf);
    if (n === WOULD_BLOCK) return false;
    if (n === 0) return true;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    return false;
  }, 5000, 'the echo and EOF');
  t.is(Buffer.concat(chunks).toString(), 'ping');
  await waitUntil(() => ended !== null, 5000, 'the connection to finish');
  t.is(ended, 'eof');
});
