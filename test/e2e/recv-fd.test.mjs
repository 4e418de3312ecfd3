// End-to-end tests of `usock recv-fd` over stream, seqpacket and dgram, with Python's socket.send_fds and usock send-fd as senders: copying, --info, -- CMD, --max-fds, bad messages and descriptor leaks.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  python,
  py,
  tmpDir,
  waitListening,
  waitUntil,
  assertCleanError,
  endedBy,
  show,
  tmpFiles,
  startProcess,
  hasCommand,
  USOCK,
  SYSTEM_PYTHON,
  rootTest,
} from '../helpers.mjs';

const TYPES = ['stream', 'seqpacket', 'dgram'];

const PY_TYPES = `
TYPES = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET, 'dgram': socket.SOCK_DGRAM}
`;

/** Python client: connect with TYPE to ADDRESS and send MESSAGE with the FILEs (opened read-only) in one send_fds. */
const SEND_FILES = py(
  PY_TYPES +
    `
t, a, message = sys.argv[1], sys.argv[2], sys.argv[3].encode()
fds = [os.open(f, os.O_RDONLY) for f in sys.argv[4:]]
if t == 'dgram':
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(addr(a))
else:
    s = connect_retry(TYPES[t], a)
socket.send_fds(s, [message], fds)
`,
);

/** Python server: bind ADDRESS with TYPE; answer one client (dgram: one request, to its sender) with the FILEs. */
const SERVE_FILES = py(
  PY_TYPES +
    `
import array
t, a = sys.argv[1], sys.argv[2]
fds = [os.open(f, os.O_RDONLY) for f in sys.argv[3:]]
s = socket.socket(socket.AF_UNIX, TYPES[t])
s.bind(addr(a))
if t == 'dgram':
    req, sender = s.recvfrom(100)
    # (socket.send_fds ignores its address argument before Python 3.12)
    s.sendmsg([b'\\0'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))], 0, sender)
else:
    s.listen()
    c, _ = s.accept()
    socket.send_fds(c, [b'\\0'], fds)
    c.close()
`,
);

async function ok(t, p) {
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  return r;
}

for (const type of TYPES) {
  test(`${type}: recv-fd --listen copies each descriptor Python sends to stdout, in order, then removes its socket`, async (t) => {
    const [a, b] = tmpFiles(t, ['first\n', 'second\n']);
    const sock = path.join(path.dirname(a), 's');
    const rx = usock(['recv-fd', '-t', type, '--listen', sock], { t });
    await waitListening(sock, type);
    await ok(t, python(SEND_FILES, [type, sock, 'm', a, b], { t }));
    const r = await ok(t, rx);
    t.is(r.stdout.toString(), 'first\nsecond\n');
    t.is(r.stderr.toString(), '');
    t.false(fs.existsSync(sock));
  });

  test(`${type}: recv-fd as a client takes the descriptors a Python server sends${type === 'dgram' ? ' (after its empty request datagram)' : ''}`, async (t) => {
    const [a, b] = tmpFiles(t, ['alpha ', 'beta']);
    const sock = path.join(path.dirname(a), 's');
    const server = python(SERVE_FILES, [type, sock, a, b], { t });
    await waitListening(sock, type);
    const r = await ok(t, usock(['recv-fd', '-t', type, sock], { t }));
    t.is(r.stdout.toString(), 'alpha beta');
    await ok(t, server);
  });

  test(`${type}: usock on both ends: send-fd --listen with recv-fd, and recv-fd --listen with send-fd`, async (t) => {
    const [a, b] = tmpFiles(t, ['A', 'B']);
    const dir = path.dirname(a);
    const s1 = path.join(dir, 's1');
    const server = usock(['send-fd', '-t', type, '--listen', s1, a, b], { t });
    await waitListening(s1, type);
    const first = await ok(t, usock(['recv-fd', '-t', type, s1], { t }));
    t.is(first.stdout.toString(), 'AB');
    server.kill();
    t.true(endedBy(await server.exited, 'SIGTERM'));

    const s2 = path.join(dir, 's2');
    const rx = usock(['recv-fd', '-t', type, '--listen', s2, '--info'], { t });
    await waitListening(s2, type);
    await ok(t, usock(['send-fd', '-t', type, s2, '--write', a, b], { t }));
    const r = await ok(t, rx);
    t.is(r.stdout.toString(), `0\tfile\t${a}\tO_RDWR\n1\tfile\t${b}\tO_RDWR\n`);
  });
}

