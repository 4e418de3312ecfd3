// Unit tests of src/io/pipe.ts with src/io/connection.ts on real socketpairs: descriptors (SCM_RIGHTS) travel with their
// unit from one connection to the other, stream and seqpacket; those that cannot be passed on are reported and closed.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openConnection } from '../../../src/io/connection.ts';
import { Pipe } from '../../../src/io/pipe.ts';
import { receiveMessage, sendWithDescriptors } from '../../../src/sys/msg.ts';
import { closeQuietly, read, write, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { tmpDir, waitUntil, fdsPointingAt } from '../../helpers.mjs';

const quiet = { info() {}, warn() {} };

/** Returns the path of a new file holding text. */
function markedFile(t, text) {
  const file = path.join(tmpDir(t), 'data');
  fs.writeFileSync(file, text);
  return file;
}

/**
 * Relays x (the client's end) to y (the server's end) through two connections and two pipes, as tap does, with
 * descriptors on. Returns the ends, the connections, what each pipe saw, and the drops reported.
 */
function relayPair(t, type) {
  const [x, a] = socketpair(type);
  const [b, y] = socketpair(type);
  const seen = [];
  const drops = [];
  const c2s = new Pipe({ onData: (u, anc) => seen.push({ dir: 'c2s', text: u.toString(), fds: anc ? [...anc.fds] : [] }) });
  const s2c = new Pipe({ onData: (u, anc) => seen.push({ dir: 's2c', text: u.toString(), fds: anc ? [...anc.fds] : [] }) });
  const base = { type, frame: /** @type {const} */ ('raw'), maxSize: 1 << 16, diagnostics: quiet, descriptors: true };
  const dropped = (side) => (fds, reason, outgoing) =>
    drops.push({ side, count: fds.length, reason, outgoing, open: fds.every((fd) => fs.existsSync(`/proc/self/fd/${fd}`)) });
  const client = openConnection(a, { ...base, sink: c2s.sink, source: s2c.source, onDescriptorsDropped: dropped('client') }, () => {});
  const server = openConnection(b, { ...base, sink: s2c.sink, source: c2s.source, onDescriptorsDropped: dropped('server') }, () => {});
  c2s.attach(server);
  s2c.attach(client);
  client.start();
  server.start();
  t.teardown(() => {
    client.close();
    server.close();
    closeQuietly(x);
    closeQuietly(y);
  });
  return { x, y, client, server, seen, drops };
}

/**
 * Resolves with the first message on fd that has data or descriptors.
 * @returns {Promise<import('../../../src/sys/msg.ts').ReceivedMessage>}
 */
async function nextMessage(fd) {
  let m;
  await waitUntil(() => (m = receiveMessage(fd, 1024, 16)) !== WOULD_BLOCK, 5000, 'a message');
  return m;
}

for (const type of ['stream', 'seqpacket']) {
  test(`${type}: a descriptor passed by one side reaches the other with its bytes, both ways; the pipe sees it; none is left open in between`, async (t) => {
    const file = markedFile(t, 'the file');
    const f = fs.openSync(file, 'r');
    t.teardown(() => closeQuietly(f));
    const { x, y, seen, drops } = relayPair(t, type);
    t.is(sendWithDescriptors(x, Buffer.from('req'), [f]), 3);
    const m = await nextMessage(y);
    t.is(m.data.toString(), 'req');
    t.is(m.fds.length, 1);
    t.is(fs.readFileSync(`/proc/self/fd/${m.fds[0]}`, 'utf8'), 'the file');
    t.is(seen.length, 1);
    t.like(seen[0], { dir: 'c2s', text: 'req' });
    t.is(seen[0].fds.length, 1);
    await waitUntil(() => fdsPointingAt(file) === 2, 5000, 'the relay to close its copy'); // f and the one received
    closeQuietly(m.fds[0]);
    // the other way
    t.is(sendWithDescriptors(y, Buffer.from('rep'), [f, f]), 3);
    const r = await nextMessage(x);
    t.is(r.data.toString(), 'rep');
    t.is(r.fds.length, 2);
    for (const fd of r.fds) closeQuietly(fd);
    await waitUntil(() => fdsPointingAt(file) === 1, 5000, 'no copy left');
    t.deepEqual(drops, []);
  });
}

test('seqpacket: a message of 0 bytes with a descriptor passes as one', async (t) => {
  const file = markedFile(t, '');
  const f = fs.openSync(file, 'r');
  t.teardown(() => closeQuietly(f));
  const { x, y, seen } = relayPair(t, 'seqpacket');
  t.is(sendWithDescriptors(x, Buffer.alloc(0), [f]), 0);
  const m = await nextMessage(y);
  t.is(m.length, 0);
  t.is(m.fds.length, 1);
  t.is(fs.readlinkSync(`/proc/self/fd/${m.fds[0]}`), file);
  closeQuietly(m.fds[0]);
  t.like(seen[0], { dir: 'c2s', text: '' });
  t.is(seen[0].fds.length, 1);
});

test('the other side closed: the descriptors are reported (still open) as not delivered, then closed', async (t) => {
  const file = markedFile(t, '');
  const f = fs.openSync(file, 'r');
  t.teardown(() => closeQuietly(f));
  const { x, server, drops } = relayPair(t, 'stream');
  server.close();
  sendWithDescriptors(x, Buffer.from('late'), [f]);
  await waitUntil(() => drops.length === 1, 5000, 'a drop');
  t.deepEqual(drops[0], { side: 'server', count: 1, reason: 'the connection is closed', outgoing: true, open: true });
  t.is(fdsPointingAt(file), 1);
});

test('units still queued when the connection closes: their descriptors are reported and closed', (t) => {
  const file = markedFile(t, '');
  const [b, y] = socketpair('stream');
  t.teardown(() => closeQuietly(y));
  const drops = [];
  const conn = openConnection(
    b,
    {
      type: 'stream',
      frame: 'raw',
      maxSize: 1024,
      diagnostics: quiet,
      sink: { writeNow() {}, push() {}, flush() {}, full: false, whenDrained: (cb) => cb() },
      source: null,
      descriptors: true,
      onDescriptorsDropped: (fds, reason, outgoing) => drops.push({ count: fds.length, reason, outgoing }),
    },
    () => {},
  );
  // y never reads: fill b's queue to the last byte
  const filler = Buffer.alloc(1 << 16);
  while (write(b, filler) !== WOULD_BLOCK);
  while (write(b, Buffer.alloc(1)) !== WOULD_BLOCK);
  conn.accept(Buffer.from('x'), [fs.openSync(file, 'r'), fs.openSync(file, 'r')]);
  t.is(fdsPointingAt(file), 2, 'held while queued');
  conn.close();
  t.deepEqual(drops, [{ count: 2, reason: 'the connection is closed', outgoing: true }]);
  t.is(fdsPointingAt(file), 0);
});

test('a sink that cannot take descriptors gets the bytes; the descriptors are reported as received and closed', async (t) => {
  const file = markedFile(t, '');
  const f = fs.openSync(file, 'r');
  t.teardown(() => closeQuietly(f));
  const [x, a] = socketpair('stream');
  t.teardown(() => closeQuietly(x));
  const got = [];
  const take = (bytes) => got.push(bytes.toString());
  const drops = [];
  const conn = openConnection(
    a,
    {
      type: 'stream',
      frame: 'raw',
      maxSize: 1024,
      diagnostics: quiet,
      source: null,
      descriptors: true,
      sink: { writeNow: take, push: take, flush() {}, full: false, whenDrained: (cb) => cb() },
      onDescriptorsDropped: (fds, reason, outgoing) => drops.push({ count: fds.length, reason, outgoing }),
    },
    () => {},
  );
  t.teardown(() => conn.close());
  conn.start();
  sendWithDescriptors(x, Buffer.from('data'), [f]);
  await waitUntil(() => got.length === 1, 5000, 'the bytes');
  t.deepEqual(got, ['data']);
  t.deepEqual(drops, [{ count: 1, reason: 'this connection does not pass descriptors on', outgoing: false }]);
  t.is(fdsPointingAt(file), 1);
});

test('stream: 4 MiB relayed to a reader that stops for a while arrive whole and in order: what the sender could not take at once was copied before the receive buffer was read into again', async (t) => {
  const { x, y } = relayPair(t, 'stream');
  const data = randomBytes(4 << 20);
  let sent = 0;
  const writeSome = () => {
    while (sent < data.length) {
      const n = write(x, data.subarray(sent, sent + 256 * 1024));
      if (n === WOULD_BLOCK) break;
      sent += n;
    }
  };
  // Nobody reads y: the relay's sends toward it are cut short, then refused, while it still reads x.
  let last = -1;
  await waitUntil(
    () => {
      writeSome();
      const stalled = sent === last;
      last = sent;
      return stalled;
    },
    10_000,
    'the relay to stall',
  );
  t.true(sent < data.length, 'the relay stalled before everything was sent');
  const got = [];
  let received = 0;
  const buf = Buffer.alloc(1 << 20);
  await waitUntil(
    () => {
      writeSome();
      for (let n; (n = read(y, buf)) !== WOULD_BLOCK && n > 0; ) {
        got.push(Buffer.from(buf.subarray(0, n)));
        received += n;
      }
      return received === data.length;
    },
    10_000,
    'all of the data at the far end',
  );
  t.true(Buffer.concat(got).equals(data));
});
