// Unit tests of src/commands/tap/record.ts: the time stamp of records, and records written after the relay's work, together.
import test from 'ava';
import { isoMicros, Recorder } from '../../../src/commands/tap/record.ts';

test('isoMicros: ISO 8601 UTC with six digits of microseconds, the wall clock, never going back', (t) => {
  let last = '';
  for (let i = 0; i < 2000; i++) {
    const now = isoMicros();
    t.regex(now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    t.true(now >= last, `${now} after ${last}`);
    last = now;
  }
  t.true(Math.abs(Date.parse(last) - Date.now()) < 1000);
});

/** A writer that keeps what reaches it: queued pieces, and each flush's or direct write's bytes as one write. */
function fakeWriter() {
  const w = {
    queue: [], writes: [], queued: 0, full: false,
    push(b) { w.queue.push(Buffer.from(b)); w.queued += b.length; },
    writeNow(b) { w.flush(); w.writes.push(Buffer.from(b).toString('latin1')); },
    flush() { if (w.queue.length) w.writes.push(Buffer.concat(w.queue).toString('latin1')); w.queue = []; w.queued = 0; },
    whenDrained(cb) { w.flush(); cb(); },
  };
  return w;
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
