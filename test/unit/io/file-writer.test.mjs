// Unit tests of src/io/file-writer.ts: FileWriter writes a regular file in order, on the event loop for small flushes and by its
// worker thread once bulk comes, through the ring's wrap and beyond it; drains (whenDrained, drainSync) and fails with the errno.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileWriter } from '../../../src/io/file-writer.ts';
import { tmpDir } from '../../helpers.mjs';

/** Returns a FileWriter on a new file, and the file's path; both closed by the teardown. */
function fileWriter(t) {
  const file = path.join(tmpDir(t), 'out');
  const fd = fs.openSync(file, 'w');
  const writer = new FileWriter(fd);
  t.teardown(() => {
    writer.drainSync(5000);
    writer.stop();
    fs.closeSync(fd);
  });
  return { writer, file };
}

const drained = (writer) => new Promise((resolve) => writer.whenDrained(resolve));

test('small flushes are written at once on the event loop, in order, and the caller may reuse its buffer', (t) => {
  const { writer, file } = fileWriter(t);
  const piece = Buffer.from('header ');
  writer.push(piece);
  piece.write('XXXXXX '); // reused at once: the writer holds a copy
  writer.push(Buffer.from('record\n'));
  writer.flush();
  t.is(writer.queued, 0);
  t.is(fs.readFileSync(file, 'utf8'), 'header record\n', 'written before flush returned');
});

test('bulk (more than the ring holds, wrapping around it) goes through the worker in order; whenDrained once all is in the file', async (t) => {
  const { writer, file } = fileWriter(t);
  writer.writeNow(Buffer.from('first\n')); // on the event loop
  const pieces = [];
  for (let i = 0; i < 300; i++) pieces.push(randomBytes(1 + ((i * 7919) % (96 * 1024))));
  const scratch = Buffer.alloc(96 * 1024);
  for (const p of pieces) {
    p.copy(scratch); // handed over from a buffer that is overwritten right after, as tap's escaper does
    writer.writeNow(scratch.subarray(0, p.length));
    scratch.fill(0);
  }
  const total = pieces.reduce((n, p) => n + p.length, 0);
  t.true(total > 8 << 20, 'more than the ring');
  await drained(writer);
  t.is(writer.queued, 0);
  t.true(fs.readFileSync(file).equals(Buffer.concat([Buffer.from('first\n'), ...pieces])));
});

test('full while more than half the ring waits; drainSync writes everything before it returns', (t) => {
  const { writer, file } = fileWriter(t);
  const data = randomBytes(6 << 20);
  writer.push(data.subarray(0, 3 << 20));
  t.true(writer.full);
  writer.push(data.subarray(3 << 20)); // beyond the ring: spilled, then refilled as the worker goes
  writer.flush();
  t.true(writer.drainSync(10_000));
  t.is(writer.queued, 0);
  t.false(writer.full);
  t.true(fs.readFileSync(file).equals(data));
});

for (const [what, size] of /** @type {Array<[string, number]>} */ ([
  ['a small write on the event loop', 10],
  ['a bulk write by the worker', 1 << 20],
])) {
  test(`a failed write (${what}: /dev/full) calls onError once with the errno, drops what is queued and drains`, async (t) => {
    const fd = fs.openSync('/dev/full', 'w');
    const writer = new FileWriter(fd);
    t.teardown(() => {
      writer.stop();
      fs.closeSync(fd);
    });
    const errors = [];
    const failed = new Promise((resolve) => {
      writer.onError = (err) => {
        errors.push(err);
        resolve();
      };
    });
    writer.writeNow(Buffer.alloc(size, 1));
    await failed;
    await drained(writer);
    t.is(errors.length, 1);
    t.is(errors[0].code, 'ENOSPC');
    t.regex(errors[0].message, /^write: No space left on device/);
    t.is(writer.queued, 0);
    t.false(writer.full);
    writer.writeNow(Buffer.alloc(size, 1)); // ignored
    t.false(writer.drainSync(100));
    t.is(errors.length, 1);
  });
}
