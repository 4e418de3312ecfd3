// Unit tests of tap's records (src/commands/tap/record.ts): the time stamp; records written after the relay's work, together;
// descriptors: describeFds, fdsText's escaping, and data and drop records in text, hex and JSON, written to a pipe.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { describeFds, fdsText, isoMicros, Recorder } from '../../../src/commands/tap/record.ts';
import { FdWriter } from '../../../src/io/writer.ts';
import { FdWatcher } from '../../../src/sys/poll.ts';
import { closeQuietly, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { tmpDir } from '../../helpers.mjs';

/** Returns a Recorder in format writing to a socketpair, and a function returning what it wrote so far. */
function recorder(t, format) {
  const [a, b] = socketpair('stream');
  const watcher = new FdWatcher(a);
  t.teardown(() => {
    watcher.close();
    closeQuietly(a);
    closeQuietly(b);
  });
  const rec = new Recorder(new FdWriter(watcher), format);
  const buf = Buffer.alloc(1 << 16);
  let got = '';
  return {
    rec,
    written: async () => {
      await new Promise((resolve) => rec.whenDrained(() => resolve(undefined))); // small records leave together, a moment later
      for (let n; (n = read(b, buf)) !== WOULD_BLOCK && n > 0; ) got += buf.subarray(0, n).toString('latin1');
      return got.replace(/^\S+Z /gm, 'T '); // times vary
    },
  };
}

test('describeFds: number, kind and target of open descriptors', async (t) => {
  const file = path.join(tmpDir(t), 'x');
  fs.writeFileSync(file, '');
  const fd = fs.openSync(file, 'r');
  t.teardown(() => fs.closeSync(fd));
  t.deepEqual(describeFds([fd]), [{ fd, kind: 'file', target: file }]);
});

test('fdsText: targets C-escaped, a comma as \\x2c so that the list splits at ", "', async (t) => {
  t.is(
    fdsText([
      { fd: 7, kind: 'file', target: '/tmp/a,b\nc' },
      { fd: 8, kind: 'pipe', target: 'pipe:[12]' },
    ]),
    '7 file /tmp/a\\x2cb\\nc, 8 pipe pipe:[12]',
  );
  t.is(fdsText([]), '');
});

test('data records with descriptors: text, hex and JSON; ctrunc; without descriptors as before', async (t) => {
  const fds = [
    { fd: 7, kind: 'file', target: '/etc/hostname' },
    { fd: 8, kind: 'pipe', target: 'pipe:[1234]' },
  ];
  const text = recorder(t, 'text');
  text.rec.data(1, 'c2s', Buffer.from('open'), fds);
  text.rec.data(1, 's2c', Buffer.alloc(0), [], true);
  text.rec.data(1, 's2c', Buffer.from('x\n'));
  t.is(
    await text.written(),
    'T #1 > 4 fds: 7 file /etc/hostname, 8 pipe pipe:[1234]: open\nT #1 < 0 fds: none (MSG_CTRUNC: descriptors lost): \nT #1 < 2: x\\n\n',
  );
  const hex = recorder(t, 'hex');
  hex.rec.data(2, 'c2s', Buffer.from('ab'), fds.slice(0, 1));
  t.is(await hex.written(), 'T #2 > 2 fds: 7 file /etc/hostname\n00000000: 6162                                     ab\n');
  const json = recorder(t, 'json');
  json.rec.data(3, 'c2s', Buffer.from('ab'), fds, true);
  json.rec.data(3, 'c2s', Buffer.from('cd'));
  const [one, two] = (await json.written())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(one.fds, fds);
  t.true(one.ctrunc);
  t.deepEqual(two.fds, []);
  t.false('ctrunc' in two);
});

test('drop events: the direction, the descriptors and why', async (t) => {
  const fds = [{ fd: 9, kind: 'socket', target: 'socket:[55]' }];
  const text = recorder(t, 'text');
  text.rec.event(4, 'drop', { dir: 's2c', fds, error: 'not delivered to the client: the connection is closed' });
  t.is(await text.written(), 'T #4 drop < fds: 9 socket socket:[55]: not delivered to the client: the connection is closed\n');
  const json = recorder(t, 'json');
  json.rec.event(4, 'drop', { dir: 'c2s', fds, error: 'why' });
  const rec = JSON.parse(await json.written());
  t.like(rec, { conn: 4, event: 'drop', dir: 'c2s', fds, error: 'why' });
});

test('isoMicros: ISO 8601 UTC with six digits of microseconds, the wall clock, never going back', async (t) => {
  let last = '';
  const before = Date.now();
  for (let i = 0; i < 2000; i++) {
    const now = isoMicros();
    t.regex(now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    t.true(now >= last, `${now} after ${last}`);
    last = now;
  }
  // the wall clock of the loop's time (within a second: another clock may be set apart), however long it took
  const after = Date.now();
  t.true(
    Date.parse(last) >= before - 1000 && Date.parse(last) <= after + 1000,
    `${last} outside ${new Date(before).toISOString()} .. ${new Date(after).toISOString()}`,
  );
});

/** A writer that keeps what reaches it: queued pieces, and each flush's or direct write's bytes as one write. */
function fakeWriter() {
  const w = {
    queue: [],
    writes: [],
    queued: 0,
    full: false,
    push(b) {
      w.queue.push(Buffer.from(b));
      w.queued += b.length;
    },
    writeNow(b) {
      w.flush();
      w.writes.push(Buffer.from(b).toString('latin1'));
    },
    flush() {
      if (w.queue.length) w.writes.push(Buffer.concat(w.queue).toString('latin1'));
      w.queue = [];
      w.queued = 0;
    },
    whenDrained(cb) {
      w.flush();
      cb();
    },
  };
  return /** @type {import('../../../src/io/writer.ts').ByteWriter & typeof w} */ (/** @type {unknown} */ (w));
}

test('small records wait for the ones that follow (one write for an exchange, after the relay has sent), large ones leave at once', async (t) => {
  const w = fakeWriter();
  const r = new Recorder(w, 'text');
  r.data(1, 'c2s', Buffer.from('ping\n'));
  r.data(1, 's2c', Buffer.from('pong\n'));
  t.is(w.writes.length, 0, 'nothing written during the event that relayed the data');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(w.writes.length, 1);
  t.regex(w.writes[0], /^\S+Z #1 > 5: ping\\n\n\S+Z #1 < 5: pong\\n\n$/);
  r.data(1, 'c2s', Buffer.alloc(100000, 0x61));
  t.true(w.writes.length > 1 && w.queue.length === 0, 'a bulk transfer is written at once (in pieces of 64 KiB)');
  const bulk = w.writes.slice(1).join('');
  t.regex(bulk, /^\S+Z #1 > 100000: a{100000}\n$/);
});

test('small data records, formatted a moment later, still come before the events that follow them, in every format', async (t) => {
  for (const format of /** @type {const} */ (['text', 'hex', 'json'])) {
    const w = fakeWriter();
    const r = new Recorder(w, format);
    r.data(1, 'c2s', Buffer.from('request'));
    r.event(1, 'shutdown', { dir: 'c2s' });
    r.data(1, 's2c', Buffer.from('reply'));
    await new Promise((resolve) => r.whenDrained(() => resolve(undefined)));
    const text = w.writes.join('');
    const order = ['request|72657175|cmVxdWVzdA', 'shutdown', 'reply|7265706c|cmVwbHk'].map((k) => text.search(new RegExp(k)));
    t.true(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])),
      `${format}: ${text}`,
    );
  }
});
