// End-to-end tests of inherited sockets (fd:N, sd:NAME, sd:): a Python launcher (test/fixtures/inherit.py) makes the sockets,
// puts them on fixed descriptors, sets LISTEN_* and execs usock (same pid); listen, echo-server, tap, --listen and connect
// serve on them with the socket's own type, never remove their file, and refuse every mismatch with one line and 64.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  abstractName,
  assertCleanError,
  endedBy,
  FIXTURES,
  PYTHON,
  py,
  runPython,
  show,
  startProcess,
  tmpDir,
  usock,
  USOCK,
  waitListening,
} from '../helpers.mjs';
import { HAS_REDIS, startRedis } from '../daemons.mjs';

const TYPES = ['stream', 'seqpacket', 'dgram'];

/** Starts usock ARGS under the launcher with spec (see test/fixtures/inherit.py); opts as startProcess's. */
function launch(t, spec, args, opts = {}) {
  return startProcess(PYTHON, ['-B', path.join(FIXTURES, 'inherit.py'), JSON.stringify(spec), process.execPath, USOCK, ...args], {
    t,
    ...opts,
  });
}

/** Runs usock ARGS under the launcher to its end with stdin at EOF; returns its result. */
async function launched(t, spec, args, opts = {}) {
  const p = launch(t, spec, args, opts);
  p.end(opts.input ?? '');
  return p.exited;
}

/** Asserts that usock ARGS under spec exits 64 with one line matching re. */
async function refused(t, spec, args, re) {
  const r = await launched(t, spec, args);
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, re);
}

/** A socket of kind bound at sock (listening unless a dgram) on descriptor fd. */
const served = (kind, sock, fd = 3) => ({ fd, kind, bind: sock, listen: kind !== 'dgram' });

/** The LISTEN_* of n sockets for the launched process itself, named names (a list) when given. */
const activation = (n, names) => ({ LISTEN_FDS: String(n), LISTEN_PID: 'self', ...(names ? { LISTEN_FDNAMES: names.join(':') } : {}) });

/** Python: sends argv[3] to the echo server at argv[1] (type argv[2]) and prints what comes back. */
const ECHO_CLIENT = py(`
kind = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET, 'dgram': socket.SOCK_DGRAM}[sys.argv[2]]
s = socket.socket(socket.AF_UNIX, kind)
if kind == socket.SOCK_DGRAM:
    s.bind('')
    s.sendto(sys.argv[3].encode(), addr(sys.argv[1]))
else:
    s.connect(addr(sys.argv[1]))
    s.sendall(sys.argv[3].encode())
s.settimeout(60)
sys.stdout.write(s.recv(1000).decode())
`);

/** Asserts that the echo server at sock (type) echoes a message. */
async function assertEchoes(t, sock, type) {
  const r = await runPython(ECHO_CLIENT, [sock, type, `hello ${type}`], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), `hello ${type}`);
}

for (const type of TYPES) {
  test(`echo-server fd:3 serves an inherited ${type} socket with its own type (no -t), keeps its file at exit, and says so with -v`, async (t) => {
    const sock = path.join(tmpDir(t), 'e.sock');
    const e = launch(t, { fds: [served(type, sock)] }, ['echo-server', '-v', 'fd:3']);
    await e.waitStderr('listening');
    t.regex(e.errText(), new RegExp(`listening on fd:3 \\(${sock.replace(/[/.]/g, '\\$&')}, ${type}, inherited\\)`));
    await assertEchoes(t, sock, type);
    e.kill('SIGTERM');
    const r = await e.exited;
    t.true(endedBy(r, 'SIGTERM'), show(r));
    t.true(fs.lstatSync(sock).isSocket(), "the inherited socket's file stays");
  });
}

