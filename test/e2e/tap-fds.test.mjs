// End-to-end tests of descriptors (SCM_RIGHTS) through `usock tap`: a Python client passes an open file and a pipe
// through tap to a Python server, which reads them, and the server passes one back (stream, seqpacket, dgram); records
// show them (text, --hex, --json); descriptors tap cannot deliver are recorded as drop; MSG_CTRUNC is reported and recorded;
// tap keeps none open.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { python, runPython, py, tmpDir, show, waitUntil, hasCommand, startTap, stopBySignal } from '../helpers.mjs';

const TYPES = { stream: 'SOCK_STREAM', seqpacket: 'SOCK_SEQPACKET', dgram: 'SOCK_DGRAM' };

// The server: takes one message with descriptors, reads each (a file from its start, a pipe to its end), prints
// them as JSON, then answers with 'reply' and a descriptor of the file argv[3]. dgram: answers the sender's address.
const SERVER = py(`
import array
def read_fd(fd):
    st = os.fstat(fd)
    data = os.pread(fd, 1000, 0) if (st.st_mode & 0o170000) == 0o100000 else os.read(fd, 1000)
    return {'target': os.readlink('/proc/self/fd/%d' % fd), 'data': data.decode()}
t = getattr(socket, sys.argv[2])
s = socket.socket(socket.AF_UNIX, t)
s.bind(sys.argv[1])
if t != socket.SOCK_DGRAM:
    s.listen()
print('ready', flush=True)
c, _ = s.accept() if t != socket.SOCK_DGRAM else (s, None)
msg, fds, flags, a = socket.recv_fds(c, 1024, 16)
print(json.dumps({'msg': msg.decode(), 'ctrunc': bool(flags & socket.MSG_CTRUNC), 'fds': [read_fd(fd) for fd in fds]}), flush=True)
f = os.open(sys.argv[3], os.O_RDONLY)
c.sendmsg([b'reply'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [f]))], 0, a)
if t != socket.SOCK_DGRAM:
    c.recv(10)  # until the client closes
`);

// The client: passes an open file (argv[3]) and the read end of a pipe holding 'through the pipe' with the message
// 'fds', then reads the server's answer and what its descriptor holds; prints both as JSON.
const CLIENT = py(`
t = getattr(socket, sys.argv[2])
if t == socket.SOCK_DGRAM:
    s = socket.socket(socket.AF_UNIX, t)
    s.bind('')
    s.connect(sys.argv[1])
else:
    s = connect_retry(t, sys.argv[1])
f = os.open(sys.argv[3], os.O_RDONLY)
r, w = os.pipe()
os.write(w, b'through the pipe')
os.close(w)
socket.send_fds(s, [b'fds'], [f, r])
os.close(f)
os.close(r)
s.settimeout(20)
msg, fds, flags, _ = socket.recv_fds(s, 1024, 16)
print(json.dumps({'msg': msg.decode(), 'fds': [os.read(fd, 1000).decode() for fd in fds]}), flush=True)
s.close()
`);

/** Returns the number of descriptors process pid has open. */
const openCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

/** Sets up a folder with the two files, the server and tap (extra options); returns what the tests need. */
async function setUp(t, type, extra = []) {
  const dir = tmpDir(t);
  const clientFile = path.join(dir, 'client file.txt');
  const serverFile = path.join(dir, 'server-file');
  fs.writeFileSync(clientFile, 'read through a passed descriptor\n');
  fs.writeFileSync(serverFile, "the server's file");
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const server = python(SERVER, [target, TYPES[type], serverFile], { t });
  await server.waitStdout('ready');
  const tap = await startTap(t, listen, target, extra, type);
  return { dir, clientFile, serverFile, target, listen, server, tap };
}

/** Ends tap with SIGTERM; returns its stderr. */
async function stop(t, tap) {
  return (await stopBySignal(t, tap)).stderr.toString();
}

