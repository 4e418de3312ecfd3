// End-to-end tests of `usock tap --inplace PATH`: a Python daemon keeps serving old and new clients while tap stands at its
// path (same owner, group and mode) and after SIGTERM (an open connection gets its second) or -c; refusals that touch nothing (66, 73, 77, a leftover); usage errors.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  python,
  runPython,
  py,
  tmpDir,
  waitUntil,
  endedBy,
  show,
  assertCleanError,
  rootTest,
  NOBODY_UID,
  NOBODY_GID,
} from '../helpers.mjs';

// The daemon: listens at argv[1] (mode argv[2], octal, when given), answers every chunk with b'srv:' + chunk, one thread per client.
const DAEMON = py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
if len(sys.argv) > 2:
    os.chmod(sys.argv[1], int(sys.argv[2], 8))
s.listen(64)
print('ready')
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(b'srv:' + d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`);

/** Starts the daemon at sock and waits until it serves. */
async function startDaemon(t, sock, mode) {
  const d = python(DAEMON, mode ? [sock, mode] : [sock], { t });
  await d.waitStdout('ready');
  return d;
}

/** Returns the names in dir that are sockets moved aside by tap. */
const asideNames = (dir) => fs.readdirSync(dir).filter((n) => n.includes('.usock-tap'));

/** Starts `tap --inplace sock` and waits until its socket stands at sock (the inode changed, the daemon's moved aside). */
async function startInplace(t, sock, extra = []) {
  const before = fs.lstatSync(sock).ino;
  const tap = usock(['tap', ...extra, '--inplace', sock], { t });
  tap.end();
  const ino = () => {
    try {
      return fs.lstatSync(sock).ino;
    } catch {
      return before;
    }
  }; // the no-moment test checks the name itself
  await waitUntil(() => ino() !== before && asideNames(path.dirname(sock)).length === 1, undefined, 'tap in place');
  return tap;
}

/** One client through usock connect: sends text, half-closes, returns what came back. */
async function ask(t, sock, text) {
  const r = await runUsock(['connect', sock], { t, input: text });
  t.is(r.code, 0, show(r));
  return r.stdout.toString();
}

test('the daemon serves old and new clients throughout; clients during tap are recorded; SIGTERM puts its own socket back', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock);
  const daemonIno = fs.lstatSync(sock).ino;
  // A client connected before tap starts: usock connect fed line by line.
  const old = usock(['connect', sock], { t });
  old.write('one\n');
  await old.waitStdout('srv:one\n');

  const tap = await startInplace(t, sock);
  const [aside] = asideNames(dir);
  t.regex(aside, new RegExp(`^\\.d\\.sock\\.usock-tap\\.${tap.pid}$`));
  t.is(fs.lstatSync(path.join(dir, aside)).ino, daemonIno);
  t.is(await ask(t, sock, 'hello\n'), 'srv:hello\n');
  t.is(await ask(t, sock, 'world\n'), 'srv:world\n');
  old.write('two\n');
  await old.waitStdout('srv:two\n');
  await tap.waitStderr((s) => (s.match(/ #\d+ close$/gm) ?? []).length === 2);

  tap.kill('SIGTERM');
  const r = await tap.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  const records = r.stderr.toString();
  t.regex(records, / #1 > 6: hello\\n$/m);
  t.regex(records, / #1 < 10: srv:hello\\n$/m);
  t.regex(records, / #2 > 6: world\\n$/m);
  t.false(records.includes('two'), 'the client connected before tap is not recorded');
  t.false(records.includes('#3'), records);

  const st = fs.lstatSync(sock);
  t.true(st.isSocket());
  t.is(st.ino, daemonIno, "the daemon's own socket is back");
  t.deepEqual(asideNames(dir), []);
  t.deepEqual(fs.readdirSync(dir), ['d.sock']);
  t.is(await ask(t, sock, 'after\n'), 'srv:after\n');
  old.write('three\n');
  await old.waitStdout('srv:three\n');
  old.end();
  const o = await old.exited;
  t.is(o.code, 0, show(o));
});

// Watches the directory argv[1] with inotify (libc through ctypes) until stdin closes; prints every event on the name
// argv[2] that takes the name away (moved from, deleted), then 'done'.
const NAME_WATCH = py(`
import ctypes, struct, select
libc = ctypes.CDLL(None, use_errno=True)
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
fd = libc.inotify_init1(os.O_NONBLOCK)
assert libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE) >= 0
print('ready', flush=True)
seen = []
def drain():
    try:
        buf = os.read(fd, 65536)
    except BlockingIOError:
        return
    i = 0
    while i < len(buf):
        wd, mask, cookie, n = struct.unpack_from('iIII', buf, i)
        name = buf[i + 16:i + 16 + n].rstrip(b'\\0').decode()
        i += 16 + n
        if name == sys.argv[2] and mask & (IN_MOVED_FROM | IN_DELETE):
            seen.append('moved-from' if mask & IN_MOVED_FROM else 'deleted')
while True:
    r, _, _ = select.select([fd, sys.stdin], [], [])
    if fd in r:
        drain()
    if sys.stdin in r:
        sys.stdin.read()
        drain()
        break
