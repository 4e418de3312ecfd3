// Unit tests of src/sys/poll.ts (koffi.node.poll): an exception thrown by a callback reaches the process.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../../helpers.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const POLL = fileURLToPath(new URL('../../../src/sys/poll.ts', import.meta.url));
const SOCKET = fileURLToPath(new URL('../../../src/sys/socket.ts', import.meta.url));

test('an exception thrown in a readable callback reaches uncaughtException instead of leaving the handle firing', (t) => {
  // A readable socket whose callback throws once: without the rethrow the error unwinds into koffi's
  // libuv callback, and the level-triggered handle goes on firing without ever reaching JavaScript.
  const script = `
    import { FdWatcher } from ${JSON.stringify(POLL)};
    import { socketpair } from ${JSON.stringify(SOCKET)};
    import fs from 'node:fs';
    process.on('uncaughtException', (err) => { console.log('caught: ' + err.message); process.exit(0); });
    setTimeout(() => { console.log('not caught'); process.exit(3); }, 3000).unref();
    const [a, b] = socketpair('stream');
    fs.writeSync(a, 'x');
    new FdWatcher(b).onReadable(() => { throw new Error('boom'); });
    setTimeout(() => {}, 5000);
  `;
  // A module file, not -e: tsx gives an eval'd ES module only the default export of a .ts module.
  const file = path.join(tmpDir(t), 'throw.mjs');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import=tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 10000 });
  t.is(r.stdout.trim(), 'caught: boom', r.stderr);
  t.is(r.status, 0);
});