/** Python client: send a file opened read-write, the read end of a pipe and one end of a socketpair; print the pipe's and socket's inodes. */
const SEND_KINDS = py(`
a, f = sys.argv[1], sys.argv[2]
r, w = os.pipe()
x, y = socket.socketpair()
fd = os.open(f, os.O_RDWR)
s = connect_retry(socket.SOCK_STREAM, a)
socket.send_fds(s, [b'k'], [fd, r, x.fileno()])
print(os.fstat(r).st_ino, os.fstat(x.fileno()).st_ino)
`);

test('--info: number, kind, target and open flags of a read-write file, a pipe and a socket, tab-separated', async (t) => {
  const [f] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(f), 's');
  const rx = usock(['recv-fd', '--listen', sock, '--info'], { t });
  await waitListening(sock);
  const [pipeIno, sockIno] = (await ok(t, python(SEND_KINDS, [sock, f], { t }))).stdout.toString().trim().split(' ');
  const r = await ok(t, rx);
  t.is(
    r.stdout.toString(),
    [`0\tfile\t${f}\tO_RDWR`, `1\tpipe\tpipe:[${pipeIno}]\tO_RDONLY`, `2\tsocket\tsocket:[${sockIno}]\tO_RDWR`].join('\n') + '\n',
  );
});

test('--info --json: one object per descriptor with index, fd, kind, target, flags and offset', async (t) => {
  const [f] = tmpFiles(t, ['0123456789']);
  const sock = path.join(path.dirname(f), 's');
  const rx = usock(['recv-fd', '-t', 'seqpacket', '--listen', sock, '--info', '--json'], { t });
  await waitListening(sock, 'seqpacket');
  await ok(t, usock(['send-fd', '-t', 'seqpacket', sock, '--append', f, '--fd', '1'], { t, stdio: ['pipe', 'pipe', 'pipe'] }));
  const r = await ok(t, rx);
  const lines = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(lines.length, 2);
  t.like(lines[0], { index: 0, kind: 'file', target: f, flags: ['O_WRONLY', 'O_APPEND'], pos: 0 });
  t.true(Number.isInteger(lines[0].fd));
  // The sender's stdout, as Node's child_process gives it: a socketpair end.
  t.like(lines[1], { index: 1, kind: 'socket' });
  t.regex(lines[1].target, /^socket:\[\d+\]$/);
});

test('--info on a TTY (script(1) pty): a table with a header, no colour under NO_COLOR', async (t) => {
  if (!hasCommand('script')) {
    t.log('script(1) not installed: skipped');
    t.pass();
    return;
  }
  const [f] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(f), 's');
  const cmd = `${process.execPath} ${USOCK} recv-fd --listen ${sock} --info`;
  const p = startProcess('script', ['-qec', cmd, '/dev/null'], { env: { NO_COLOR: '1', TERM: 'xterm-256color' }, t });
  await waitListening(sock);
  await ok(t, usock(['send-fd', sock, '--write', f], { t }));
  const r = await ok(t, p);
  const out = r.stdout.toString();
  t.false(out.includes('\x1b['), out);
  t.regex(out, /│ # +│ kind +│ target +│ flags +│ pos +│/);
  t.regex(out, new RegExp(`│ 0 +│ file +│ ${f} +│ O_RDWR +│ 0 +│`));
});