for (const type of ['stream', 'seqpacket']) {
  test(`${type}: a file and a pipe passed by the client reach the server through tap, which reads them; the server's descriptor reaches the client; text records show them; tap keeps none open`, async (t) => {
    const { clientFile, serverFile, listen, server, tap } = await setUp(t, type);
    const before = openCount(tap.pid);
    const r = await runPython(CLIENT, [listen, TYPES[type], clientFile], { t });
    t.is(r.code, 0, show(r));
    t.deepEqual(JSON.parse(r.stdout.toString()), { msg: 'reply', fds: ["the server's file"] });
    const got = JSON.parse((await server.waitStdout((o) => o.includes('}'))).split('\n')[1]);
    t.is(got.msg, 'fds');
    t.false(got.ctrunc);
    t.deepEqual(
      got.fds.map((f) => f.data),
      ['read through a passed descriptor\n', 'through the pipe'],
    );
    t.is(got.fds[0].target, clientFile);
    t.regex(got.fds[1].target, /^pipe:\[\d+\]$/);
    await tap.waitStderr((s) => / #1 close$/m.test(s));
    t.is(openCount(tap.pid), before, 'every descriptor passed through tap is closed in tap');
    const text = await stop(t, tap);
    const pipe = got.fds[1].target.replace(/[[\]]/g, '\\$&');
    t.regex(text, new RegExp(`^\\S+ #1 > 3 fds: \\d+ file ${clientFile.replace(/[/.]/g, '\\$&')}, \\d+ pipe ${pipe}: fds$`, 'm'), text);
    t.regex(text, new RegExp(`^\\S+ #1 < 5 fds: \\d+ file ${serverFile.replace(/[/.]/g, '\\$&')}: reply$`, 'm'), text);
    t.false(/^usock: /m.test(text), text);
  });
}

test("--json: data records carry fds with kind and target (the file's path)", async (t) => {
  const { clientFile, serverFile, listen, tap } = await setUp(t, 'stream', ['--json']);
  const r = await runPython(CLIENT, [listen, 'SOCK_STREAM', clientFile], { t });
  t.is(r.code, 0, show(r));
  await tap.waitStderr('"event":"close"');
  const recs = (await stop(t, tap))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const data = recs.filter((x) => x.len !== undefined);
  t.is(data.length, 2, JSON.stringify(recs));
  const [c2s, s2c] = data;
  t.like(c2s, { dir: 'c2s', len: 3, data: Buffer.from('fds').toString('base64') });
  t.is(c2s.fds.length, 2);
  t.like(c2s.fds[0], { kind: 'file', target: clientFile });
  t.like(c2s.fds[1], { kind: 'pipe' });
  t.regex(c2s.fds[1].target, /^pipe:\[\d+\]$/);
  for (const f of c2s.fds) t.deepEqual(Object.keys(f), ['fd', 'kind', 'target']);
  t.like(s2c, { dir: 's2c', len: 5 });
  t.deepEqual(
    s2c.fds.map((f) => [f.kind, f.target]),
    [['file', serverFile]],
  );
  t.is(c2s.ctrunc, undefined);
});

test('--hex: the header line carries the descriptors', async (t) => {
  const { clientFile, listen, tap } = await setUp(t, 'seqpacket', ['--hex']);
  const r = await runPython(CLIENT, [listen, 'SOCK_SEQPACKET', clientFile], { t });
  t.is(r.code, 0, show(r));
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  const text = await stop(t, tap);
  t.regex(text, /^\S+ #1 > 3 fds: \d+ file .*client file\.txt, \d+ pipe pipe:\[\d+\]\n00000000: 6664 73 +fds\n/m, text);
});

test('dgram: descriptors pass both ways through tap and are recorded; none stays open in tap', async (t) => {
  const { clientFile, listen, server, tap } = await setUp(t, 'dgram', ['-w', '0.5']);
  const before = openCount(tap.pid);
  const r = await runPython(CLIENT, [listen, 'SOCK_DGRAM', clientFile], { t });
  t.is(r.code, 0, show(r));
  t.deepEqual(JSON.parse(r.stdout.toString()), { msg: 'reply', fds: ["the server's file"] });
  const got = JSON.parse((await server.waitStdout((o) => o.includes('}'))).split('\n')[1]);
  t.deepEqual(
    got.fds.map((f) => f.data),
    ['read through a passed descriptor\n', 'through the pipe'],
  );
  await tap.waitStderr((s) => / #1 close$/m.test(s)); // -w ended the conversation
  t.is(openCount(tap.pid), before);
  const text = await stop(t, tap);
  t.regex(text, / #1 > 3 fds: \d+ file .*client file\.txt, \d+ pipe pipe:\[\d+\]: fds$/m);
  t.regex(text, / #1 < 5 fds: \d+ file .*server-file: reply$/m);
});

test('seqpacket: a message of 0 bytes carrying a descriptor passes as one, recorded with its descriptor', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'zero-length carrier');
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const server = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen()
print('ready', flush=True)
c, _ = s.accept()
msg, fds, flags, _ = socket.recv_fds(c, 1024, 4)
print(json.dumps([len(msg), [os.read(fd, 100).decode() for fd in fds]]), flush=True)
`),
    [target],
    { t },
  );
  await server.waitStdout('ready');
  const tap = await startTap(t, listen, target, [], 'seqpacket');
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
f = os.open(sys.argv[2], os.O_RDONLY)
socket.send_fds(s, [b''], [f])
time.sleep(0.5)
`),
    [listen, file],
    { t },
  );
  t.is(r.code, 0, show(r));
  t.is((await server.exited).stdout.toString(), 'ready\n[0, ["zero-length carrier"]]\n');
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  t.regex(await stop(t, tap), /^\S+ #1 > 0 fds: \d+ file .*\/f: $/m);
});

test('descriptors the server can no longer get are recorded as drop, reported, and closed in tap', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, '');
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const server = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen()
print('ready', flush=True)
c, _ = s.accept()
c.close()
time.sleep(30)
`),
    [target],
    { t },
  );
  await server.waitStdout('ready');
  const tap = await startTap(t, listen, target, ['--json']);
  const before = openCount(tap.pid);
  const client = python(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print(repr(s.recv(10)), flush=True)  # the server closed: EOF through tap
f = os.open(sys.argv[2], os.O_RDONLY)
socket.send_fds(s, [b'late'], [f])
time.sleep(30)
`),
    [listen, file],
    { t },
  );
  await client.waitStdout("b''");
  await tap.waitStderr('"event":"drop"');
  await waitUntil(() => openCount(tap.pid) <= before + 1, undefined, 'tap to close the descriptor'); // + the client's socket, still open
  client.kill('SIGKILL');
  await tap.waitStderr('"event":"close"');
  t.is(openCount(tap.pid), before);
  const out = await stop(t, tap);
  const lines = out.trim().split('\n');
  const drop = lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((x) => x.event === 'drop');
  t.like(drop, { conn: 1, dir: 'c2s', error: 'not delivered to the server: the connection is closed' });
  t.deepEqual(
    drop.fds.map((f) => [f.kind, f.target]),
    [['file', file]],
  );
  t.true(
    lines.some((l) => l === '{"event":"fds-dropped","conn":1,"dir":"c2s","fds":1}'),
    out,
  ); // the warning, as --json writes it
  server.kill('SIGKILL');
});

