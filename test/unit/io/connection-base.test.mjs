// Unit tests of src/io/connection-base.ts on real socketpairs: a connection's state from open to closed (each half-close, finishing after the sink drains, closing), and a fault in one connection's callback ending that connection only.
import test from 'ava';
import { openConnection } from '../../../src/io/connection.ts';
import { closeQuietly, write, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, shutdown } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

/**
 * A sink that keeps what it gets; `failOn` makes writeNow throw when the bytes contain it; `held` keeps whenDrained's callbacks until drain().
 * @param {{ failOn?: string; held?: boolean }} [options]
 */
function memorySink({ failOn, held = false } = {}) {
  const got = [];
  const waiting = [];
  const take = (b) => {
    if (failOn && b.toString().includes(failOn)) throw new Error('sink fault');
    got.push(Buffer.from(b));
  };
  return {
    got,
    text: () => Buffer.concat(got).toString(),
    writeNow: take,
    push: take,
    flush() {},
    full: false,
    ended: false,
    whenDrained: (cb) => (held ? waiting.push(cb) : cb()),
    end() {
      this.ended = true;
    },
    drain() {
      held = false;
      for (const cb of waiting.splice(0)) cb();
    },
  };
}

/** A source the test drives: `outlet` is the connection once started. */
function testSource() {
  return {
    outlet: null,
    released: [],
    addOutlet(o) {
      this.outlet = o;
    },
    removeOutlet() {},
    kick() {},
    release(u) {
      this.released.push(u);
    },
    stop() {},
  };
}

