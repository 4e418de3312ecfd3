// 64 MiB of random bytes through `usock connect` -> `usock listen` and back, compared byte for byte (sha256),
// from files and through pipes, one way and both ways at once.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { usock, python, py, startProcess, tmpDir, waitListening, sha256File, writeRandomFile, show, USOCK } from '../helpers.mjs';

const MiB = 1 << 20;
const LONG = 180_000;

function openFds(t, ...specs) {
  const fds = specs.map(([file, flags]) => fs.openSync(file, flags));
  return fds;
}

/** Gives the test LONG * 2 ms; returns paths in a fresh temp dir: `src` (64 MiB of random bytes), `dst` and the socket `sock`. */
function bigSource(t) {
  t.timeout(LONG * 2);
  const dir = tmpDir(t);
  const src = path.join(dir, 'src');
  writeRandomFile(src, 64 * MiB);
  return { src, dst: path.join(dir, 'dst'), sock: path.join(dir, 's') };
}

/** Runs usock listen, then usock connect, on sock with these stdio (closing our copies of their fds); asserts both exit 0, returns connect's result. */
async function listenThenConnect(t, sock, listenStdio, connectStdio) {
  const l = usock(['listen', sock], { stdio: listenStdio, timeout: LONG, t });
  await waitListening(sock);
  const c = usock(['connect', sock], { stdio: connectStdio, timeout: LONG, t });
  for (const fd of [...listenStdio, ...connectStdio]) if (typeof fd === 'number') fs.closeSync(fd);
  const [cr, lr] = await Promise.all([c.exited, l.exited]);
  t.is(cr.code, 0, show(cr));
  t.is(lr.code, 0, show(lr));
  return cr;
}

test('64 MiB random stream connect -> listen, files on both ends: same sha256', async (t) => {
  const { src, dst, sock } = bigSource(t);
  const [inFd, outFd] = openFds(t, [src, 'r'], [dst, 'w']);
  const cr = await listenThenConnect(t, sock, ['ignore', outFd, 'pipe'], [inFd, 'pipe', 'pipe']);
  t.is(cr.stdout.length, 0);
  t.is(fs.statSync(dst).size, 64 * MiB);
  t.is(await sha256File(dst), await sha256File(src));
});

test('64 MiB random stream listen -> connect through pipes (cat | usock listen, usock connect | sha256sum)', async (t) => {
  const { src, sock } = bigSource(t);
  const l = startProcess('bash', ['-c', 'set -o pipefail; cat "$3" | "$0" "$1" listen "$2"', process.execPath, USOCK, sock, src], {
    timeout: LONG,
    t,
  });
  l.end();
  await waitListening(sock);
  const c = startProcess('bash', ['-c', 'set -o pipefail; "$0" "$1" connect "$2" </dev/null | sha256sum', process.execPath, USOCK, sock], {
    timeout: LONG,
    t,
  });
  c.end();
  const [cr, lr] = await Promise.all([c.exited, l.exited]);
  t.is(lr.code, 0, show(lr));
  t.is(cr.code, 0, show(cr));
  t.is(cr.stdout.toString().split(/\s/)[0], await sha256File(src));
});

test('16 MiB each way at once (full duplex, files): no deadlock, both ends byte-exact', async (t) => {
  t.timeout(LONG * 2);
  const dir = tmpDir(t);
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const aOut = path.join(dir, 'a.out');
  const bOut = path.join(dir, 'b.out');
  const sock = path.join(dir, 's');
  writeRandomFile(a, 16 * MiB);
  writeRandomFile(b, 16 * MiB);
  const [lIn, lOut, cIn, cOut] = openFds(t, [a, 'r'], [aOut, 'w'], [b, 'r'], [bOut, 'w']);
  await listenThenConnect(t, sock, [lIn, lOut, 'pipe'], [cIn, cOut, 'pipe']);
  // listen wrote what connect read from b; connect wrote what listen read from a
  t.is(await sha256File(aOut), await sha256File(b));
  t.is(await sha256File(bOut), await sha256File(a));
});

test('64 MiB through echo-server and back (connect stdin file -> stdout file)', async (t) => {
  const { src, dst, sock } = bigSource(t);
  const e = usock(['echo-server', sock], { timeout: LONG * 2, t });
  e.end();
  await waitListening(sock);
  const [inFd, outFd] = openFds(t, [src, 'r'], [dst, 'w']);
  const c = usock(['connect', sock], { stdio: [inFd, outFd, 'pipe'], timeout: LONG, t });
  fs.closeSync(inFd);
  fs.closeSync(outFd);
  const cr = await c.exited;
  t.is(cr.code, 0, show(cr));
  t.is(await sha256File(dst), await sha256File(src));
  e.kill('SIGTERM');
  await e.exited;
});

test('listen -k: 16 MiB of stdin reaches a fast and a slow peer byte-exact (stdin waits for the slowest; its chunks are reused only once sent to all)', async (t) => {
  t.timeout(LONG);
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const data = crypto.randomBytes(16 * MiB);
  const l = usock(['listen', '-k', '-v', sock], { t, timeout: LONG });
  await waitListening(sock);
  // Each peer hashes everything until EOF; the slow one reads 4 KiB at a time with pauses, so its
  // connection keeps chunks queued long after the fast one has sent them.
  const peer = (delay) =>
    python(
      py(`
import hashlib, time
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print('connected', flush=True)
h = hashlib.sha256()
n = 0
while True:
    d = s.recv(4096)
    if not d:
        break
    h.update(d)
    n += 1
    if ${delay} and n % 64 == 0:
        time.sleep(${delay})
print(h.hexdigest(), flush=True)
`),
      [sock],
      { t, timeout: LONG },
    );
  const fast = peer(0);
  const slow = peer(0.002);
  await Promise.all([fast.waitStdout('connected'), slow.waitStdout('connected')]);
  await l.waitStderr((s) => (s.match(/connection from/g) ?? []).length === 2);
  l.end(data);
  const want = crypto.createHash('sha256').update(data).digest('hex');
  for (const p of [fast, slow]) {
    const r = await p.exited;
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString().trim().split('\n').pop(), want);
  }
  l.kill('SIGTERM');
  await l.exited;
});
