// Errors and exit codes per cli.md: one `usock: ` line (+ at most one hint), no stack trace, sysexits codes;
// usage errors, path too long, permissions, a closed stdout, signals during a transfer, no colour off a TTY.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
/** Usage errors: one short process each, nothing shared, so they run side by side (after the serial tests). */
const usageTest = ava;
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  usock,
  runUsock,
  startProcess,
  python,
  runPython,
  py,
  tmpDir,
  abstractName,
  waitListening,
  assertCleanError,
  endedBy,
  show,
  hasCommand,
  idleStreamServer,
  USOCK,
  NOBODY_UID,
  SYSTEM_PYTHON,
  rootTest,
} from '../helpers.mjs';

const NOBODY_GID = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());

function staleSocket(t, file) {
  return runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
`),
    [file],
    { t },
  );
}

test('connect to a missing path: 69, one line naming the path', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 'missing.sock');
  const r = await runUsock(['connect', p], { input: 'x', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
  t.true(r.stderr.toString().includes(p), r.stderr.toString());
  t.is(r.stdout.toString(), '');
});

test('connect to a refused (stale) socket: 69, says refused', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 'stale');
  await staleSocket(t, p);
  const r = await runUsock(['connect', p], { input: 'x', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr, /refused|ECONNREFUSED/i);
});

test('connect to an unused abstract name: 69', async (t) => {
  const r = await runUsock(['connect', '@' + abstractName()], { input: 'x', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

test('dgram connect to a missing path: 69', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['connect', '-t', 'dgram', path.join(dir, 'nope')], { input: 'x\n', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

test('connect through a regular file used as a directory (ENOTDIR): 69', async (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'f'), 'x');
  const r = await runUsock(['connect', path.join(dir, 'f', 's')], { input: '', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

test('connect -t dgram to a stream socket: fails with one clean line, not 0', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  await idleStreamServer(t, sock);
  const r = await runUsock(['connect', '-t', 'dgram', sock], { input: 'x\n', t });
  t.not(r.code, 0, show(r));
  assertCleanError(t, r.stderr);
});

function tooLongPath(dir) {
  // the basename alone does not fit sun_path
  return path.join(dir, 'b'.repeat(120));
}

for (const cmd of [['listen'], ['connect'], ['echo-server'], ['listen', '-t', 'dgram'], ['connect', '-t', 'dgram']]) {
  usageTest(`${cmd.join(' ')}: path too long even for its basename: 64 with the byte count`, async (t) => {
    const dir = tmpDir(t);
    const p = tooLongPath(dir);
    const r = await runUsock([...cmd, p], { input: '', t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, /socket path too long \(\d+ bytes, max 107\)/);
    t.deepEqual(fs.readdirSync(dir), [], 'nothing created');
  });
}

usageTest('connect --bind with a basename too long: 64', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', tooLongPath(dir), '@' + abstractName()], { input: '', t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /socket path too long \(\d+ bytes, max 107\)/);
});

for (const mode of ['999', 'abc', '8', '-1', '12345', '']) {
  usageTest(`listen --mode ${JSON.stringify(mode)}: 64, nothing created`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const r = await runUsock(['listen', '--mode', mode, sock], { input: '', t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr);
    t.false(fs.existsSync(sock));
  });
}

usageTest('echo-server --mode abc: 64', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['echo-server', '--mode', 'abc', path.join(dir, 's')], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr);
});

/** @type {Array<[string, string[]]>} */
const USAGE_CASES = [
  ['unknown --type', ['connect', '--type', 'bogus', 'ADDR']],
  ['unknown -t on listen', ['listen', '-t', 'tcp', 'ADDR']],
  ['unknown option', ['connect', '--frobnicate', 'ADDR']],
  ['unknown short option', ['listen', '-Y', 'ADDR']],
  ['unknown --frame', ['connect', '--frame', 'csv', 'ADDR']],
  ['no command', []],
  ['unknown command', ['lsiten', 'ADDR']],
  ['missing address', ['connect']],
  ['listen --type auto (connect -z only)', ['listen', '-t', 'auto', 'ADDR']],
  ['connect --type auto without -z', ['connect', '-t', 'auto', 'ADDR']],
  ['--max-size abc', ['connect', '--max-size', 'abc', 'ADDR']],
  ['--max-size 0', ['listen', '-t', 'dgram', '--max-size', '0', 'ADDR']],
  ['--wait abc', ['connect', '-t', 'dgram', '--wait', 'abc', 'ADDR']],
  ['--backlog abc', ['listen', '--backlog', 'abc', 'ADDR']],
  ['--as unknown user', ['connect', '--as', 'no-such-user-xyz', 'ADDR']],
];

for (const [what, args] of USAGE_CASES) {
  // --as is refused to non-root users (77) before the user is looked up
  (what.startsWith('--as') ? rootTest : usageTest)(`usage error: ${what} -> 64, one line`, async (t) => {
    const dir = tmpDir(t);
    const r = await runUsock(
      args.map((a) => (a === 'ADDR' ? path.join(dir, 's') : a)),
      { input: '', t },
    );
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr);
    t.is(r.stdout.toString(), '');
    t.deepEqual(fs.readdirSync(dir), [], 'nothing created');
  });
}

test("--version prints a version and exits 0; help COMMAND shows the command's options", async (t) => {
  const v = await runUsock(['--version'], { t });
  t.is(v.code, 0, show(v));
  t.regex(v.stdout.toString(), /^\d+\.\d+\.\d+/);
  const h = await runUsock(['help', 'listen'], { t });
  t.is(h.code, 0, show(h));
  t.true(h.stdout.toString().includes('--keep-open'));
  const h2 = await runUsock(['connect', '--help'], { t });
  t.is(h2.code, 0, show(h2));
  t.true(h2.stdout.toString().includes('--probe'));
});

// ---- permissions -----------------------------------------------------------------------------------------

rootTest('connect as a non-root user to a root-only socket: 77 (EACCES)', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 's');
  await idleStreamServer(t, sock, { mode: '600', python: SYSTEM_PYTHON });
  const r = await runUsock(['connect', sock], { input: '', t, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr);
});

rootTest('listen as a non-root user in a directory it cannot write: 77', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const r = await runUsock(['listen', path.join(dir, 's')], { input: '', t, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr);
});

// ---- closed stdout ---------------------------------------------------------------------------------------

const FLOOD_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
try:
    while True:
        c.sendall(b'x' * 65536)
except OSError:
    pass
`);

