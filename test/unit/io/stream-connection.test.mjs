// Unit tests of src/io/stream-connection.ts on real socketpairs: where a byte stream is read (the caller's receive area, or the shared one), descriptors with their bytes, EOF.
import test from 'ava';
import fs from 'node:fs';
import { StreamConnection } from '../../../src/io/stream-connection.ts';
import { ReceiveArea, STREAM_CHUNK } from '../../../src/io/receive.ts';
import { sendWithDescriptors } from '../../../src/sys/msg.ts';
import { closeQuietly, write } from '../../../src/sys/fd.ts';
import { socketpair, shutdown } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

/** A sink that records each piece it is handed: its text and the memory it is a view of. */
function viewSink() {
  const pieces = [];
  const take = (b) => pieces.push({ text: b.toString(), memory: b.buffer, offset: b.byteOffset, length: b.length });
  return {
    pieces,
    text: () => pieces.map((p) => p.text).join(''),
    writeNow: take,
    push: take,
    flush() {},
    full: false,
    whenDrained: (cb) => cb(),
    takeAncillary: null,
  };
}

function stream(t, opts) {
  const [a, b] = socketpair('stream');
  t.teardown(() => closeQuietly(b));
  const conn = new StreamConnection(
    a,
    { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, source: null, ...opts },
    () => {},
  );
  t.teardown(() => conn.close());
  conn.start();
  return { conn, peer: b };
}

test('reads into the receive area it is given, at most its length at a time', async (t) => {
  const area = new ReceiveArea(Buffer.alloc(4096));
  const sink = viewSink();
  const { peer } = stream(t, { sink, receiveArea: area });
  const data = Buffer.alloc(10_000, 'z');
  write(peer, data);
  await waitUntil(() => sink.text().length === data.length, 5000, 'the data');
  for (const p of sink.pieces) {
    t.is(p.memory, area.buffer.buffer);
    t.is(p.offset, area.buffer.byteOffset);
    t.true(p.length <= 4096);
  }
});

test('without an area of its own, every stream connection reads into the one shared area of STREAM_CHUNK bytes', async (t) => {
  const sinks = [viewSink(), viewSink()];
  const ends = sinks.map((sink) => stream(t, { sink }).peer);
  for (const [i, peer] of ends.entries()) write(peer, Buffer.from(`to ${i}`));
  await waitUntil(() => sinks.every((s) => s.pieces.length === 1), 5000, 'both reads');
  t.is(sinks[0].pieces[0].memory, sinks[1].pieces[0].memory);
  t.is(sinks[0].pieces[0].memory.byteLength, STREAM_CHUNK);
});

test("with descriptors: a descriptor reaches the sink's takeAncillary with the bytes it came with", async (t) => {
  const got = [];
  const sink = { ...viewSink(), takeAncillary: (bytes, anc) => got.push({ text: bytes.toString(), fds: anc.fds.length }) };
  const { peer } = stream(t, { sink, descriptors: true });
  const f = fs.openSync('/dev/null', 'r');
  t.teardown(() => closeQuietly(f));
  sendWithDescriptors(peer, Buffer.from('here'), [f]);
  await waitUntil(() => got.length === 1, 5000, 'the unit');
  t.deepEqual(got, [{ text: 'here', fds: 1 }]);
});

test("a read of 0 bytes is the peer's EOF: read-ended", async (t) => {
  const source = { addOutlet() {}, removeOutlet() {}, kick() {}, release() {}, stop() {} }; // never ends
  const { conn, peer } = stream(t, { sink: viewSink(), source });
  shutdown(peer, 1);
  await waitUntil(() => conn.state !== 'open', 5000, 'the EOF');
  t.is(conn.state, 'read-ended');
});