test('echo-server fd:N: the descriptor is made non-blocking and close-on-exec (fdinfo flags), and -t of its own type is accepted', async (t) => {
  const sock = path.join(tmpDir(t), 'e.sock');
  // Node makes inherited descriptors close-on-exec at start-up from 0 up to the first closed one above 15 (libuv's
  // uv_disable_stdio_inheritance): on 40, the flag is usock's doing.
  const e = launch(t, { fds: [served('seqpacket', sock, 40)] }, ['echo-server', '-v', '-t', 'seqpacket', 'fd:40']);
  await e.waitStderr('listening');
  const flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${e.pid}/fdinfo/40`, 'utf8'))?.[1] ?? '', 8);
  t.truthy(flags & 0o4000, `O_NONBLOCK in ${flags.toString(8)}`);
  t.truthy(flags & 0o2000000, `O_CLOEXEC in ${flags.toString(8)}`);
  await assertEchoes(t, sock, 'seqpacket');
  e.kill('SIGTERM');
  await e.exited;
});

test('echo-server fd:N on an abstract inherited socket warns that anyone may connect', async (t) => {
  const name = `@${abstractName()}`;
  const e = launch(t, { fds: [served('stream', name)] }, ['echo-server', 'fd:3']);
  await e.waitStderr('anyone');
  t.regex(e.errText(), new RegExp(`fd:3 \\(${name}\\) is an abstract address`));
  await assertEchoes(t, name, 'stream');
  e.kill('SIGTERM');
  await e.exited;
});

test('listen fd:3 relays one stream client to stdout, ends with it, and leaves the socket file', async (t) => {
  const sock = path.join(tmpDir(t), 'l.sock');
  const l = launch(t, { fds: [served('stream', sock)] }, ['listen', 'fd:3']);
  l.end();
  const c = await runPython(py('s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); s.sendall(b"from the client"); s.close()'), [sock], {
    t,
  });
  t.is(c.code, 0, show(c));
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from the client');
  t.true(fs.lstatSync(sock).isSocket());
});

test('listen fd:3 on an inherited dgram socket takes its type: -c 1 receives one datagram', async (t) => {
  const sock = path.join(tmpDir(t), 'd.sock');
  const l = launch(t, { fds: [served('dgram', sock)] }, ['listen', '-c', '1', 'fd:3']);
  l.end();
  await waitListening(sock, 'dgram');
  const c = await runPython(py('s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"one datagram", sys.argv[1])'), [sock], {
    t,
  });
  t.is(c.code, 0, show(c));
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'one datagram\n');
  t.true(fs.lstatSync(sock).isSocket());
});

test('listen -k --exec on sd:NAME: the command sees no LISTEN_* and none of the passed descriptors', async (t) => {
  const dir = tmpDir(t);
  const fds = Array.from({ length: 3 }, (_, i) => served('stream', path.join(dir, `s${i + 3}.sock`), i + 3));
  const sock = fds[0].bind;
  const l = launch(
    t,
    {
      fds,
      env: activation(
        3,
        fds.map((f) => `s${f.fd}`),
      ),
    },
    [
      'listen',
      '-k',
      '-v',
      '--exec',
      'env | grep ^LISTEN_; for f in /proc/$$/fd/*; do echo "fd $(basename $f) $(readlink $f)"; done; echo done',
      'sd:s3',
    ],
  );
  l.end();
  await l.waitStderr('listening');
  const c = await runPython(
    py('s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); s.shutdown(socket.SHUT_WR); sys.stdout.write(recv_all(s).decode())'),
    [sock],
    { t },
  );
  t.is(c.code, 0, show(c));
  const lines = c.stdout.toString().trim().split('\n');
  t.is(lines.at(-1), 'done', show(c));
  t.false(
    lines.some((line) => line.startsWith('LISTEN_')),
    show(c),
  );
  t.true(lines.includes(lines.find((line) => /^fd 0 socket:/.test(line))), `stdin is the connection: ${show(c)}`);
  const passedOn = lines.filter((line) => /^fd (\d+) socket:/.test(line) && Number(line.split(' ')[1]) > 2);
  t.deepEqual(passedOn, [], 'no inherited socket reaches the command');
  l.kill('SIGTERM');
  await l.exited;
});

test('tap fd:3 TARGET records a conversation through the inherited socket and leaves its file', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'tap.sock');
  const target = path.join(dir, 'target.sock');
  const echo = usock(['echo-server', target], { t });
  echo.end();
  await waitListening(target);
  const tap = launch(t, { fds: [served('stream', sock)] }, ['tap', '-c', '1', 'fd:3', target]);
  tap.end();
  await waitListening(sock);
  await assertEchoes(t, sock, 'stream');
  const r = await tap.exited;
  t.is(r.code, 0, show(r));
  t.regex(r.stderr.toString(), /hello stream/);
  t.true(fs.lstatSync(sock).isSocket());
  echo.kill('SIGTERM');
  await echo.exited;
});

test('peercred --listen fd:3 reports the client of an inherited socket', async (t) => {
  const sock = path.join(tmpDir(t), 'p.sock');
  const p = launch(t, { fds: [served('stream', sock)] }, ['peercred', '--listen', '--json', '-c', '1', 'fd:3']);
  p.end();
  const c = await runPython(py('s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); print(os.getpid()); recv_all(s)'), [sock], { t });
  t.is(c.code, 0, show(c));
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(JSON.parse(r.stdout.toString().trim().split('\n')[0]).pid, Number(c.stdout.toString().trim()));
});

test('send-fd --listen fd:3 and recv-fd --listen fd:3 serve on inherited sockets of their own type (seqpacket, dgram)', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'from a file');
  const s1 = path.join(dir, 's1');
  const server = launch(t, { fds: [served('seqpacket', s1)] }, ['send-fd', '--listen', 'fd:3', file]);
  server.end();
  await waitListening(s1, 'seqpacket');
  const got = usock(['recv-fd', '-t', 'seqpacket', s1], { t });
  got.end();
  const r1 = await got.exited;
  t.is(r1.code, 0, show(r1));
  t.is(r1.stdout.toString(), 'from a file');
  server.kill('SIGTERM');
  await server.exited;
  t.true(fs.lstatSync(s1).isSocket());

  const s2 = path.join(dir, 's2');
  const rx = launch(t, { fds: [served('dgram', s2)] }, ['recv-fd', '--listen', 'fd:3']);
  rx.end();
  await waitListening(s2, 'dgram');
  const sent = usock(['send-fd', '-t', 'dgram', s2, file], { t });
  sent.end();
  t.is((await sent.exited).code, 0);
  const r2 = await rx.exited;
  t.is(r2.code, 0, show(r2));
  t.is(r2.stdout.toString(), 'from a file');
  t.true(fs.lstatSync(s2).isSocket());
});

for (const type of TYPES) {
  test(`connect fd:3 relays stdio over an inherited connected ${type} socket (its own type)`, async (t) => {
    const target = path.join(tmpDir(t), 'echo.sock');
    const echo = usock(['echo-server', '-t', type, target], { t });
    echo.end();
    await waitListening(target, type);
    const r = await launched(
      t,
      { fds: [{ fd: 3, kind: type, connect: target, ...(type === 'dgram' ? { bind: '' } : {}) }] },
      ['connect', ...(type === 'dgram' ? ['-c', '1'] : []), 'fd:3'],
      { input: 'over fd 3\n' },
    );
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), 'over fd 3\n');
    echo.kill('SIGTERM');
    await echo.exited;
  });
}

test('connect sd: relays stdio over the one connected socket socket activation passed (as with Accept=yes)', async (t) => {
  const target = path.join(tmpDir(t), 'echo.sock');
  const echo = usock(['echo-server', '-t', 'seqpacket', target], { t });
  echo.end();
  await waitListening(target, 'seqpacket');
  const r = await launched(
    t,
    { fds: [{ fd: 3, kind: 'seqpacket', connect: target }], env: activation(1, ['connection']) },
    ['connect', 'sd:connection'],
    { input: 'over sd\n' },
  );
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'over sd\n');
  echo.kill('SIGTERM');
  await echo.exited;
});

test('echo-server sd: serves the one socket socket activation passed, with LISTEN_PID its own pid', async (t) => {
  const sock = path.join(tmpDir(t), 'a.sock');
  const e = launch(t, { fds: [served('dgram', sock)], env: activation(1) }, ['echo-server', '-v', 'sd:']);
  await e.waitStderr('listening');
  await assertEchoes(t, sock, 'dgram');
  e.kill('SIGTERM');
  t.true(endedBy(await e.exited, 'SIGTERM'));
  t.true(fs.lstatSync(sock).isSocket());
});

test('echo-server sd:NAME picks the socket of that name among several (LISTEN_FDNAMES in descriptor order)', async (t) => {
  const dir = tmpDir(t);
  const [a, b] = [path.join(dir, 'a.sock'), path.join(dir, 'b.sock')];
  const e = launch(t, { fds: [served('stream', a), served('seqpacket', b, 4)], env: activation(2, ['first', 'second']) }, [
    'echo-server',
    '-v',
    'sd:second',
  ]);
  await e.waitStderr('listening');
  t.regex(e.errText(), /listening on sd:second \(.*b\.sock, seqpacket, inherited\)/);
  await assertEchoes(t, b, 'seqpacket');
  e.kill('SIGTERM');
  await e.exited;
});

// ---- under usock activate: its hand-over is what usock's sd: reads ---------------------------------------------

test('usock activate app.sock -- usock echo-server sd:: the first client starts the echo-server, which answers it and later ones', async (t) => {
  const sock = path.join(tmpDir(t), 'app.sock');
  const a = usock(['activate', sock, '--', process.execPath, USOCK, 'echo-server', '-v', 'sd:'], { t });
  a.end();
  await waitListening(sock);
  await assertEchoes(t, sock, 'stream');
  t.regex(a.errText(), /echo-server: listening on sd: \(.*app\.sock, stream, inherited\)/);
  await assertEchoes(t, sock, 'stream');
  a.kill('SIGTERM');
  await a.exited;
});

test("usock activate -t seqpacket x.sock -- usock echo-server sd:x.sock: the name activate gives, and the socket's type without -t", async (t) => {
  const sock = path.join(tmpDir(t), 'x.sock');
  const a = usock(['activate', '-t', 'seqpacket', sock, '--', process.execPath, USOCK, 'echo-server', 'sd:x.sock'], { t });
  a.end();
  await waitListening(sock, 'seqpacket');
  await assertEchoes(t, sock, 'seqpacket');
  a.kill('SIGTERM');
  await a.exited;
});

(HAS_REDIS ? test : test.skip)(
  `tap sd: in front of redis-server under usock activate: PING answered through it and recorded${HAS_REDIS ? '' : ' [skipped: redis-server is not installed]'}`,
  async (t) => {
    const redis = await startRedis(t);
    const sock = path.join(tmpDir(t), 'tap.sock');
    const a = usock(['activate', sock, '--', process.execPath, USOCK, 'tap', 'sd:', redis], { t });
    a.end();
    await waitListening(sock);
    const c = await runPython(
      py('s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); s.sendall(b"PING\\r\\n"); s.settimeout(60); print(s.recv(100))'),
      [sock],
      { t },
    );
    t.is(c.code, 0, show(c));
    t.is(c.stdout.toString().trim(), "b'+PONG\\r\\n'");
    await a.waitStderr('+PONG');
    t.regex(a.errText(), /PING/);
    a.kill('SIGTERM');
    await a.exited;
  },
);

// ---- refusals: each a usage error (64) in one line -------------------------------------------------------------

test('fd:N refusals: missing descriptor, a pipe, a file, not AF_UNIX, descriptors 0-2, fd:x', async (t) => {
  await refused(t, {}, ['echo-server', 'fd:1000'], /fd:1000: descriptor 1000 is not open/);
  await refused(t, { fds: [{ fd: 3, kind: 'pipe' }] }, ['echo-server', 'fd:3'], /fd:3: descriptor 3 is not a socket \(FIFO\)/);
  await refused(t, { fds: [{ fd: 5, kind: 'file' }] }, ['listen', 'fd:5'], /fd:5: descriptor 5 is not a socket \(character device\)/);
  await refused(t, { fds: [{ fd: 3, kind: 'tcp' }] }, ['echo-server', 'fd:3'], /fd:3: descriptor 3 is not a Unix socket \(AF_INET\)/);
  await refused(t, {}, ['echo-server', 'fd:0'], /fd:0: descriptors 0, 1 and 2 are usock's standard/);
  await refused(t, {}, ['echo-server', 'fd:x'], /bad address 'fd:x'/);
});

test('fd:N refusals: another type than -t, not listening, an unbound dgram socket, --mode, --backlog', async (t) => {
  const dir = tmpDir(t);
  await refused(
    t,
    { fds: [served('stream', path.join(dir, 'a.sock'))] },
    ['echo-server', '-t', 'dgram', 'fd:3'],
    /fd:3: descriptor 3 is a stream socket: -t dgram does not match/,
  );
  await refused(
    t,
    { fds: [{ fd: 3, kind: 'seqpacket', bind: path.join(dir, 'b.sock') }] },
    ['listen', 'fd:3'],
    /descriptor 3 is a seqpacket socket that does not listen/,
  );
  await refused(t, { fds: [{ fd: 3, kind: 'stream' }] }, ['echo-server', 'fd:3'], /descriptor 3 is a stream socket that does not listen/);
  await refused(t, { fds: [{ fd: 3, kind: 'dgram' }] }, ['echo-server', 'fd:3'], /descriptor 3 is a dgram socket that is not bound/);
  await refused(
    t,
    { fds: [served('stream', path.join(dir, 'c.sock'))] },
    ['listen', '--mode', '0600', 'fd:3'],
    /--mode does not apply to fd:3/,
  );
  await refused(
    t,
    { fds: [served('stream', path.join(dir, 'd.sock'))] },
    ['echo-server', '--backlog', '5', 'fd:3'],
    /--backlog does not apply to fd:3/,
  );
});

test('sd: refusals: nothing passed, LISTEN_PID of another process, no such name, several sockets for sd:, a name two share', async (t) => {
  const dir = tmpDir(t);
  let n = 0;
  /** Two stream sockets on descriptors 3 and 4, at new paths (an inherited socket's file stays after the run). */
  const two = () => [served('stream', path.join(dir, `a${++n}.sock`)), served('stream', path.join(dir, `b${n}.sock`), 4)];
  await refused(t, { fds: [two()[0]] }, ['echo-server', 'sd:'], /sd:: no socket was passed by socket activation/);
  await refused(
    t,
    { fds: [two()[0]], env: { ...activation(1), LISTEN_PID: 'parent' } },
    ['echo-server', 'sd:'],
    /sd:: LISTEN_PID is \d+, not usock's pid \d+/,
  );
  await refused(
    t,
    { fds: two(), env: activation(2, ['web', 'admin']) },
    ['echo-server', 'sd:api'],
    /sd:api: no socket named api was passed \(named web, admin\)/,
  );
  await refused(
    t,
    { fds: two(), env: activation(2, ['web', 'admin']) },
    ['echo-server', 'sd:'],
    /sd:: 2 sockets were passed \(named web, admin\): name one/,
  );
  await refused(
    t,
    { fds: two(), env: activation(2, ['web', 'web']) },
    ['echo-server', 'sd:web'],
    /sd:web: 2 sockets are named web \(descriptors 3, 4\)/,
  );
  await refused(
    t,
    { fds: two(), env: activation(2, ['web']) },
    ['echo-server', 'sd:web'],
    /LISTEN_FDNAMES names 1 sockets, LISTEN_FDS passes 2/,
  );
});

test('connect fd:N refusals: a listening socket, an unconnected one, -z, --bind; a path-only command given fd: or sd:', async (t) => {
  const dir = tmpDir(t);
  await refused(
    t,
    { fds: [served('stream', path.join(dir, 'a.sock'))] },
    ['connect', 'fd:3'],
    /descriptor 3 is a listening stream socket: connect needs a connected one/,
  );
  await refused(
    t,
    { fds: [{ fd: 3, kind: 'seqpacket' }] },
    ['connect', 'fd:3'],
    /descriptor 3 is a seqpacket socket that is not connected/,
  );
  await refused(t, {}, ['connect', '-z', 'fd:3'], /--probe does not apply to fd:3/);
  await refused(t, {}, ['connect', '--bind', path.join(dir, 'b.sock'), 'fd:3'], /--bind does not apply to fd:3/);
  await refused(t, {}, ['send-fd', 'fd:3', '/dev/null'], /fd:3: an inherited socket does not apply here/);
  await refused(t, {}, ['who-can', 'sd:'], /sd:: an inherited socket does not apply here/);
  await refused(t, {}, ['ls', 'fd:3'], /ls: fd:3 names an inherited socket/);
  await refused(
    t,
    { fds: [served('stream', path.join(dir, 'c.sock'))] },
    ['tap', '--inplace', 'fd:3'],
    /--inplace fd:3: needs a socket file's path/,
  );
});