(hasCommand('prlimit') ? test : test.skip)(
  'MSG_CTRUNC (tap out of descriptors): warned and marked in the record; the descriptors that did arrive pass on',
  async (t) => {
    const { clientFile, listen, server, tap } = await setUp(t, 'stream', ['--json']);
    // Room for the client's and the server's sockets and one more descriptor, not three.
    const limit = openCount(tap.pid) + 3;
    const p = spawnSync('prlimit', [`--nofile=${limit}:${limit}`, '--pid', String(tap.pid)], { encoding: 'utf8' });
    t.is(p.status, 0, p.stderr);
    const r = await runPython(
      py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
f = os.open(sys.argv[2], os.O_RDONLY)
socket.send_fds(s, [b'three'], [f, f, f])
s.settimeout(20)
print(s.recv(100))
`),
      [listen, clientFile],
      { t },
    );
    t.is(r.code, 0, show(r));
    const got = JSON.parse((await server.waitStdout((o) => o.includes('}'))).split('\n')[1]);
    await tap.waitStderr('"event":"close"');
    const lines = (await stop(t, tap))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.true(
      lines.some((x) => x.event === 'ctrunc' && x.conn === 1 && x.dir === 'c2s'),
      'the warning',
    );
    const rec = lines.find((x) => x.dir === 'c2s' && x.len === 5);
    t.true(rec.ctrunc);
    t.true(rec.fds.length < 3);
    t.is(got.fds.length, rec.fds.length, 'what tap received reached the server');
  },
);
