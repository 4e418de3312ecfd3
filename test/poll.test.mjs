// Tests of the poll watcher in dist/lib.mjs (koffi.node.poll): an exception thrown by a callback reaches the process.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LIB = fileURLToPath(new URL('../dist/lib.mjs', import.meta.url));

test('an exception thrown in a readable callback reaches uncaughtException instead of leaving the handle firing', (t) => {
  // A readable socket whose callback throws once: without the rethrow the error unwinds into koffi's
  // libuv callback, and the level-triggered handle goes on firing without ever reaching JavaScript.
  const script = `
    import { FdWatcher, socketpair } from ${JSON.stringify(LIB)};
    import fs from 'node:fs';
    process.on('uncaughtException', (err) => { console.log('caught: ' + err.message); process.exit(0); });
    setTimeout(() => { console.log('not caught'); process.exit(3); }, 3000).unref();
    const [a, b] = socketpair('stream');
    fs.writeSync(a, 'x');
    new FdWatcher(b).onReadable(() => { throw new Error('boom'); });
    setTimeout(() => {}, 5000);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
  t.is(r.stdout.trim(), 'caught: boom', r.stderr);
  t.is(r.status, 0);
});
