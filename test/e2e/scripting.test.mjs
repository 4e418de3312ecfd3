// Ending a conversation from a script: -w/--timeout (idle; 75 when nothing came), -c/--count, connect --retry,
// --no-shutdown, the peer's close after a half-close, and --exec's drain before the close. Python peers.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { usock, runUsock, python, py, tmpDir, abstractName, waitListening, assertCleanError, show, sleep } from '../helpers.mjs';

/** Returns a Python server script: a TYPE socket bound at argv[1] (abstract with '@'), listening; prints 'ready', accepts one client as c, then runs body. */
function acceptOne(type, body) {
  return py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_${type})
srv.bind(addr(sys.argv[1]))
srv.listen(4)
print('ready', flush=True)
c, _ = srv.accept()
${body.trim()}
`);
}

// A stream server at argv[1] that answers each line with 'ok:LINE' and keeps the connection open (until killed).
const KEEPS_OPEN = acceptOne(
  'STREAM',
  `
f = c.makefile('rb')
for line in f:
    c.sendall(b'ok:' + line)
time.sleep(3600)
`,
);

test('connect -w 0.5 to a daemon that answers and keeps the connection open: the answer, then exit 0 after 0.5 s idle', async (t) => {
  const name = '@' + abstractName();
  const srv = python(KEEPS_OPEN, [name], { t });
  await srv.waitStdout('ready');
  const c = usock(['connect', '-w', '0.5', name], { t });
  c.write('show info\n'); // stdin stays open, as in a terminal
  const r = await c.exited; // nothing but -w can end it: a hang is killed at the timeout
  t.false(r.timedOut, show(r));
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'ok:show info\n');
});

test('connect -w 0.3 to a daemon that never answers: 75 with one line', async (t) => {
  const name = '@' + abstractName();
  const srv = python(
    acceptOne(
      'STREAM',
      `
time.sleep(60)
`,
    ),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const c = usock(['connect', '-w', '0.3', name], { t });
  c.write('hello?\n');
  const r = await c.exited;
  t.is(r.code, 75, show(r));
  assertCleanError(t, r.stderr, /timed out after 0\.3 s: the peer sent nothing/);
});

test('listen -w 0.3 with no client: 75 "timed out after 0.3 s waiting for a client", the socket file removed', async (t) => {
  const sock = path.join(tmpDir(t), 's');
  const r = await runUsock(['listen', '-w', '0.3', sock], { t, input: '' });
  t.is(r.code, 75, show(r));
  assertCleanError(t, r.stderr, /timed out after 0\.3 s waiting for a client/);
  t.false(fs.existsSync(sock));
});

test('recv-fd -w 0.3 when no descriptor comes: 75', async (t) => {
  const name = '@' + abstractName();
  const srv = python(KEEPS_OPEN, [name], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['recv-fd', '-w', '0.3', name], { t, input: '' });
  t.is(r.code, 75, show(r));
  assertCleanError(t, r.stderr, /timed out after 0\.3 s waiting for descriptors/);
});

test('peercred --listen -c 2: two records, then exit 0; -w ends a server that got none with 75', async (t) => {
  const name = '@' + abstractName();
  const p = usock(['peercred', '-q', '--listen', '-c', '2', name], { t });
  await waitListening(name);
  for (let i = 0; i < 2; i++) await runUsock(['connect', '-z', name], { t, input: '' });
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString().split('\n').filter(Boolean).length, 2);
  const none = await runUsock(['peercred', '-q', '--listen', '-w', '0.3', '@' + abstractName()], { t, input: '' });
  t.is(none.code, 75, show(none));
});

test('connect -t seqpacket -c 1: a request/reply in one line, exit 0 after the reply although the server keeps the connection', async (t) => {
  const name = '@' + abstractName();
  const srv = python(
    acceptOne(
      'SEQPACKET',
      `
m = c.recv(100)
c.send(b'PONG:' + m)
time.sleep(60)
`,
    ),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const c = usock(['connect', '-t', 'seqpacket', '-c', '1', name], { t });
  c.write('PING\n'); // stdin left open
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'PONG:PING\n');
});

test('listen -k -c 2 and echo-server -c 2: exit 0 after two connections served', async (t) => {
  for (const cmd of [['listen', '-k'], ['echo-server']]) {
    const name = '@' + abstractName();
    const s = usock([...cmd, '-q', '-c', '2', name], { t });
    await waitListening(name);
    for (let i = 0; i < 2; i++) await runUsock(['connect', '-z', name], { t, input: '' });
    const r = await s.exited;
    t.is(r.code, 0, `${cmd.join(' ')}: ${show(r)}`);
  }
});

test('connect --retry 60: waits for a daemon that comes up later, then talks to it; --retry 0.3 on nothing: 75 naming the last error', async (t) => {
  const sock = path.join(tmpDir(t), 'late.sock');
  const c = usock(['connect', '--retry', '60', sock], { t });
  c.end('hello\n');
  await sleep(300); // the daemon comes up later than usock
  t.false(c.done, 'still waiting');
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(4)
c, _ = srv.accept()
c.sendall(b'got:' + recv_all(c))
c.close()
`),
    [sock],
    { t },
  );
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got:hello\n');
  await srv.exited;
  const gone = await runUsock(['connect', '--retry', '0.3', path.join(path.dirname(sock), 'never.sock')], { t, input: '' });
  t.is(gone.code, 75, show(gone));
  assertCleanError(t, gone.stderr, /connect .*never\.sock: timed out after 0\.3 s \(last: No such file or directory\)/);
});

