// Busy loops: usock must wait for the kernel (poll) instead of spinning when it cannot make progress: accept
// failing with EMFILE, connect to a listener whose backlog is full (EAGAIN), a stdout pipe nobody reads.
// "CPU near idle" is measured from /proc/PID/stat (utime + stime) over a ~1 s window.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  USOCK, usock, startProcess, python, py, tmpDir, waitListening, waitUntil, writeRandomFile, endedBy, show, sleep,
} from '../helpers.mjs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU time (user + system) of pid so far, in seconds. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 (utime) and 15 (stime)
}

/** Returns the share of one CPU that pid used over the next ~ms milliseconds (0..1+). */
async function cpuShare(pid, ms = 1000) {
  const c0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const c1 = cpuSeconds(pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return (c1 - c0) / wall;
}

/** Waits until pid has settled after start-up: its CPU time stops growing for 200 ms (or 3 s pass). */
async function settled(pid) {
  const end = Date.now() + 1500;
  let last = cpuSeconds(pid);
  while (Date.now() < end) {
    await sleep(200);
    const now = cpuSeconds(pid);
    if (now - last < 0.02) return;
    last = now;
  }
}

const MAX_SHARE = 0.2;

// Opens argv[2] stream connections to argv[1] and keeps them open; says 'open N'; closes them all at a line on stdin.
const HOLD_CLIENTS = py(`
socks = [connect_retry(socket.SOCK_STREAM, sys.argv[1]) for _ in range(int(sys.argv[2]))]
print('open %d' % len(socks), flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
print('closed', flush=True)
time.sleep(30)
`);

test('echo-server under ulimit -n 40 with 60 clients: no spinning on EMFILE, few stderr lines, serves again after', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'echo');
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const srv = startProcess('sh', ['-c', `ulimit -n 40; exec ${q(process.execPath)} ${q(USOCK)} echo-server ${q(sock)}`], { t, timeout: 30_000 });
  await waitListening(sock, 'stream', 5000);
  await settled(srv.pid);
  const holders = python(HOLD_CLIENTS, [sock, 60], { t, timeout: 30_000 });
  await holders.waitStdout('open 60', 5000);
  await sleep(100); // accept has hit the descriptor limit by now
  const linesBefore = srv.errText().split('\n').length;
  const share = await cpuShare(srv.pid);
  const linesDuring = srv.errText().split('\n').length - linesBefore;
  const sample = JSON.stringify(srv.errText().slice(0, 300));
  t.true(share < MAX_SHARE, `echo-server used ${(share * 100).toFixed(0)}% of a CPU over 1 s while at its descriptor limit; stderr starts ${sample}`);
  t.true(srv.errText().split('\n').length - 1 <= 5, `at most a handful of stderr lines, got ${srv.errText().split('\n').length - 1} (${linesDuring} in the 1 s window); starts ${sample}`);
  holders.write('close\n');
  await holders.waitStdout('closed', 5000);
  const echo = python(py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'still-here')
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
sys.stdout.buffer.write(recv_all(s))
`), [sock], { t, timeout: 10_000 });
  echo.end();
  const e = await echo.exited;
  t.is(e.stdout.toString(), 'still-here', show(e));
  t.false(srv.done, 'echo-server still running');
});

// A stream server at argv[1] with listen(1) that does not accept; fills its backlog with non-blocking connects
// until EAGAIN and says 'full N'; at a line on stdin it accepts everything and prints each connection's data.
const FULL_BACKLOG_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(1)
fill = []
while True:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
    except BlockingIOError:
        c.close()
        break
    fill.append(c)
print('full %d' % len(fill), flush=True)
sys.stdin.readline()
print('accepting', flush=True)
def serve(conn):
    d = recv_all(conn)
    if d:
        print('data ' + d.decode('latin1').strip(), flush=True)
    conn.close()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
`);

test('connect to a listener whose backlog is full: waits without spinning, then delivers once it accepts', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'full');
  const srv = python(FULL_BACKLOG_SERVER, [sock], { t, timeout: 30_000 });
  await srv.waitStdout('full', 5000);
  const u = usock(['connect', sock], { t, timeout: 30_000 });
  u.end('hello-from-usock\n');
  await sleep(300);
  if (u.done) {
    const r = await u.exited;
    t.fail(`usock gave up instead of waiting for the listener to accept: ${show(r)}`);
    return;
  }
  await settled(u.pid);
  const share = u.done ? 0 : await cpuShare(u.pid);
  t.true(share < MAX_SHARE, `usock connect used ${(share * 100).toFixed(0)}% of a CPU over 1 s waiting on a full backlog`);
  srv.write('go\n');
  await srv.waitStdout('accepting', 5000);
  const r = await u.exited;
  t.is(r.code, 0, show(r));
  await srv.waitStdout('data hello-from-usock', 5000);
  t.pass();
});

// Runs argv[1:] with its stdout on a pipe that is never read; prints 'pid N', then at exit 'exit CODE SIGNAL'.
const UNREAD_STDOUT_WRAPPER = `
import os, subprocess, sys, signal
r, w = os.pipe()
p = subprocess.Popen(sys.argv[1:], stdout=w, stdin=subprocess.DEVNULL)
os.close(w)
print('pid %d' % p.pid, flush=True)
rc = p.wait()
print('exit %s %s' % (rc if rc >= 0 else '-', signal.Signals(-rc).name if rc < 0 else '-'), flush=True)
`;

test('recv-fd with a stdout pipe nobody reads: near idle, and SIGTERM ends it promptly', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'fds');
  const big = path.join(dir, 'big');
  writeRandomFile(big, 8 << 20);
  const sender = usock(['send-fd', '--listen', sock, big], { t });
  await waitListening(sock, 'stream', 5000);
  const w = python(UNREAD_STDOUT_WRAPPER, [process.execPath, USOCK, 'recv-fd', sock], { t, timeout: 30_000 });
  const pid = Number((await w.waitStdout((s) => /pid \d+/.test(s), 5000)).match(/pid (\d+)/)[1]);
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL'); // the wrapper's child, if the test failed half-way
    } catch {
      // already gone
    }
  });
  // the pipe fills up (1 MiB at most) and stays full
  await settled(pid);
  const share = await cpuShare(pid);
  t.log(`recv-fd CPU share over 1 s: ${(share * 100).toFixed(0)}%`);
  t.true(share < MAX_SHARE, `recv-fd used ${(share * 100).toFixed(0)}% of a CPU over 1 s with its stdout pipe full`);
  process.kill(pid, 'SIGTERM');
  const ended = await w.waitStdout('exit', 2000).then(() => true, () => false);
  t.true(ended, `recv-fd still running 2 s after SIGTERM; wrapper stdout=${JSON.stringify(w.text())}`);
  if (!ended) return;
  const m = /exit (\S+) (\S+)/.exec(w.text());
  t.true(m[2] === 'SIGTERM' || m[1] === '143', `recv-fd must die of SIGTERM: ${m[0]}`);
  t.false(sender.done, 'send-fd --listen still serving');
});
