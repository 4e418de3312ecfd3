// usock must record the O_NONBLOCK flag of its stdout at start and put it back at exit, however it exits
// (end of work, or a signal: SIGTERM): the file description is shared with the shell and the other programs
// of a pipeline, which expect a blocking descriptor. A Python wrapper gives usock a blocking pipe (or a pty's
// slave) as stdout and checks that shared file description after usock has ended.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import path from 'node:path';
import { USOCK, usock, python, tmpDir, waitListening, show } from '../helpers.mjs';

// argv[1]: 'pipe' or 'pty'; argv[2]: 'eof' (stdin gets 'one\ntwo\n' then EOF) or 'signal' (stdin gets
// 'one\ntwo\n' and stays open; at a line on the wrapper's stdin, usock gets SIGTERM); argv[3:]: the command.
// Prints 'pid N', 'output N' each time output arrives (N: bytes so far), and at the end one JSON line: rc,
// out, and stdout's blocking flag, status flags (and termios for a pty) before and after. With WANT_OUT=N in its
// environment it waits (bounded) for N bytes of output before it prints that line.
const WRAPPER = `
import os, sys, json, subprocess, threading, termios, pty, fcntl, signal, time
kind, how, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
if kind == 'pipe':
    r, w = os.pipe()
else:
    r, w = pty.openpty()  # master, slave
    attrs = termios.tcgetattr(w)
    attrs[3] &= ~termios.ECHO
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(w, termios.TCSANOW, attrs)
os.set_blocking(w, True)
def state():
    s = {'blocking': os.get_blocking(w), 'flags': fcntl.fcntl(w, fcntl.F_GETFL)}
    if kind == 'pty':
        s['termios'] = [x if not isinstance(x, list) else [list(c) if isinstance(c, bytes) else c for c in x] for x in termios.tcgetattr(w)]
    return s
before = state()
out = []
def reader():
    while True:
        try:
            d = os.read(r, 65536)
        except OSError:
            break
        if not d:
            break
        out.append(d)
        print('output %d' % sum(map(len, out)), flush=True)
th = threading.Thread(target=reader, daemon=True)
th.start()
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=w)
print('pid %d' % p.pid, flush=True)
p.stdin.write(b'one\\ntwo\\n')
p.stdin.flush()
if how == 'eof':
    p.stdin.close()
else:
    sys.stdin.readline()
    p.send_signal(signal.SIGTERM)
try:
    p.wait(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
after = state()
want = int(os.environ.get('WANT_OUT', '0'))
deadline = time.time() + 60
while sum(map(len, out)) < want and time.time() < deadline:
    time.sleep(0.01)
print(json.dumps({'rc': p.returncode, 'out': b''.join(out).decode('latin1'), 'before': before, 'after': after}, default=repr), flush=True)
`;

/** Starts the wrapper around `usock ARGS` (want: bytes of output to wait for); returns the handle and a function giving the final JSON result. */
function wrapped(t, kind, how, args, want = 0) {
  const w = python(WRAPPER, [kind, how, process.execPath, USOCK, ...args], { t, env: { WANT_OUT: String(want) } });
  t.teardown(() => {
    const m = /pid (\d+)/.exec(w.text());
    if (m)
      try {
        process.kill(Number(m[1]), 'SIGKILL');
      } catch {
        /* gone */
      }
  });
  const result = async () => {
    const r = await w.exited;
    t.is(r.code, 0, show(r));
    return JSON.parse(r.stdout.toString().trim().split('\n').pop());
  };
  return { w, result };
}

async function echoServer(t) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'echo');
  usock(['echo-server', sock], { t });
  await waitListening(sock, 'stream');
  return sock;
}

function assertRestored(t, res) {
  t.true(res.before.blocking, 'stdout starts blocking');
  t.true(
    res.after.blocking,
    `usock left its stdout non-blocking (status flags before 0${res.before.flags.toString(8)}, after 0${res.after.flags.toString(8)}); rc ${res.rc}`,
  );
  t.is(res.after.flags, res.before.flags, 'stdout status flags as before');
  if (res.before.termios) t.deepEqual(res.after.termios, res.before.termios, 'termios attributes as before');
}

for (const kind of ['pipe', 'pty']) {
  test(`connect, ended by SIGTERM, with a blocking ${kind} as stdout: ${kind === 'pty' ? 'the terminal is as before' : 'blocking again'} after usock dies`, async (t) => {
    const sock = await echoServer(t);
    const { w, result } = wrapped(t, kind, 'signal', ['connect', sock]);
    await w.waitStdout((s) => Math.max(0, ...[...s.matchAll(/output (\d+)/g)].map((m) => Number(m[1]))) >= 8); // the echo is out
    w.end('kill\n');
    const res = await result();
    t.is(res.rc, -15, `usock dies of SIGTERM: ${JSON.stringify(res)}`);
    t.is(res.out, 'one\ntwo\n');
    assertRestored(t, res);
  });
}

test('echo-server, ended by SIGTERM, with a blocking pipe as stdout: blocking again after it dies', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'echo');
  const { w, result } = wrapped(t, 'pipe', 'signal', ['echo-server', sock]);
  await waitListening(sock, 'stream');
  w.end('kill\n');
  const res = await result();
  t.is(res.rc, -15, JSON.stringify(res));
  assertRestored(t, res);
});

test('listen, ended by SIGTERM while waiting for a client, with a blocking pipe as stdout: blocking again', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const { w, result } = wrapped(t, 'pipe', 'signal', ['listen', sock]);
  await waitListening(sock, 'stream');
  w.end('kill\n');
  const res = await result();
  t.is(res.rc, -15, JSON.stringify(res));
  assertRestored(t, res);
});

// Guards (these pass on the current code, as does the pty case above: libuv reopens a tty rather than share its
// file description): the normal end of work restores stdout too.
for (const kind of ['pipe', 'pty']) {
  test(`connect to its end (stdin EOF) with a blocking ${kind} as stdout: stdout as before afterwards`, async (t) => {
    const sock = await echoServer(t);
    const { result } = wrapped(t, kind, 'eof', ['connect', sock], 'one\ntwo\n'.length);
    const res = await result();
    t.is(res.rc, 0, JSON.stringify(res));
    t.is(res.out, 'one\ntwo\n');
    assertRestored(t, res);
  });
}
