// Unit tests of src/io/stdio.ts, each in a Node process of its own whose stdin, stdout and stderr are pipes of the test:
// stdio's flags recorded and put back, stdout's one queued writer (printOut, a failing reader), and StdinReader cutting
// stdin into chunks or framed messages for outlets, with backpressure, skipped messages and a malformed len32 frame.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { len32, show, startProcess, tmpDir } from '../../helpers.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** @param {string} rel a path under src/ */
const src = (rel) => JSON.stringify(fileURLToPath(new URL(`../../../src/${rel}`, import.meta.url)));

/** The script's prelude: stdio.ts and what the checks use; `report(obj)` writes obj as JSON on fd 2 with one write(2). */
const PRELUDE = `
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { recordStdioFlags, restoreStdioFlags, stdoutWriter, printOut, onStdoutFailure, StdinReader } from ${src('io/stdio.ts')};
import { fcntl } from ${src('sys/fd.ts')};
import { F_GETFL, F_SETFL, O_NONBLOCK } from ${src('sys/platform/linux.ts')};
const report = (obj) => fs.writeSync(2, JSON.stringify(obj) + '\\n');
const nonBlocking = (fd) => (fcntl(fd, F_GETFL) & O_NONBLOCK) !== 0;
/** Diagnostics that keep what they are told. */
const told = [];
const diagnostics = { info() {}, warn(event, text) { told.push({ event, text }); } };
`;

/**
 * Starts \`node --import=tsx\` on the script (a module file: tsx gives an eval'd module only a .ts module's default export).
 * @param {import('ava').ExecutionContext} t
 * @param {string} body
 */
function run(t, body) {
  const file = path.join(tmpDir(t), 'check.mjs');
  fs.writeFileSync(file, PRELUDE + body);
  return startProcess(process.execPath, ['--import=tsx', file], { t, cwd: ROOT });
}

/**
 * Returns the JSON lines of a result's stderr.
 * @param {{ stderr: Buffer }} r
 */
