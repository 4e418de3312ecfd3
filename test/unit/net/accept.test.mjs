// Unit tests of src/net/accept.ts on real sockets: a fault in one peer's handler stays with that peer; rules are checked before the handler runs.
import test from 'ava';
import { acceptLoop } from '../../../src/net/accept.ts';
import { bind, connect, listen, socket, closeQuietly, write, read, WOULD_BLOCK } from '../../../src/sys/socket.ts';
import { encodeAbstractAddress } from '../../../src/sys/sockaddr.ts';
import { abstractName, waitUntil } from '../../helpers.mjs';

/** Returns a diagnostics sink that keeps every warning. */
function recorder() {
  const warnings = [];
  return { warnings, info() {}, warn(event, text) { warnings.push({ event, text }); } };
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

test('an exception in one peer\'s handler closes that peer only, is reported in one line, and the loop serves the next peer', async (t) => {
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
  t.deepEqual(diag.warnings.map((w) => w.event), ['connection-error']);
  t.regex(diag.warnings[0].text, /handler fault/);
  // the faulty peer's connection was closed: its client reads EOF
  await waitUntil(() => read(first, Buffer.alloc(16)) === 0, 5000, 'EOF on the first client');
  const buf = Buffer.alloc(16);
  await waitUntil(() => { const n = read(second, buf); return n !== WOULD_BLOCK && n > 0 && buf.subarray(0, n).toString() === 'hello'; }, 5000, 'data on the second client');
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