// A server that reads to EOF before it answers, and drops the answer if it saw EOF too early (as redis does with a pipeline).
test('connect --no-shutdown: the write side stays open at stdin EOF; the peer closes first and every reply arrives', async (t) => {
  const name = '@' + abstractName();
  const srv = python(
    acceptOne(
      'STREAM',
      `
data = b''
while not data.endswith(b'QUIT\\n'):
    d = c.recv(100)
    if not d:
        break
    data += d
c.setblocking(False)
time.sleep(0.2)
try:
    eof = c.recv(1) == b''
except BlockingIOError:
    eof = False
c.setblocking(True)
c.sendall(b'eof-seen\\n' if eof else b'all replies\\n')
c.close()
`,
    ),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--no-shutdown', name], { t, input: 'a\nb\nQUIT\n' });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'all replies\n');
});

test('connect: a peer that half-closes keeps getting stdin; its full close a moment later ends usock at once, stdin still open', async (t) => {
  const name = '@' + abstractName();
  const srv = python(
    acceptOne(
      'STREAM',
      `
c.sendall(b'answer\\n')
c.shutdown(socket.SHUT_WR)
got = c.recv(100)
print('got', got.decode().strip(), flush=True)
time.sleep(0.3)
c.close()
time.sleep(60)
`,
    ),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const c = usock(['connect', name], { t });
  await c.waitStdout('answer\n');
  c.write('after half-close\n');
  await srv.waitStdout('got after half-close');
  const r = await c.exited; // stdin is still open
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'answer\n');
});

test('listen -k --exec with a command that does not read the request: the client gets the reply, never a reset', async (t) => {
  const sock = path.join(tmpDir(t), 's');
  const srv = usock(['listen', '-k', '--exec', 'printf "HTTP/1.0 200 OK\\r\\n\\r\\nhello"', sock], { t });
  await waitListening(sock);
  const r = await python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'POST / HTTP/1.0\\r\\nContent-Length: 200000\\r\\n\\r\\n' + b'x' * 200000)
try:
    print(recv_all(s).decode(), end='', flush=True)
except ConnectionResetError:
    print('reset', flush=True)
`),
    [sock],
    { t },
  ).exited;
  t.is(r.stdout.toString(), 'HTTP/1.0 200 OK\r\n\r\nhello', show(r));
  srv.kill('SIGTERM');
});

test('bad values: -w 0, -w -1, -w abc, -c 0, --count on a stream connect, --retry with listen: 64 with one line', async (t) => {
  const name = '@' + abstractName();
  for (const [args, re] of /** @type {Array<[string[], RegExp]>} */ ([
    [['connect', '-w', '0', name], /bad --timeout '0'/],
    [['connect', '-w', 'abc', name], /bad --timeout 'abc'/],
    [['connect', '-t', 'seqpacket', '-c', '0', name], /bad --count '0'/],
    [['connect', '-c', '1', name], /connect: --count does not apply to -t stream/],
    [['listen', '--retry', '1', name], /listen: unknown option --retry/],
    [['connect'], /connect: missing ADDRESS/],
    [['connect', '--wait', 'abc', '-t', 'dgram', name], /bad --wait 'abc'/],
  ])) {
    const r = await runUsock(args, { t, input: '' });
    t.is(r.code, 64, `${args.join(' ')}: ${show(r)}`);
    assertCleanError(t, r.stderr, re);
  }
  const neg = await runUsock(['connect', '-w', '-1', name], { t, input: '' });
  t.is(neg.code, 64, show(neg));
});

test('listen -t dgram -c 2: exactly two datagrams on stdout even when more arrive in one burst, then exit 0', async (t) => {
  const sock = path.join(tmpDir(t), 'd');
  const l = usock(['listen', '-q', '-t', 'dgram', '-c', '2', sock], { t });
  await waitListening(sock, 'dgram');
  const r0 = await python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i, m in enumerate((b'one', b'two', b'three', b'four')):
    try:
        s.sendto(m, sys.argv[1])
    except (FileNotFoundError, ConnectionRefusedError):
        if i < 2: raise  # after two, usock may have exited and removed its socket already
`),
    [sock],
    { t },
  ).exited;
  t.is(r0.code, 0, show(r0));
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'one\ntwo\n');
});