// A client that sends to argv[1] as fast as it can until the connection breaks.
const FLOOD_CLIENT = py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
try:
    while True:
        s.sendall(b'y' * 65536)
except OSError:
    pass
`);

/** Starts FLOOD_SERVER on a socket in a fresh temp dir; resolves with the socket's path once it listens. */
async function startFloodServer(t) {
  const sock = path.join(tmpDir(t), 's');
  const srv = python(FLOOD_SERVER, [sock], { t });
  await srv.waitStdout('ready');
  return sock;
}

/** Starts `usock CMD SOCK </dev/null | head -c 10 >/dev/null` in bash with pipefail; returns the shell's process. */
function pipeIntoHead(t, cmd, sock) {
  const p = startProcess(
    'bash',
    ['-c', `set -o pipefail; "$0" "$1" ${cmd} "$2" </dev/null | head -c 10 >/dev/null`, process.execPath, USOCK, sock],
    { t },
  );
  p.end();
  return p;
}

test('connect | head -c 10: usock ends quietly with 0 (pipefail)', async (t) => {
  const sock = await startFloodServer(t);
  const p = pipeIntoHead(t, 'connect', sock);
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
});

test('connect with stdout closed by the reader mid-stream: exit 0, nothing on stderr', async (t) => {
  const sock = await startFloodServer(t);
  const c = usock(['connect', sock], { t });
  c.end();
  await c.waitStdout((s) => s.length > 0);
  c.child.stdout.destroy();
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
});

test('listen | head -c 10 with a flooding Python client: exit 0, socket file removed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const p = pipeIntoHead(t, 'listen', sock);
  await waitListening(sock);
  const cl = python(FLOOD_CLIENT, [sock], { t });
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
  t.false(fs.existsSync(sock));
  await cl.exited;
});

// ---- signals during a transfer ---------------------------------------------------------------------------

test('SIGTERM during a transfer (connect): dies of SIGTERM, no stack trace', async (t) => {
  const sock = await startFloodServer(t);
  const c = usock(['connect', sock], { t });
  c.child.stdout.on('data', () => {}); // keep it flowing
  await c.waitStdout((s) => s.length > 1_000_000);
  c.kill('SIGTERM');
  const r = await c.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.false(/^\s+at /m.test(r.stderr.toString()), r.stderr.toString());
  for (const line of r.stderr.toString().split('\n').filter(Boolean)) t.true(line.startsWith('usock: ') || line.startsWith('hint: '), line);
});

for (const sig of ['SIGINT', 'SIGHUP']) {
  test(`${sig} during a transfer (listen): dies of ${sig}, socket file removed, no stack trace`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const l = usock(['listen', sock], { t });
    await waitListening(sock);
    const cl = python(FLOOD_CLIENT, [sock], { t });
    await l.waitStdout((s) => s.length > 1_000_000);
    l.kill(sig);
    const r = await l.exited;
    t.true(endedBy(r, sig), show(r));
    t.false(fs.existsSync(sock));
    t.false(/^\s+at /m.test(r.stderr.toString()), r.stderr.toString());
    await cl.exited;
  });
}

// ---- colour ----------------------------------------------------------------------------------------------

test('no colour in errors when stderr is not a TTY', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['connect', path.join(dir, 'x')], { input: '', t });
  t.is(r.code, 69);
  t.false(r.stderr.includes('\x1b['), JSON.stringify(r.stderr.toString()));
});

test('no colour with NO_COLOR even on a TTY (script(1) pty): errors and -v diagnostics', async (t) => {
  if (!hasCommand('script')) {
    t.log('script(1) not installed: skipped');
    t.pass();
    return;
  }
  const dir = tmpDir(t);
  const missing = path.join(dir, 'x');
  const cmd = `"${process.execPath}" "${USOCK}" connect -v "${missing}" </dev/null; echo "status=$?"`;
  const p = startProcess('script', ['-qec', cmd, '/dev/null'], { env: { NO_COLOR: '1', TERM: 'xterm-256color' }, t });
  p.end();
  const r = await p.exited;
  const out = r.stdout.toString();
  t.false(out.includes('\x1b['), `colour escapes with NO_COLOR=1: ${JSON.stringify(out)}`);
  t.true(out.includes('status=69'), out);
  t.regex(out, /usock: connect .*No such file or directory/, out);
});

test('connect: a server that closes before any data either way ends usock with 69 (stdin still open)', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 's');
  const srv = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen()
print('ready', flush=True)
c, _ = s.accept()
c.close()
`),
    [p],
    { t },
  );
  await srv.waitStdout('ready');
  const c = usock(['connect', p], { t }); // stdin stays open: nothing has been sent
  const r = await c.exited;
  t.is(r.code, 69, show(r));
  t.regex(r.stderr.toString(), /before any data/);
});

rootTest('connect: a client rejected by the access rules (reset before any reply) ends with 69, its data never on stdout', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 's');
  const l = usock(['listen', '-k', '--allow-uid', '4242', p], { t });
  await waitListening(p);
  const r = await runUsock(['connect', p], { input: 'secret\n'.repeat(1000), t });
  t.is(r.code, 69, show(r));
  l.kill('SIGTERM');
  const lr = await l.exited;
  t.false(lr.stdout.toString().includes('secret'));
  t.regex(lr.stderr.toString(), /rejected pid \d+ uid 0 gid 0/);
});

test('listen -t dgram --exec is a usage error (64) and binds nothing', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['listen', '-t', 'dgram', '--exec', 'cat', path.join(dir, 's')], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr);
  t.deepEqual(fs.readdirSync(dir), []);
});
