// Unit tests of src/io/connection.ts on real socketpairs: a connection of the socket's kind, which leaves the socket's options as its caller set them.
import test from 'ava';
import { openConnection } from '../../../src/io/connection.ts';
import { SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../../../src/sys/platform/linux.ts';
import { closeQuietly, write } from '../../../src/sys/fd.ts';
import { socketpair, getsockoptInt, setsockoptInt } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

function memorySink() {
  const got = [];
  const take = (b) => got.push(Buffer.from(b));
  return { text: () => Buffer.concat(got).toString(), writeNow: take, push: take, flush() {}, full: false, whenDrained: (cb) => cb() };
}

test('a stream socket gets a byte-stream connection, seqpacket and dgram a message connection', (t) => {
  for (const [type, kind] of /** @type {Array<[import('../../../src/sys/socket.ts').SocketType, string]>} */ ([
    ['stream', 'StreamConnection'],
    ['seqpacket', 'MessageConnection'],
    ['dgram', 'MessageConnection'],
  ])) {
    const [a, b] = socketpair(type);
    const conn = openConnection(a, { type, frame: 'raw', maxSize: 1024, diagnostics: quiet, sink: memorySink(), source: null }, () => {});
    t.is(conn.constructor.name, kind, type); // by name: tsx may load a module twice (ESM and CJS), each with its own class
    conn.close();
    closeQuietly(b);
  }
});

test('a stream connection leaves the socket buffers as its caller set them (no connection sets them by itself)', async (t) => {
  const [a, b] = socketpair('stream');
  t.teardown(() => closeQuietly(b));
  setsockoptInt(a, SOL_SOCKET, SO_SNDBUF, 8192);
  setsockoptInt(a, SOL_SOCKET, SO_RCVBUF, 8192);
  const before = [getsockoptInt(a, SOL_SOCKET, SO_SNDBUF), getsockoptInt(a, SOL_SOCKET, SO_RCVBUF)];
  const sink = memorySink();
  const conn = openConnection(a, { type: 'stream', frame: 'raw', maxSize: 1024, diagnostics: quiet, sink, source: null }, () => {});
  t.teardown(() => conn.close());
  conn.start();
  write(b, Buffer.from('data'));
  await waitUntil(() => sink.text() === 'data', 5000, 'the data');
  t.deepEqual([getsockoptInt(a, SOL_SOCKET, SO_SNDBUF), getsockoptInt(a, SOL_SOCKET, SO_RCVBUF)], before);
});