print(' '.join(seen) or 'never', flush=True)
`);

test('no moment without a socket at the path: taking over and giving back never take the name away (inotify)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock);
  const daemonIno = fs.lstatSync(sock).ino;
  const watch = python(NAME_WATCH, [dir, 'd.sock'], { t });
  await watch.waitStdout('ready');
  const tap = await startInplace(t, sock);
  t.is(await ask(t, sock, 'through\n'), 'srv:through\n');
  tap.kill('SIGTERM');
  await waitUntil(() => fs.lstatSync(sock).ino === daemonIno, undefined, "the daemon's socket back");
  watch.end();
  const w = await watch.exited;
  t.is(w.stdout.toString().trim().split('\n').pop(), 'never', show(w));
  await tap.exited;
});

test("on SIGTERM the daemon's socket is back at once; an open connection gets about 1 s, then tap dies of the signal", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock);
  const daemonIno = fs.lstatSync(sock).ino;
  const tap = await startInplace(t, sock);
  const client = usock(['connect', sock], { t });
  client.write('open\n');
  await client.waitStdout('srv:open\n');
  const killed = Date.now();
  tap.kill('SIGTERM');
  await waitUntil(() => fs.lstatSync(sock).ino === daemonIno, undefined, "the daemon's socket back");
  t.is(await ask(t, sock, 'direct\n'), 'srv:direct\n');
  const r = await tap.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  // A lower bound on tap's own 1 s timer (the open connection's time): a loaded machine only makes it longer.
  t.true(Date.now() - killed >= 900, `tap ended after ${Date.now() - killed} ms`);
  t.false(r.stderr.toString().includes('direct'), 'a client after the signal reaches the daemon directly');
  t.deepEqual(fs.readdirSync(dir), ['d.sock']);
  client.kill('SIGKILL');
});

test("-c 1: after one connection tap puts the daemon's socket back and exits 0", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock);
  const daemonIno = fs.lstatSync(sock).ino;
  const tap = await startInplace(t, sock, ['-c', '1']);
  t.is(await ask(t, sock, 'x\n'), 'srv:x\n');
  const r = await tap.exited;
  t.is(r.code, 0, show(r));
  t.is(fs.lstatSync(sock).ino, daemonIno);
  t.deepEqual(fs.readdirSync(dir), ['d.sock']);
  t.is(await ask(t, sock, 'y\n'), 'srv:y\n');
});

rootTest("tap's socket has the daemon socket's mode, owner and group while it runs", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock, '0660');
  fs.chownSync(sock, NOBODY_UID, NOBODY_GID === 0 ? 100 : NOBODY_GID);
  const daemon = fs.lstatSync(sock);
  t.is(daemon.mode & 0o7777, 0o660);
  const tap = await startInplace(t, sock);
  const now = fs.lstatSync(sock);
  t.not(now.ino, daemon.ino);
  t.is(now.mode & 0o7777, 0o660);
  t.is(now.uid, daemon.uid);
  t.is(now.gid, daemon.gid);
  t.is(await ask(t, sock, 'hi\n'), 'srv:hi\n');
  tap.kill('SIGTERM');
  const r = await tap.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.is(fs.lstatSync(sock).ino, daemon.ino);
  t.deepEqual(fs.readdirSync(dir), ['d.sock']);
});

/** Runs `tap --inplace sock` (opts for usock) expecting a refusal with status code and message re; checks that dir is unchanged. */
async function refused(t, dir, sock, code, re, opts = {}) {
  const before = fs.readdirSync(dir).map((n) => [n, fs.lstatSync(path.join(dir, n)).ino]);
  const r = await runUsock(['tap', '--inplace', sock], { t, ...opts });
  t.is(r.code, code, show(r));
  assertCleanError(t, r.stderr, re);
  t.deepEqual(
    fs.readdirSync(dir).map((n) => [n, fs.lstatSync(path.join(dir, n)).ino]),
    before,
    'nothing touched',
  );
  return r;
}

test('refused: PATH missing (66)', async (t) => {
  const dir = tmpDir(t);
  await refused(t, dir, path.join(dir, 'none.sock'), 66, /none\.sock: no such file/);
});

test('refused: PATH a regular file (73)', async (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'f'), 'data');
  await refused(t, dir, path.join(dir, 'f'), 73, /not a socket/);
});

test('refused: a stale socket (73)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'stale.sock');
  const r = await runPython(py('s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()'), [sock], { t });
  t.is(r.code, 0, show(r));
  await refused(t, dir, sock, 73, /stale socket/);
});

test('refused: a socket moved aside by an earlier run is still there (73, with the mv that puts it back)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock);
  fs.writeFileSync(path.join(dir, '.d.sock.usock-tap.123'), '');
  const r = await refused(t, dir, sock, 73, /earlier tap/);
  t.true(r.stderr.toString().includes(`mv ${path.join(dir, '.d.sock.usock-tap.123')} ${sock}`), show(r));
});

rootTest('refused: the directory is not writable (77)', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 'd.sock');
  await startDaemon(t, sock, '0666');
  await refused(t, dir, sock, 77, /not writable/, { uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
});

test('usage: --inplace with LISTEN, neither, only LISTEN, or --mode (64)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'd.sock');
  for (const [args, re] of /** @type {Array<[string[], RegExp]>} */ ([
    [['--inplace', sock, 'a.sock'], /--inplace PATH replaces LISTEN and TARGET/],
    [['--inplace', sock, 'a.sock', 'b.sock'], /--inplace PATH replaces LISTEN and TARGET/],
    [[], /tap: missing LISTEN/],
    [['a.sock'], /tap: missing TARGET/],
    [['--mode', '0600', '--inplace', sock], /^usock: tap: --mode does not apply with --inplace/],
    [['--inplace', '@abstract'], /needs a socket file's path/],
  ])) {
    const r = await runUsock(['tap', ...args], { t });
    t.is(r.code, 64, `${args.join(' ')}: ${show(r)}`);
    assertCleanError(t, r.stderr, re);
  }
  t.deepEqual(fs.readdirSync(dir), []);
});
