// Busy loops: usock must wait for the kernel (poll) instead of spinning when it cannot make progress: accept
// failing with EMFILE, connect to a listener whose backlog is full (EAGAIN), a stdout pipe nobody reads.
// "CPU near idle" is measured from /proc/PID/stat (utime + stime) over a ~1 s window, once the process sleeps.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { USOCK, usock, startProcess, python, py, tmpDir, waitListening, writeRandomFile, show, sleep } from '../helpers.mjs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** Fields of /proc/PID/stat after the command: f[0] is field 3 (state). */
function statFields(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) of pid so far, in seconds. */
function cpuSeconds(pid) {
  const f = statFields(pid);
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

/**
 * Waits until pid has settled after start-up: asleep (state S, not runnable) with its CPU time grown by at most a
 * clock tick, at two samples in a row 250 ms apart. On a loaded machine a process still starting is runnable
 * (R) while it waits for a CPU, so it is not taken for settled. A process that spins never settles: after 20 s
 * this returns anyway and the measurement that follows catches it. Returns at once when pid has ended.
 */
async function settled(pid) {
  const end = Date.now() + 20_000;
  let quiet = 0;
  let last = cpuSeconds(pid);
  while (Date.now() < end) {
    await sleep(250);
    let f;
    try {
      f = statFields(pid);
    } catch {
      return; // gone
    }
    if (f[0] === 'Z') return;
    const now = (Number(f[11]) + Number(f[12])) / CLK_TCK;
    quiet = f[0] === 'S' && now - last <= 1.5 / CLK_TCK ? quiet + 1 : 0;
    if (quiet >= 2) return;
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
  const srv = startProcess('sh', ['-c', `ulimit -n 40; exec ${q(process.execPath)} ${q(USOCK)} echo-server ${q(sock)}`], { t });
  await waitListening(sock, 'stream');
  await settled(srv.pid);
  const holders = python(HOLD_CLIENTS, [sock, 60], { t });
  await holders.waitStdout('open 60');
  await srv.waitStderr('Too many open files'); // accept has hit the descriptor limit
  await settled(srv.pid);
  const linesBefore = srv.errText().split('\n').length;
  const share = await cpuShare(srv.pid);
  const linesDuring = srv.errText().split('\n').length - linesBefore;
  const sample = JSON.stringify(srv.errText().slice(0, 300));
  t.true(
    share < MAX_SHARE,
    `echo-server used ${(share * 100).toFixed(0)}% of a CPU over 1 s while at its descriptor limit; stderr starts ${sample}`,
  );
  t.true(
    srv.errText().split('\n').length - 1 <= 5,
    `at most a handful of stderr lines, got ${srv.errText().split('\n').length - 1} (${linesDuring} in the 1 s window); starts ${sample}`,
  );
  holders.write('close\n');
  await holders.waitStdout('closed');
  const echo = python(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'still-here')
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
sys.stdout.buffer.write(recv_all(s))
`),
    [sock],
    { t },
  );
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
  const srv = python(FULL_BACKLOG_SERVER, [sock], { t });
  await srv.waitStdout('full');
  const u = usock(['connect', sock], { t });
  u.end('hello-from-usock\n');
  await settled(u.pid);
  if (u.done) {
    const r = await u.exited;
    t.fail(`usock gave up instead of waiting for the listener to accept: ${show(r)}`);
    return;
  }
  const share = u.done ? 0 : await cpuShare(u.pid);
  t.true(share < MAX_SHARE, `usock connect used ${(share * 100).toFixed(0)}% of a CPU over 1 s waiting on a full backlog`);
  srv.write('go\n');
  await srv.waitStdout('accepting');
  const r = await u.exited;
  t.is(r.code, 0, show(r));
  await srv.waitStdout('data hello-from-usock');
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

test('recv-fd with a stdout pipe nobody reads: near idle, and SIGTERM ends it', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'fds');
  const big = path.join(dir, 'big');
  writeRandomFile(big, 8 << 20);
  const sender = usock(['send-fd', '--listen', sock, big], { t });
  await waitListening(sock, 'stream');
  const w = python(UNREAD_STDOUT_WRAPPER, [process.execPath, USOCK, 'recv-fd', sock], { t });
  const pid = Number((await w.waitStdout((s) => /pid \d+/.test(s))).match(/pid (\d+)/)[1]);
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
  // A bound that only catches a hang: SIGTERM must end it although its stdout stays full.
  const ended = await w.waitStdout('exit').then(
    () => true,
    () => false,
  );
  t.true(ended, `recv-fd still running a minute after SIGTERM; wrapper stdout=${JSON.stringify(w.text())}`);
  if (!ended) return;
  const m = /exit (\S+) (\S+)/.exec(w.text());
  t.true(m[2] === 'SIGTERM' || m[1] === '143', `recv-fd must die of SIGTERM: ${m[0]}`);
  t.false(sender.done, 'send-fd --listen still serving');
});