test('-- CMD ARGS: CMD gets the descriptors at 3, 4 and USOCK_FDS="3 4"; usock exits with its status', async (t) => {
  const [a, b] = tmpFiles(t, ['one', 'two']);
  const sock = path.join(path.dirname(a), 's');
  const child = `
import os, sys
print(os.environ['USOCK_FDS'])
print(os.read(3, 100).decode(), os.read(4, 100).decode())
print(os.readlink('/proc/self/fd/3'), os.readlink('/proc/self/fd/4'))
print(sys.argv[1])
sys.exit(7)
`;
  const rx = usock(['recv-fd', '--listen', sock, '--', SYSTEM_PYTHON, '-c', child, '--not-an-option-of-usock'], { t });
  await waitListening(sock);
  await ok(t, python(SEND_FILES, ['stream', sock, 'x', a, b], { t }));
  const r = await rx.exited;
  t.is(r.code, 7, show(r));
  t.is(r.stdout.toString(), `3 4\none two\n${a} ${b}\n--not-an-option-of-usock\n`);
});

test('-- CMD: a command that cannot be run is one error line, exit 1', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(a), 's');
  const rx = usock(['recv-fd', '--listen', sock, '--', '/nonexistent/cmd'], { t });
  await waitListening(sock);
  await ok(t, python(SEND_FILES, ['stream', sock, 'x', a], { t }));
  const r = await rx.exited;
  t.is(r.code, 1, show(r));
  assertCleanError(t, r.stderr, /^usock: cannot run \/nonexistent\/cmd: No such file or directory \(ENOENT\)$/);
});

test('--info with -- CMD, and --max-fds out of range, are usage errors (64)', async (t) => {
  const both = await runUsock(['recv-fd', '/nonexistent/s', '--info', '--', 'true'], { t });
  t.is(both.code, 64, show(both));
  assertCleanError(t, both.stderr, /--info and -- CMD/);
  for (const n of ['0', '254']) {
    const r = await runUsock(['recv-fd', '/nonexistent/s', '--max-fds', n], { t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, /bad --max-fds/);
  }
});

for (const type of ['stream', 'dgram']) {
  test(`${type}: a message without descriptors is exit 65 (EX_DATAERR), not a hang`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const rx = usock(['recv-fd', '-t', type, '--listen', sock], { t });
    await waitListening(sock, type);
    await ok(
      t,
      python(
        py(
          PY_TYPES +
            `
s = socket.socket(socket.AF_UNIX, TYPES[sys.argv[1]])
s.connect(sys.argv[2])
s.send(b'plain')
time.sleep(0.2)
`,
        ),
        [type, sock],
        { t },
      ),
    );
    const r = await rx.exited;
    t.is(r.code, 65, show(r));
    assertCleanError(t, r.stderr, /^usock: received a message of 5 bytes without descriptors$/);
  });
}

test('a peer that closes without sending anything: exit 69', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  for (const type of ['stream', 'seqpacket']) {
    const server = python(
      py(
        PY_TYPES +
          `
s = socket.socket(socket.AF_UNIX, TYPES[sys.argv[1]])
s.bind(sys.argv[2]); s.listen()
c, _ = s.accept()
c.close()
os.unlink(sys.argv[2])
`,
      ),
      [type, sock],
      { t },
    );
    await waitListening(sock, type);
    const r = await runUsock(['recv-fd', '-t', type, sock], { t });
    t.is(r.code, 69, show(r));
    assertCleanError(t, r.stderr, /closed the connection without sending descriptors/);
    await ok(t, server);
  }
});

test('--max-fds N: extras are closed at once with a warning; CMD sees only N descriptors', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(a), 's');
  // CMD prints USOCK_FDS and which of its descriptors point at the file sent.
  const child = `
import os, sys
print(os.environ['USOCK_FDS'])
fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + fd) and os.readlink('/proc/self/fd/' + fd) == sys.argv[1])
print(' '.join(map(str, fds)))
`;
  const rx = usock(['recv-fd', '-t', 'seqpacket', '--listen', sock, '--max-fds', '3', '--', SYSTEM_PYTHON, '-c', child, a], { t });
  await waitListening(sock, 'seqpacket');
  await ok(t, python(SEND_FILES, ['seqpacket', sock, 'x', ...Array(10).fill(a)], { t }));
  const r = await ok(t, rx);
  t.is(r.stdout.toString(), '3 4 5\n3 4 5\n');
  t.is(r.stderr.toString(), 'usock: closed 7 descriptors beyond --max-fds 3\n');
});

