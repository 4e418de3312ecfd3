// End-to-end tests of `usock pair`: one or two commands on a socketpair of each type, usock's stdio as the
// other end (half-close both ways, message boundaries), the exit status rules and bad input.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { runUsock, usock, tmpDir, assertCleanError, show, waitUntil, SYSTEM_PYTHON } from '../helpers.mjs';

const PY = SYSTEM_PYTHON;

// CMD1 for message tests: reads its socket (fd 0) with recv and answers each message with `got:<msg>`;
// it ends at EOF (stream, seqpacket) or, for dgram, which has no EOF, after `limit` messages.
const answerEach = (limit = 0) => `${PY} -c '
import socket
s = socket.socket(fileno=0)
n = 0
while ${limit} == 0 or n < ${limit}:
    m = s.recv(65536)
    if not m and s.type != socket.SOCK_DGRAM:
        break
    s.send(b"got:" + m)
    n += 1
'`;

test('pair stream: CMD1 on one end, usock stdin/stdout on the other (tr)', async (t) => {
  const r = await runUsock(['pair', 'tr a-z A-Z'], { input: 'hello\nworld\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'HELLO\nWORLD\n');
  t.is(r.stderr.toString(), '');
});

test('pair stream: usock half-closes at stdin EOF, so CMD1 sees EOF and its late answer still arrives', async (t) => {
  const r = await runUsock(['pair', 'n=$(wc -c); sleep 0.5; echo "got $n bytes"'], { input: 'abcdef', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 6 bytes\n');
});

test('pair stream: 3 MB through cat come back byte for byte', async (t) => {
  const data = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
  const r = await runUsock(['pair', 'cat'], { input: data, t });
  t.is(r.code, 0, show(r));
  t.true(r.stdout.equals(data), `got ${r.stdout.length} bytes`);
});

test('pair: usock ends when CMD1 closes its end, even though its own stdin is still open', async (t) => {
  const p = usock(['pair', 'echo early'], { t });
  const r = await p.exited; // stdin is never ended
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'early\n');
});

test('pair seqpacket: CMD1 reading fd 0 with recv sees each stdin line as its own message', async (t) => {
  const r = await runUsock(['pair', '-t', 'seqpacket', answerEach()], { input: 'a\nbb\nccc\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got:a\ngot:bb\ngot:ccc\n');
});

test('pair dgram: separate messages both ways; usock ends once CMD1 has exited and its messages are out', async (t) => {
  const r = await runUsock(['pair', '-t', 'dgram', answerEach(3)], { input: 'one\ntwo\nthree\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got:one\ngot:two\ngot:three\n');
});

test('pair seqpacket --frame len32: binary messages keep their boundaries both ways', async (t) => {
  const frame = (b) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const input = Buffer.concat([frame(Buffer.from([0, 10, 255])), frame(Buffer.from('x\ny'))]);
  const r = await runUsock(['pair', '-t', 'seqpacket', '--frame', 'len32', answerEach()], { input, t });
  t.is(r.code, 0, show(r));
  t.deepEqual(r.stdout, Buffer.concat([frame(Buffer.from([0x67, 0x6f, 0x74, 0x3a, 0, 10, 255])), frame(Buffer.from('got:x\ny'))]));
});

test('pair seqpacket --max-size: a longer input line is reported and not sent, the others are, and the status is 65', async (t) => {
  const lengths = `${PY} -c '
import socket
s = socket.socket(fileno=0)
while True:
    m = s.recv(100)
    if not m:
        break
    s.send(str(len(m)).encode())
'`;
  const r = await runUsock(['pair', '-t', 'seqpacket', '--max-size', '4', lengths], { input: 'ok\ntoolong\nfine\n', t });
  t.is(r.code, 65, show(r));
  t.is(r.stdout.toString(), '2\n4\n');
  t.regex(r.stderr.toString(), /exceeds --max-size 4/);
});

for (const type of ['stream', 'seqpacket', 'dgram']) {
  test(`pair -t ${type} CMD1 CMD2: the two commands talk over the pair, boundaries kept`, async (t) => {
    const dir = tmpDir(t);
    const out = path.join(dir, 'out');
    const sender = `${PY} -c '
import socket
s = socket.socket(fileno=0)
for m in (b"first", b"second", b"third"):
    s.send(m)
if s.type != socket.SOCK_DGRAM:
    s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode(), file=open("${out}.reply", "w"))
'`;
    const receiver = `${PY} -c '
import socket, time
s = socket.socket(fileno=0)
got = []
while len(got) < 3:
    m = s.recv(100)
    if not m and s.type != socket.SOCK_DGRAM:
        break
    got.append(m.decode())
open("${out}", "w").write("|".join(got))
s.send(b"done")
'`;
    const r = await runUsock(['pair', '-t', type, sender, receiver], { t });
    t.is(r.code, 0, show(r));
    const got = fs.readFileSync(out, 'utf8');
    if (type === 'stream') t.is(got.replace(/\|/g, ''), 'firstsecondthird');
    else t.is(got, 'first|second|third');
    t.is(fs.readFileSync(out + '.reply', 'utf8'), 'done\n');
    t.is(r.stdout.toString(), '');
  });
}

test('pair: each command gets its own end, blocking, as fd 0 and 1, and never the other end', async (t) => {
  const probe = `${PY} -c '
import os, fcntl, sys, json
def target(f):
    try:
        return os.readlink("/proc/self/fd/" + f)
    except OSError:
        return ""
flags = fcntl.fcntl(0, fcntl.F_GETFL)
line = json.dumps({"blocking": not flags & os.O_NONBLOCK, "fd0": target("0"), "fd1": target("1"),
    "sockets": sorted(set(target(f) for f in os.listdir("/proc/self/fd") if target(f).startswith("socket:")))})
os.write(2, (line + "\\n").encode())  # one write: the two lines never interleave
'`;
  const r = await runUsock(['pair', probe, probe], { t });
  t.is(r.code, 0, show(r));
  const [a, b] = r.stderr
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const c of [a, b]) {
    t.true(c.blocking);
    t.regex(c.fd0, /^socket:/);
    t.is(c.fd1, c.fd0);
  }
  t.not(a.fd0, b.fd0);
  t.false(a.sockets.includes(b.fd0), "CMD1 does not hold CMD2's end");
  t.false(b.sockets.includes(a.fd0), "CMD2 does not hold CMD1's end");
});

test("pair: exit status is CMD1's when it fails", async (t) => {
  const r = await runUsock(['pair', 'exit 3'], { input: '', t });
  t.is(r.code, 3, show(r));
  t.is(r.stderr.toString(), '');
});

test("pair: exit status is CMD2's when only CMD2 fails", async (t) => {
  const r = await runUsock(['pair', 'exit 0', 'exit 5'], { t });
  t.is(r.code, 5, show(r));
});

test("pair: when both fail, the first command's status wins (command order, not exit order)", async (t) => {
  const r = await runUsock(['pair', 'sleep 0.3; exit 4', 'exit 6'], { t });
  t.is(r.code, 4, show(r));
});

test('pair: a command killed by a signal gives 128+N', async (t) => {
  const r = await runUsock(['pair', 'kill -TERM $$'], { input: '', t });
  t.is(r.code, 143, show(r));
  const r2 = await runUsock(['pair', 'true', 'kill -KILL $$'], { t });
  t.is(r2.code, 137, show(r2));
});

test("pair: a command that is not found gives the shell's 127", async (t) => {
  const r = await runUsock(['pair', 'no-such-command-usock-test'], { input: '', t });
  t.is(r.code, 127, show(r));
});

test('pair: CMD1 gets stdin EOF also with CMD2 (each end closed in usock once handed over)', async (t) => {
  // CMD2 exits at once; CMD1 must read EOF, not hang.
  const r = await runUsock(['pair', 'cat >/dev/null; echo eof-seen >&2', 'true'], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), 'eof-seen\n');
});

test('pair: SIGTERM to usock is passed to the commands and usock dies of it', async (t) => {
  const dir = tmpDir(t);
  const pids = [path.join(dir, 'p1'), path.join(dir, 'p2')];
  const p = usock(['pair', `echo $$ > ${pids[0]}; exec sleep 30`, `echo $$ > ${pids[1]}; exec sleep 30`], { t });
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pidsWritten = () =>
    pids.filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').endsWith('\n')).map((f) => Number(fs.readFileSync(f, 'utf8')));
  await waitUntil(() => pidsWritten().length === 2, undefined, 'both commands started');
  const children = pidsWritten();
  p.kill('SIGTERM');
  const r = await p.exited;
  t.true(r.signal === 'SIGTERM' || r.code === 143, show(r));
  await waitUntil(() => !children.some(alive), undefined, 'the commands to end').catch(() => {});
  t.deepEqual(children.filter(alive), [], 'the commands got the signal too');
});

test('pair: missing CMD1 is a usage error (64)', async (t) => {
  const r = await runUsock(['pair'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr);
});

test('pair: --type auto is a usage error (64)', async (t) => {
  const r = await runUsock(['pair', '-t', 'auto', 'cat'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /--type auto/);
});

test('pair: a third command is a usage error (64)', async (t) => {
  const r = await runUsock(['pair', 'true', 'true', 'true'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr);
});

test('pair: bad --max-size is a usage error (64)', async (t) => {
  const r = await runUsock(['pair', '--max-size', '0', 'cat'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /--max-size/);
});

test('pair -v: reports the commands on stderr, stdout unchanged', async (t) => {
  const r = await runUsock(['pair', '-v', 'cat'], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'x\n');
  t.regex(r.stderr.toString(), /CMD1 started \(pid \d+\)/);
  t.regex(r.stderr.toString(), /exited with status 0/);
});