function reports(r) {
  return r.stderr
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

test('stdout is made non-blocking for its writer, and restoreStdioFlags puts the flags back as they were found', async (t) => {
  const p = run(
    t,
    `
fcntl(1, F_SETFL, fcntl(1, F_GETFL) & ~O_NONBLOCK); // blocking, as a shell hands it over
recordStdioFlags();
const before = nonBlocking(1);
await printOut('hello\\n');
const during = nonBlocking(1);
restoreStdioFlags();
report({ before, during, after: nonBlocking(1) });
`,
  );
  p.end();
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hello\n');
  t.deepEqual(reports(r), [{ before: false, during: true, after: false }]);
});

test('printOut: 4 MiB to a pipe reach the reader whole and in order; the promise resolves once the queue is empty', async (t) => {
  const p = run(
    t,
    `
const data = Buffer.alloc(4 << 20);
for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
const writes = [];
for (let k = 0; k < 4; k++) writes.push(printOut(data.subarray(k << 20, (k + 1) << 20)));
await Promise.all(writes);
report({ queued: stdoutWriter().queued, sha: createHash('sha256').update(data).digest('hex') });
`,
  );
  p.end();
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [{ queued, sha }] = reports(r);
  t.is(queued, 0);
  t.is(r.stdout.length, 4 << 20);
  t.is(createHash('sha256').update(r.stdout).digest('hex'), sha);
});

test('a reader that goes away: onStdoutFailure hears EPIPE once, and printOut resolves after it instead of hanging', async (t) => {
  const p = run(
    t,
    `
const failures = [];
onStdoutFailure((err) => failures.push(err.code));
const chunk = Buffer.alloc(1 << 20, 0x61);
while (failures.length === 0) await printOut(chunk);
await printOut('after the failure');
report({ failures });
`,
  );
  p.end();
  p.child.stdout.destroy();
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.deepEqual(reports(r), [{ failures: ['EPIPE'] }]);
});

/** A script that reads its stdin with framing into one outlet and reports the units, in hex, with what diagnostics heard. */
const readAll = (framing) => `
const units = [];
const all = createHash('sha256');
const outlet = { busy: false, ended: false, accept(unit) { units.push(unit.length < 4096 ? unit.toString('hex') : unit.length); all.update(unit); reader.release(unit); }, end() { this.ended = true; } };
const reader = new StdinReader(${JSON.stringify(framing)}, diagnostics, (err) => report({ fault: err.message, units, ended: outlet.ended }));
reader.onEnd = () => report({ units: units.length < 1000 ? units : units.length, sha: all.digest('hex'), ended: outlet.ended, readerEnded: reader.ended, skipped: reader.skipped, told });
reader.addOutlet(outlet);
`;

test('StdinReader (stream): every byte reaches the outlet in order; at EOF the outlet is ended, then onEnd runs', async (t) => {
  const p = run(t, readAll({ type: 'stream', frame: 'raw', maxSize: 65536 }));
  const data = randomBytes(3 << 20);
  for (let i = 0; i < data.length; i += 100_000) p.write(data.subarray(i, i + 100_000));
  p.end();
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [end] = reports(r);
  t.is(end.sha, createHash('sha256').update(data).digest('hex'));
  t.true(end.ended, 'the outlet was ended before onEnd');
  t.true(end.readerEnded);
  t.is(end.skipped, 0);
});

test('StdinReader (stream): chunks one outlet still holds are not reused for later input, though another released them', async (t) => {
  const p = run(
    t,
    `
const held = [];
const outlet = { busy: false, accept(unit) { held.push(unit); }, end() {} };
const quick = { busy: false, accept(unit) { reader.release(unit); }, end() {} };
const reader = new StdinReader({ type: 'stream', frame: 'raw', maxSize: 65536 }, diagnostics, () => {});
reader.addOutlet(quick);
reader.onEnd = () => {
  const sha = createHash('sha256');
  for (const unit of held) sha.update(unit);
  report({ sha: sha.digest('hex'), units: held.length });
  for (const unit of held) reader.release(unit);
};
reader.addOutlet(outlet);
`,
  );
  const data = randomBytes(4 << 20);
  for (let i = 0; i < data.length; i += 50_000) p.write(data.subarray(i, i + 50_000));
  p.end();
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [{ sha, units }] = reports(r);
  t.true(units > 8, `more units than the pool keeps (${units})`);
  t.is(sha, createHash('sha256').update(data).digest('hex'));
});

test('StdinReader: stdin is not read while an outlet is busy, and is read again after kick()', async (t) => {
  const p = run(
    t,
    `
const got = [];
const outlet = { busy: true, accept(unit) { got.push(unit.toString()); }, end() {} };
const reader = new StdinReader({ type: 'seqpacket', frame: 'line', maxSize: 1024 }, diagnostics, () => {});
const alive = setInterval(() => {}, 60_000); // nothing else keeps the process up while stdin is not watched
reader.onEnd = () => {
  report({ got });
  clearInterval(alive);
};
reader.addOutlet(outlet);
process.on('SIGUSR1', () => {
  report({ whileBusy: got.length });
  outlet.busy = false;
  reader.kick();
});
report({ ready: true });
`,
  );
  p.write('one\ntwo\n');
  p.end();
  await p.waitStderr('"ready"');
  // stdin holds both lines and its EOF; the busy outlet has been handed nothing
  p.kill('SIGUSR1');
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.deepEqual(reports(r).slice(1), [{ whileBusy: 0 }, { got: ['one', 'two'] }]);
});

test('StdinReader (line framing): one unit per line without its newline; a line over --max-size is skipped and told', async (t) => {
  const p = run(t, readAll({ type: 'seqpacket', frame: 'line', maxSize: 8 }));
  p.end('short\nthis line is too long\nlast');
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [end] = reports(r);
  t.deepEqual(
    end.units.map((h) => Buffer.from(h, 'hex').toString()),
    ['short', 'last'],
  );
  t.is(end.skipped, 1);
  t.is(end.told.length, 1);
  t.is(end.told[0].event, 'oversize');
  t.regex(end.told[0].text, /exceeds --max-size 8: skipped$/);
});

test('StdinReader (len32): one unit per frame, whatever the pipe cuts; a frame cut short at EOF is not sent and told', async (t) => {
  const p = run(t, readAll({ type: 'dgram', frame: 'len32', maxSize: 1024 }));
  const frames = len32('a', '', 'ccc', Buffer.alloc(1000, 0x64));
  for (let i = 0; i < frames.length; i += 7) p.write(frames.subarray(i, i + 7));
  p.end(len32('cut').subarray(0, 5));
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [end] = reports(r);
  const hex = (text) => Buffer.from(text).toString('hex');
  t.deepEqual(end.units, [hex('a'), '', hex('ccc'), hex('d'.repeat(1000))]);
  t.is(end.skipped, 1);
  t.is(end.told[0]?.event, 'truncated');
  t.regex(end.told[0]?.text ?? '', /^input ends inside a len32 frame \(1 of 3 bytes\): not sent$/);
});

test('StdinReader (len32): a frame over --max-size is a fault: the frames before it are delivered and the outlets ended first', async (t) => {
  const p = run(t, readAll({ type: 'seqpacket', frame: 'len32', maxSize: 16 }));
  p.end(Buffer.concat([len32('ok'), len32('x'.repeat(17)), len32('never')]));
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  const [end, fault] = reports(r);
  t.deepEqual(end.units, [Buffer.from('ok').toString('hex')], 'onEnd: the frame before it');
  t.true(end.ended);
  t.deepEqual(fault.units, [Buffer.from('ok').toString('hex')], 'then the fault');
  t.true(fault.ended);
  t.is(fault.fault, 'len32 frame of 17 bytes on stdin exceeds --max-size 16: input stops there');
});

test('StdinReader: an outlet added after EOF is ended at once', async (t) => {
  const p = run(
    t,
    `
const reader = new StdinReader({ type: 'stream', frame: 'raw', maxSize: 1024 }, diagnostics, () => {});
reader.onEnd = () => {
  let ended = false;
  reader.addOutlet({ busy: false, accept() {}, end() { ended = true; } });
  report({ late: ended });
};
reader.addOutlet({ busy: false, accept(unit) { reader.release(unit); }, end() {} });
`,
  );
  p.end('x');
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.deepEqual(reports(r), [{ late: true }]);
});
