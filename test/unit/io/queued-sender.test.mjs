// Unit tests of src/io/queued-sender.ts on real socketpairs: units leave in order, a byte stream's in pieces and a message whole, refused messages are dropped and the rest goes on, waiters and released units.
import test from 'ava';
import fs from 'node:fs';
import { QueuedSender } from '../../../src/io/queued-sender.ts';
import { newStats } from '../../../src/io/stats.ts';
import { closeQuietly, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, recv } from '../../../src/sys/socket.ts';
import { receiveMessage } from '../../../src/sys/msg.ts';

function sender(t, type, kind) {
  const [a, b] = socketpair(type);
  t.teardown(() => {
    closeQuietly(a);
    closeQuietly(b);
  });
  const released = [];
  const drops = [];
  const warnings = [];
  const stats = newStats();
  const q = new QueuedSender({
    fd: a,
    kind,
    stats,
    diagnostics: { info() {}, warn: (event, text) => warnings.push({ event, text }) },
    release: (u) => released.push(u),
    dropDescriptors: (fds, reason) => {
      drops.push({ count: fds.length, reason });
      for (const fd of fds) closeQuietly(fd);
    },
  });
  return { q, peer: b, released, drops, warnings, stats };
}

function readAll(fd) {
  const buf = Buffer.alloc(1 << 20);
  const parts = [];
  for (let n; (n = read(fd, buf)) !== WOULD_BLOCK && n > 0; ) parts.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(parts);
}

test('bytes: units larger than the socket takes leave in pieces, in order; flush says when the socket is full, and each unit is released once sent', (t) => {
  const { q, peer, released, stats } = sender(t, 'stream', 'bytes');
  const units = [Buffer.alloc(3 << 20, 'a'), Buffer.from('tail')];
  for (const u of units) q.push(u);
  t.is(q.queued, (3 << 20) + 4);
  t.false(q.flush(), 'the socket is full before 3 MiB');
  t.true(q.busy);
  const got = [];
  while (!q.flush()) got.push(readAll(peer));
  got.push(readAll(peer));
  t.true(Buffer.concat(got).equals(Buffer.concat(units)));
  t.deepEqual(released, units);
  t.is(q.queued, 0);
  t.is(stats.bytesOut, (3 << 20) + 4);
  t.is(stats.messagesOut, 0);
});

test('messages: each unit is one message, sent whole', (t) => {
  const { q, peer, stats } = sender(t, 'seqpacket', 'messages');
  q.push(Buffer.from('one'));
  q.push(Buffer.from('two'));
  t.true(q.flush());
  const buf = Buffer.alloc(64);
  const got = [];
  for (let n; (n = recv(peer, buf)) !== WOULD_BLOCK; ) got.push(buf.subarray(0, n).toString());
  t.deepEqual(got, ['one', 'two']);
  t.is(stats.messagesOut, 2);
});

test('messages: one the kernel refuses (EMSGSIZE) is dropped, counted and reported; the next is sent', (t) => {
  const { q, peer, stats, warnings, released } = sender(t, 'dgram', 'messages');
  const huge = Buffer.alloc(1 << 20);
  q.push(huge);
  q.push(Buffer.from('small'));
  t.true(q.flush());
  t.is(stats.refused, 1);
  t.is(warnings.length, 1);
  t.regex(warnings[0].text, /^message of 1048576 bytes not sent: /);
  t.is(released[0], huge);
  const buf = Buffer.alloc(64);
  const n = /** @type {number} */ (recv(peer, buf));
  t.is(buf.subarray(0, n).toString(), 'small');
});

test('a failed send throws and keeps the unit queued; dropAll releases the units, reports and closes their descriptors, and returns how many', (t) => {
  const { q, peer, drops, released } = sender(t, 'stream', 'bytes');
  closeQuietly(peer);
  const f = fs.openSync('/dev/null', 'r');
  const unit = Buffer.from('x');
  q.push(unit, [f]);
  t.throws(() => q.flush(), { code: 'EPIPE' });
  t.true(q.busy);
  t.is(q.dropAll('the peer is gone'), 1);
  t.deepEqual(drops, [{ count: 1, reason: 'the peer is gone' }]);
  t.false(fs.existsSync(`/proc/self/fd/${f}`));
  t.deepEqual(released, [unit]);
  t.false(q.busy);
});

test('descriptors go with their unit, and the sender closes its copies once sent', (t) => {
  const { q, peer } = sender(t, 'stream', 'bytes');
  const f = fs.openSync('/dev/null', 'r');
  q.push(Buffer.from('with fd'), [f]);
  t.true(q.flush());
  t.false(fs.existsSync(`/proc/self/fd/${f}`), 'closed once sent');
  const m = /** @type {import('../../../src/sys/msg.ts').ReceivedMessage} */ (receiveMessage(peer, 64, 4));
  t.is(m.data.toString(), 'with fd');
  t.is(m.fds.length, 1);
  for (const fd of m.fds) closeQuietly(fd);
});

test('whenSent: at once when empty, else once callWaiters runs after the queue emptied', (t) => {
  const { q, peer } = sender(t, 'stream', 'bytes');
  const calls = [];
  q.whenSent(() => calls.push('empty'));
  q.push(Buffer.alloc(3 << 20));
  t.false(q.flush());
  q.whenSent(() => calls.push('sent'));
  t.deepEqual(calls, ['empty']);
  while (!q.flush()) readAll(peer);
  q.callWaiters();
  t.deepEqual(calls, ['empty', 'sent']);
});

test('keepCopyOf: a view still first in the queue is replaced by a copy of its unsent rest (its owner reuses the buffer)', (t) => {
  const { q, peer } = sender(t, 'stream', 'bytes');
  const view = Buffer.alloc(3 << 20, 'v');
  q.push(view);
  t.false(q.flush());
  const sentSoFar = (3 << 20) - q.queued;
  q.keepCopyOf(view);
  view.fill('X'); // the owner reads into it again
  const got = [];
  while (!q.flush()) got.push(readAll(peer));
  got.push(readAll(peer));
  const all = Buffer.concat(got);
  t.is(all.length, 3 << 20);
  t.true(all.subarray(sentSoFar).every((c) => c === 'v'.charCodeAt(0)));
});