test('no descriptor leak: 253 descriptors with --max-fds 64; usock closes the extras at once and its own copies once CMD has them', async (t) => {
  const [marker] = tmpFiles(t, ['m']);
  const sock = path.join(path.dirname(marker), 's');
  // CMD counts the descriptors pointing at the marker: its own, and (until it drops to 0) its parent usock's.
  const child = `
import os, sys, time
marker = sys.argv[1]
def count(pid):
    n = 0
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == marker:
                n += 1
        except OSError:
            pass
    return n
mine = count(os.getpid())
for i in range(2000):
    parent = count(os.getppid())
    if parent == 0:
        break
    time.sleep(0.01)
print(mine, parent)
`;
  const rx = usock(['recv-fd', '--listen', sock, '--max-fds', '64', '--', SYSTEM_PYTHON, '-c', child, marker], { t });
  await waitListening(sock);
  await ok(t, python(SEND_FILES, ['stream', sock, 'x', ...Array(253).fill(marker)], { t }));
  const r = await ok(t, rx);
  t.is(r.stdout.toString(), '64 0\n');
  t.is(r.stderr.toString(), 'usock: closed 189 descriptors beyond --max-fds 64\n');
});

test('copying never blocks: a blocking pipe and a non-blocking pipe written later are copied whole, in order', async (t) => {
  const [after] = tmpFiles(t, ['|file']);
  const sock = path.join(path.dirname(after), 's');
  const rx = usock(['recv-fd', '--listen', sock], { t });
  await waitListening(sock);
  await ok(
    t,
    python(
      py(`
import fcntl
a, f = sys.argv[1], sys.argv[2]
r1, w1 = os.pipe()
r2, w2 = os.pipe()
os.set_blocking(r2, False)
s = connect_retry(socket.SOCK_STREAM, a)
socket.send_fds(s, [b'\\0'], [r1, r2, os.open(f, os.O_RDONLY)])
os.close(r1); os.close(r2)
for i in range(5):
    time.sleep(0.05)
    os.write(w1, b'b%d' % i)
    os.write(w2, b'n%d' % i)
os.close(w1); os.close(w2)
`),
      [sock, after],
      { t },
    ),
  );
  const r = await ok(t, rx);
  t.is(r.stdout.toString(), 'b0b1b2b3b4n0n1n2n3n4|file');
});

test('a descriptor that cannot be read (a directory) is reported and ends with 74; the others are still copied', async (t) => {
  const [a, b] = tmpFiles(t, ['A', 'B']);
  const dir = path.dirname(a);
  const sock = path.join(dir, 's');
  const rx = usock(['recv-fd', '--listen', sock], { t });
  await waitListening(sock);
  await ok(t, python(SEND_FILES, ['stream', sock, 'x', a, dir, b], { t }));
  const r = await rx.exited;
  t.is(r.code, 74, show(r));
  t.is(r.stdout.toString(), 'AB');
  assertCleanError(t, r.stderr, new RegExp(`^usock: descriptor 1 \\(directory ${dir}\\): .*EISDIR`));
});

rootTest(
  'dgram --listen with access rules: a sender no rule admits is reported, its descriptors closed, and usock keeps waiting',
  async (t) => {
    const [a] = tmpFiles(t, ['x']);
    const sock = path.join(path.dirname(a), 's');
    const other = process.getuid?.() === 4242 ? 4243 : 4242;
    const rx = usock(['recv-fd', '-t', 'dgram', '--listen', sock, '--allow-uid', String(other)], { t });
    await waitListening(sock, 'dgram');
    await ok(t, python(SEND_FILES, ['dgram', sock, 'x', a], { t }));
    await rx.waitStderr((s) => /rejected datagram from pid \d+/.test(s));
    await waitUntil(
      () =>
        !fs.readdirSync(`/proc/${rx.pid}/fd`).some((fd) => {
          try {
            return fs.readlinkSync(`/proc/${rx.pid}/fd/${fd}`) === a;
          } catch {
            return false;
          }
        }),
      10_000,
      'the rejected descriptor closed',
    );
    t.false(rx.done);
    rx.kill();
    t.true(endedBy(await rx.exited, 'SIGTERM'));
  },
);
