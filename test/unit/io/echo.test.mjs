// Unit tests of src/io/echo.ts on real socketpairs: an echo is a sink and a source like any other; what the connection receives goes back, half-closes pass on, a peer that stops reading ends it.
import test from 'ava';
import { openConnection } from '../../../src/io/connection.ts';
import { Echo, ECHO_HIGH_WATER } from '../../../src/io/echo.ts';
import { closeQuietly, write, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, recv, send, shutdown } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

function echoing(t, type) {
  const [a, b] = socketpair(type);
  t.teardown(() => closeQuietly(b));
  const ends = [];
  const echo = new Echo();
  const conn = openConnection(
    a,
    { type, frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: echo.sink, source: echo.source },
    (c, reason, err) => ends.push(reason),
  );
  echo.attach(conn);
  conn.start();
  t.teardown(() => conn.close());
  return { conn, peer: b, ends };
}

test("stream: what the connection reads goes back, and after the peer's EOF it shuts down its side and finishes", async (t) => {
  const { conn, peer, ends } = echoing(t, 'stream');
  write(peer, Buffer.from('ping'));
  shutdown(peer, 1);
  const chunks = [];
  const buf = Buffer.alloc(64);
  await waitUntil(
    () => {
      const n = read(peer, buf);
      if (n === WOULD_BLOCK) return false;
      if (n === 0) return true;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      return false;
    },
    5000,
    'the echo and EOF',
  );
  t.is(Buffer.concat(chunks).toString(), 'ping');
  await waitUntil(() => ends.length === 1, 5000, 'the connection to finish');
  t.deepEqual(ends, ['eof']);
  t.is(conn.state, 'closed');
});

test('seqpacket: each message goes back as one message', async (t) => {
  const { peer } = echoing(t, 'seqpacket');
  send(peer, Buffer.from('one'));
  send(peer, Buffer.from('two'));
  const got = [];
  const buf = Buffer.alloc(64);
  await waitUntil(
    () => {
      const n = recv(peer, buf);
      if (n !== WOULD_BLOCK) got.push(buf.subarray(0, n).toString());
      return got.length === 2;
    },
    5000,
    'two echoes',
  );
  t.deepEqual(got, ['one', 'two']);
});

test('a peer that does not read: the echo stops reading once ECHO_HIGH_WATER bytes wait, and goes on once it reads', async (t) => {
  const { conn, peer } = echoing(t, 'stream');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let sent = 0;
  let last = -1;
  await waitUntil(
    () => {
      for (let n; (n = write(peer, chunk)) !== WOULD_BLOCK; ) sent += n;
      const stalled = sent === last;
      last = sent;
      // The peer can write no more and the echo holds the high-water mark: it has stopped reading.
      return stalled && conn.queued >= ECHO_HIGH_WATER;
    },
    20_000,
    'the echo to stop reading',
  );
  t.true(conn.stats.bytesIn < sent, 'what the peer sent last waits unread in the kernel');
  t.true(conn.queued < ECHO_HIGH_WATER + 2 * 256 * 1024, 'it stopped reading soon after the high-water mark');
  let back = 0;
  const buf = Buffer.alloc(1 << 20);
  await waitUntil(
    () => {
      for (let n; (n = read(peer, buf)) !== WOULD_BLOCK && n > 0; ) back += n;
      return back === sent;
    },
    20_000,
    'everything back',
  );
  t.is(back, sent);
});

test('a peer that closed entirely while echoes wait: the send fails and the connection finishes', async (t) => {
  const { conn, peer, ends } = echoing(t, 'stream');
  write(peer, Buffer.from('into the void'));
  closeQuietly(peer);
  await waitUntil(() => ends.length === 1, 5000, 'the finish');
  t.deepEqual(ends, ['eof']);
  t.is(conn.state, 'closed');
});
