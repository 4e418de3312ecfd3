// Unit tests of src/sys/poll.ts (koffi.node.poll): an exception thrown by a callback reaches the process.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { tmpDir } from '../../helpers.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const POLL = fileURLToPath(new URL('../../../src/sys/poll.ts', import.meta.url));
const SOCKET = fileURLToPath(new URL('../../../src/sys/socket.ts', import.meta.url));
const FD = fileURLToPath(new URL('../../../src/sys/fd.ts', import.meta.url));

test('an exception thrown in a readable callback reaches uncaughtException instead of leaving the handle firing', (t) => {
  // A readable socket whose callback throws once: without the rethrow the error unwinds into koffi's
  // libuv callback, and the level-triggered handle goes on firing without ever reaching JavaScript.
  const script = `
    import { FdWatcher } from ${JSON.stringify(POLL)};
    import { socketpair } from ${JSON.stringify(SOCKET)};
    import fs from 'node:fs';
    process.on('uncaughtException', (err) => { console.log('caught: ' + err.message); process.exit(0); });
    setTimeout(() => { console.log('not caught'); process.exit(3); }, 20000).unref();
    const [a, b] = socketpair('stream');
    fs.writeSync(a, 'x');
    new FdWatcher(b).onReadable(() => { throw new Error('boom'); });
    setTimeout(() => {}, 30000);
  `;
  // A module file, not -e: tsx gives an eval'd ES module only the default export of a .ts module.
  const file = path.join(tmpDir(t), 'throw.mjs');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import=tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  t.is(r.stdout.trim(), 'caught: boom', r.stderr);
  t.is(r.status, 0);
});

// The same checks in the main thread (libuv's functions called straight) and in a worker thread (koffi.node.poll).
// tsx's loader does not reach a worker thread, so the script is bundled from the sources by esbuild (CommonJS, so
// that the sources' require finds koffi).
const BACKEND_CHECKS = `
  import { isMainThread, parentPort, Worker } from 'node:worker_threads';
  import fs from 'node:fs';
  import { FdWatcher, pollBackend } from ${JSON.stringify(POLL)};
  import { socketpair } from ${JSON.stringify(SOCKET)};
  import { read, write, closeQuietly } from ${JSON.stringify(FD)};
  const report = (r) => (isMainThread ? console.log(JSON.stringify(r)) : parentPort.postMessage(r));
  (async () => {
  const result = { thread: isMainThread ? 'main' : 'worker', backend: pollBackend() };
  const once = (setUp) => new Promise((resolve) => setUp(resolve));
  // readable: the bytes written on the other end, then nothing until more come
  const [a, b] = socketpair('stream', { nonblock: true });
  const buf = Buffer.alloc(16);
  const w = new FdWatcher(b);
  write(a, Buffer.from('ping'));
  result.read = await once((done) => w.onReadable(() => { const n = read(b, buf); w.onReadable(null); done(buf.subarray(0, n).toString()); }));
  // writable, after readable stopped: the same handle started again for the other event
  result.writable = await once((done) => w.onWritable(() => { w.onWritable(null); done(true); }));
  // a watcher closed inside its own callback, its descriptor closed too: no further call
  let calls = 0;
  write(a, Buffer.from('x'));
  await once((done) => w.onReadable(() => { calls++; w.close(); closeQuietly(b); setTimeout(done, 30); }));
  result.callsAfterClose = calls;
  // an error event (the peer closed with our bytes unread: POLLERR, after which libuv stops the handle) calls back,
  // and a callback still set is watched again: called once more, not never
  const [c, d] = socketpair('stream', { nonblock: true });
  write(d, Buffer.from('unread'));
  const e = new FdWatcher(d);
  result.afterError = await once((done) => {
    let errorCalls = 0;
    const stuck = setTimeout(() => { e.close(); done('stuck after ' + errorCalls + ' call(s)'); }, 10000);
    e.onReadable(() => {
      if (++errorCalls < 2) return; // the first call leaves the condition as it is: level-triggered, it must come again
      clearTimeout(stuck);
      e.close();
      done('called again');
    });
    closeQuietly(c);
  });
  closeQuietly(d);
  // a regular file: no poll handle (epoll refuses it), ready at once
  const file = fs.openSync(process.argv[2], 'r');
  result.file = await once((done) => { const f = new FdWatcher(file); f.onReadable(() => { f.close(); done(true); }); });
  // 300 watchers opened, fired and closed in turn (handles freed and taken again)
  let fired = 0;
  for (let i = 0; i < 300; i++) {
    const [x, y] = socketpair('stream', { nonblock: true });
    write(x, Buffer.from('.'));
    await once((done) => { const v = new FdWatcher(y); v.onReadable(() => { fired++; v.close(); done(); }); });
    closeQuietly(x);
    closeQuietly(y);
  }
  result.fired = fired;
  closeQuietly(a);
  report(result);
  if (isMainThread) {
    const worker = new Worker(__filename, { argv: [process.argv[2]] });
    worker.on('message', (r) => console.log(JSON.stringify(r)));
  }
  })();
`;

test('both poll backends: libuv called straight in the main thread, koffi.node.poll in a worker; readable, writable, close inside a callback, a regular file, handles taken and freed', (t) => {
  const file = path.join(tmpDir(t), 'checks.cjs');
  buildSync({
    stdin: { contents: BACKEND_CHECKS, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['koffi'],
    outfile: file,
    logLevel: 'silent',
  });
  // The bundle finds koffi through NODE_PATH (it lives outside the project).
  const env = { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') };
  const r = spawnSync(process.execPath, [file, file], { cwd: ROOT, env, encoding: 'utf8', timeout: 60000 });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const expected = { read: 'ping', writable: true, callsAfterClose: 1, afterError: 'called again', file: true, fired: 300 };
  t.deepEqual(lines, [
    { thread: 'main', backend: 'libuv', ...expected },
    { thread: 'worker', backend: 'koffi', ...expected },
  ]);
});
