// Unit tests of src/net/accept.ts on real sockets: a fault in one peer's handler stays with that peer; rules are checked before the handler runs; hold()/resume(); accept(2) out of descriptors.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { acceptLoop } from '../../../src/net/accept.ts';
import { closeQuietly, write, read, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { bind, connect, listen, socket } from '../../../src/sys/socket.ts';
import { encodeAbstractAddress } from '../../../src/sys/sockaddr.ts';
import { abstractName, waitUntil } from '../../helpers.mjs';

/** Returns a diagnostics sink that keeps every warning. */
function recorder() {
  const warnings = [];
  return {
    warnings,
    info() {},
    warn(event, text) {
      warnings.push({ event, text });
    },
  };
}

/** Returns a listening stream socket on a fresh abstract name, closed on teardown. */
function listener(t) {
  const addr = encodeAbstractAddress(abstractName());
  const fd = socket('stream');
  bind(fd, addr);
  listen(fd, 16);
  t.teardown(() => closeQuietly(fd));
  return { fd, addr };
}

function client(t, addr) {
  const fd = socket('stream');
  connect(fd, addr);
  t.teardown(() => closeQuietly(fd));
  return fd;
}

test("an exception in one peer's handler closes that peer only, is reported in one line, and the loop serves the next peer", async (t) => {
  const { fd, addr } = listener(t);
  const diag = recorder();
  const served = [];
  let calls = 0;
  const loop = acceptLoop(fd, {
    rules: null,
    diagnostics: diag,
    onPeer: (peer) => {
      calls++;
      if (calls === 1) throw new Error('handler fault');
      served.push(peer);
      write(peer, Buffer.from('hello'));
    },
  });
  t.teardown(() => loop.stop());
  const first = client(t, addr);
  await waitUntil(() => calls === 1, 5000, 'the first peer');
  const second = client(t, addr);
  await waitUntil(() => served.length === 1, 5000, 'the second peer');
  t.deepEqual(
    diag.warnings.map((w) => w.event),
    ['connection-error'],
  );
  t.regex(diag.warnings[0].text, /handler fault/);
  // the faulty peer's connection was closed: its client reads EOF
  await waitUntil(() => read(first, Buffer.alloc(16)) === 0, 5000, 'EOF on the first client');
  const buf = Buffer.alloc(16);
  await waitUntil(
    () => {
      const n = read(second, buf);
      return n !== WOULD_BLOCK && n > 0 && buf.subarray(0, n).toString() === 'hello';
    },
    5000,
    'data on the second client',
  );
  for (const p of served) closeQuietly(p);
});

test('with rules, a peer they do not admit is closed and reported before the handler sees it', async (t) => {
  const { fd, addr } = listener(t);
  const diag = recorder();
  const seen = [];
  const loop = acceptLoop(fd, { rules: { uids: new Set([4242424]), gids: new Set() }, diagnostics: diag, onPeer: (p) => seen.push(p) });
  t.teardown(() => loop.stop());
  const c = client(t, addr);
  await waitUntil(() => diag.warnings.length === 1, 5000, 'the rejection');
  t.is(diag.warnings[0].event, 'rejected');
  t.deepEqual(seen, []);
  await waitUntil(() => read(c, Buffer.alloc(4)) === 0, 5000, 'EOF on the rejected client');
});

/** Resolves after n turns of the event loop: each turn polls the descriptors, so a watched readable socket would have been served. */
async function turns(n) {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('hold() leaves new clients in the backlog, neither accepted nor dropped; resume() accepts them in order', async (t) => {
  const { fd, addr } = listener(t);
  const seen = [];
  const loop = acceptLoop(fd, { rules: null, diagnostics: recorder(), onPeer: (p) => seen.push(p) });
  t.teardown(() => loop.stop());
  client(t, addr);
  await waitUntil(() => seen.length === 1, 5000, 'the first peer');
  loop.hold();
  const second = client(t, addr);
  write(second, Buffer.from('waiting'));
  await turns(20);
  t.is(seen.length, 1, 'not accepted while held');
  loop.released(); // a connection ending does not undo the hold
  await turns(20);
  t.is(seen.length, 1, 'still held after released()');
  loop.resume();
  await waitUntil(() => seen.length === 2, 5000, 'the second peer, after resume()');
  const buf = Buffer.alloc(16);
  t.is(read(seen[1], buf), 7, 'what it sent while waiting is there');
  t.is(buf.subarray(0, 7).toString(), 'waiting');
  for (const p of seen) closeQuietly(p);
});

/** Returns this process's open-files limits, [soft, hard], as /proc/self/limits writes them. */
function fileLimits() {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return line.slice('Max open files'.length).trim().split(/\s+/).slice(0, 2);
}

// Serial: it lowers this process's open-files limit for a moment (ava runs serial tests before the others).
test.serial(
  'out of descriptors, accept(2) fails with EMFILE: one warning that names the call once, clients wait, and are accepted once descriptors are free',
  async (t) => {
    const { fd, addr } = listener(t);
    const c = client(t, addr);
    const diag = recorder();
    const infos = [];
    diag.info = (event) => infos.push(event);
    const seen = [];
    const [soft, hard] = fileLimits();
    const highest = Math.max(...fs.readdirSync('/proc/self/fd').map(Number));
    // Every descriptor number below the limit taken: accept has none left.
    t.is(spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${highest + 17}:${hard}`], { stdio: 'ignore' }).status, 0, 'prlimit');
    const fillers = [];
    let loop;
    try {
      for (;;) fillers.push(fs.openSync('/dev/null', 'r'));
    } catch (err) {
      if (err.code !== 'EMFILE') throw err;
    }
    try {
      loop = acceptLoop(fd, { rules: null, diagnostics: diag, onPeer: (p) => seen.push(p) });
      await waitUntil(() => diag.warnings.length > 0, 5000, 'the accept warning');
      t.deepEqual(seen, []);
    } finally {
      for (const f of fillers) fs.closeSync(f);
      spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
    }
    t.teardown(() => loop.stop());
    await waitUntil(() => seen.length === 1, 5000, 'the waiting client, accepted after the back-off');
    t.deepEqual(
      diag.warnings.map((w) => w.event),
      ['accept-failed'],
      'one warning for the episode',
    );
    t.is(diag.warnings[0].text, 'accept: Too many open files (EMFILE): pending clients wait until descriptors free up');
    t.true(infos.includes('accepting'));
    write(c, Buffer.from('x'));
    t.is(read(seen[0], Buffer.alloc(4)), 1, "the connection accepted is the waiting client's");
    closeQuietly(seen[0]);
  },
);
