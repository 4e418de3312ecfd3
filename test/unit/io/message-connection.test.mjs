// Unit tests of src/io/message-connection.ts on real socketpairs: one message per receive, framed for the sink; oversize ones dropped; seqpacket's EOF versus an empty message; a datagram peer without EOF, and gone.
import test from 'ava';
import { MessageConnection } from '../../../src/io/message-connection.ts';
import { closeQuietly, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, recv, send, shutdown } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

function memorySink() {
  const got = [];
  const take = (b) => got.push(b.toString());
  return { got, writeNow: take, push: take, flush() {}, full: false, whenDrained: (cb) => cb() };
}

/** A source the test drives: `outlet` is the connection once started. */
function testSource() {
  return {
    outlet: null,
    stopped: false,
    addOutlet(o) {
      this.outlet = o;
    },
    removeOutlet() {},
    kick() {},
    release() {},
    stop() {
      this.stopped = true;
    },
  };
}

function messages(t, type, opts = {}) {
  const [a, b] = socketpair(type);
  t.teardown(() => closeQuietly(b));
  const warnings = [];
  const ends = [];
  const sink = memorySink();
  const source = testSource();
  const conn = new MessageConnection(
    a,
    { type, frame: 'raw', maxSize: 16, diagnostics: { info() {}, warn: (e, text) => warnings.push(text) }, sink, source, ...opts },
    (c, reason) => ends.push(reason),
  );
  t.teardown(() => conn.close());
  conn.start();
  return { conn, peer: b, sink, source, warnings, ends };
}

test('each message is one unit for the sink, framed as asked (line: a newline after each)', async (t) => {
  const { sink, peer, conn } = messages(t, 'seqpacket', { frame: 'line' });
  send(peer, Buffer.from('one'));
  send(peer, Buffer.from('two'));
  await waitUntil(() => sink.got.length === 4, 5000, 'two framed messages');
  t.deepEqual(sink.got, ['one', '\n', 'two', '\n']);
  t.is(conn.stats.messagesIn, 2);
});

test('a message larger than maxSize is dropped, counted and reported; the next one goes on', async (t) => {
  const { sink, peer, conn, warnings } = messages(t, 'seqpacket');
  send(peer, Buffer.alloc(17, 'x'));
  send(peer, Buffer.from('fits'));
  await waitUntil(() => sink.got.length === 1, 5000, 'the next message');
  t.deepEqual(sink.got, ['fits']);
  t.is(conn.stats.oversize, 1);
  t.deepEqual(warnings, ['received message of 17 bytes exceeds --max-size 16: dropped']);
});

test("seqpacket: an empty message is a message; the peer's shutdown is the EOF (read-ended)", async (t) => {
  const { sink, peer, conn } = messages(t, 'seqpacket');
  send(peer, Buffer.alloc(0));
  send(peer, Buffer.from('after'));
  await waitUntil(() => sink.got.length === 2, 5000, 'both messages');
  t.deepEqual(sink.got, ['', 'after']);
  t.is(conn.state, 'open');
  shutdown(peer, 1);
  await waitUntil(() => conn.state !== 'open', 5000, 'the EOF');
  t.is(conn.state, 'read-ended');
});

test("seqpacket: the source's end is passed on as a shutdown (write-shut; the peer reads EOF)", (t) => {
  const { source, peer, conn } = messages(t, 'seqpacket');
  source.outlet.end();
  t.is(conn.state, 'write-shut');
  t.is(recv(peer, Buffer.alloc(16)), 0);
});

test("dgram: the source's end only stops the write side (no shutdown), and the peer is still read", async (t) => {
  const { source, peer, conn, sink } = messages(t, 'dgram');
  source.outlet.accept(Buffer.from('last'));
  source.outlet.end();
  t.is(conn.state, 'write-shut');
  const buf = Buffer.alloc(16);
  t.is(recv(peer, buf), 4);
  t.is(recv(peer, buf), WOULD_BLOCK, 'no EOF: a datagram socket has none');
  send(peer, Buffer.from('reply'));
  await waitUntil(() => sink.got.length === 1, 5000, 'the reply');
  t.deepEqual(sink.got, ['reply']);
});

test('dgram: a peer gone makes the send fail (no EOF comes): the source stops and the connection finishes at once', async (t) => {
  const { source, peer, conn, sink, ends } = messages(t, 'dgram');
  send(peer, Buffer.from('before'));
  await waitUntil(() => sink.got.length === 1, 5000, 'the first datagram');
  closeQuietly(peer);
  source.outlet.accept(Buffer.from('too late'));
  t.is(/** @type {Error & { code?: string }} */ (conn.sendError)?.code, 'ECONNREFUSED');
  t.deepEqual(sink.got, ['before']);
  t.true(source.stopped);
  t.deepEqual(ends, ['eof']);
  t.is(conn.state, 'closed');
});