/** Reads fd until EOF or nothing is there; returns { text, eof }. */
function drainEnd(fd) {
  const buf = Buffer.alloc(1 << 16);
  const parts = [];
  for (;;) {
    const n = read(fd, buf);
    if (n === WOULD_BLOCK) return { text: Buffer.concat(parts).toString(), eof: false };
    if (n === 0) return { text: Buffer.concat(parts).toString(), eof: true };
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
}

/**
 * @param {import('ava').ExecutionContext} t
 * @param {import('../../../src/sys/socket.ts').SocketType} type
 * @param {Record<string, any>} [extra]
 */
function open(t, type, extra = {}) {
  const [a, b] = socketpair(type);
  t.teardown(() => closeQuietly(b));
  const sink = extra.sink ?? memorySink();
  const source = 'source' in extra ? extra.source : testSource();
  const ends = [];
  const conn = openConnection(a, { type, frame: 'raw', maxSize: 1024, diagnostics: quiet, ...extra, sink, source }, (c, reason, err) =>
    ends.push({ reason, err }),
  );
  t.teardown(() => conn.close());
  return { conn, peer: b, sink, source, ends };
}

test("the peer's EOF: open -> read-ended (the sink is told), then the source's end sends the rest, shuts down and finishes: draining -> closed", async (t) => {
  const { conn, peer, sink, source, ends } = open(t, 'stream');
  conn.start();
  t.is(conn.state, 'open');
  write(peer, Buffer.from('hello'));
  shutdown(peer, 1);
  await waitUntil(() => conn.state === 'read-ended', 5000, 'read-ended');
  t.true(sink.ended);
  t.is(sink.text(), 'hello');
  source.outlet.accept(Buffer.from('reply'));
  t.is(ends.length, 0, "still sending after the peer's EOF");
  source.outlet.end();
  t.is(conn.state, 'closed');
  t.deepEqual(
    ends.map((e) => e.reason),
    ['eof'],
  );
  t.deepEqual(drainEnd(peer), { text: 'reply', eof: true });
});

test("the source's end: open -> write-shut (the peer reads EOF) while the peer is still read; its EOF then finishes", async (t) => {
  const { conn, peer, sink, source, ends } = open(t, 'stream');
  conn.start();
  source.outlet.accept(Buffer.from('last'));
  source.outlet.end();
  t.is(conn.state, 'write-shut');
  t.deepEqual(drainEnd(peer), { text: 'last', eof: true });
  write(peer, Buffer.from('still talking'));
  await waitUntil(() => sink.text() === 'still talking', 5000, 'the peer read after our shutdown');
  t.is(ends.length, 0);
  shutdown(peer, 1);
  await waitUntil(() => ends.length === 1, 5000, 'the finish');
  t.is(conn.state, 'closed');
  t.is(ends[0].reason, 'eof');
});

test('no source: the write side ends at start', (t) => {
  const { conn, peer } = open(t, 'stream', { source: null });
  conn.start();
  t.is(conn.state, 'write-shut');
  t.deepEqual(drainEnd(peer), { text: '', eof: true });
});

test("noShutdown: the source's end marks the write side over, but the peer sees no EOF", (t) => {
  const { conn, peer, source } = open(t, 'stream', { noShutdown: true });
  conn.start();
  source.outlet.accept(Buffer.from('x'));
  source.outlet.end();
  t.is(conn.state, 'write-shut');
  t.deepEqual(drainEnd(peer), { text: 'x', eof: false });
});

test('finishing closes the socket at once but calls back only once the sink has drained: draining until then', async (t) => {
  const sink = memorySink({ held: true });
  const { conn, peer, ends } = open(t, 'stream', { sink });
  conn.start();
  conn.finishNow();
  t.is(conn.state, 'draining');
  t.true(conn.closed);
  t.deepEqual(drainEnd(peer), { text: '', eof: true }, 'the socket is closed');
  t.is(ends.length, 0);
  sink.drain();
  t.is(conn.state, 'closed');
  t.deepEqual(
    ends.map((e) => e.reason),
    ['eof'],
  );
  conn.finishNow();
  t.is(ends.length, 1, 'finishes once');
});

test('close: closed at once, no callback; units accepted after it are dropped and released', (t) => {
  const { conn, source, ends } = open(t, 'stream');
  conn.start();
  conn.close();
  t.is(conn.state, 'closed');
  const unit = Buffer.from('late');
  conn.accept(unit);
  t.is(conn.stats.dropped, 1);
  t.deepEqual(source.released, [unit]);
  t.is(ends.length, 0);
});

test('a peer that closed entirely while our source goes on: read-ended, then finished (nothing can reach it)', async (t) => {
  const { conn, peer, ends } = open(t, 'stream');
  conn.start();
  closeQuietly(peer);
  await waitUntil(() => ends.length === 1, 5000, 'the finish');
  t.is(conn.state, 'closed');
  t.is(ends[0].reason, 'eof');
});

test("a peer gone while units wait: the send fails, the units are dropped and counted, the peer's EOF finishes", async (t) => {
  const [a, b] = socketpair('stream');
  const source = testSource();
  const ends = [];
  const conn = openConnection(
    a,
    { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: memorySink(), source },
    (c, reason) => ends.push(reason),
  );
  t.teardown(() => conn.close());
  closeQuietly(b);
  conn.start();
  source.outlet.accept(Buffer.from('into the void'));
  t.truthy(conn.sendError);
  t.is(/** @type {Error & { code?: string }} */ (conn.sendError).code, 'EPIPE');
  t.is(conn.stats.dropped, 1);
  await waitUntil(() => ends.length === 1, 5000, 'the finish');
  t.deepEqual(ends, ['eof']);
});

test("an exception in one connection's read callback finishes that connection with error; another connection goes on", async (t) => {
  const [a1, b1] = socketpair('stream');
  const [a2, b2] = socketpair('stream');
  t.teardown(() => {
    closeQuietly(b1);
    closeQuietly(b2);
  });
  const ends = [];
  const bad = openConnection(
    a1,
    { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: memorySink({ failOn: 'boom' }), source: null },
    (c, reason, err) => ends.push({ which: 'bad', reason, message: err?.message }),
  );
  const goodSink = memorySink();
  const good = openConnection(
    a2,
    { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: goodSink, source: null },
    (c, reason) => ends.push({ which: 'good', reason }),
  );
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
