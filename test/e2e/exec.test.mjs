// End-to-end tests of --exec on `usock listen` (one command per connection, -k, access rules: the privileged-helper
// pattern) and on `usock connect`: stdin/stdout on the connection, USOCK_PEER_* in the environment, exit statuses.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  usock,
  runUsock,
  python,
  runPython,
  py,
  tmpDir,
  abstractName,
  waitListening,
  waitForSocketFile,
  assertCleanError,
  endedBy,
  show,
  sleep,
  SYSTEM_PYTHON,
  NOBODY_UID,
  rootTest,
} from '../helpers.mjs';

const NOBODY_GID = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());

// A client: connects (retrying) with the socket type argv[2], sends argv[3], half-closes (stream, seqpacket),
// prints a JSON line with its own pid/uid/gid and everything it received until EOF (or ECONNRESET/EPIPE: 'reset').
const CLIENT = py(`
types = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}
s = connect_retry(types[sys.argv[2]], sys.argv[1])
# A rejected client may find the connection closed before it has sent anything: end is then 'reset'.
chunks, end = send_then_read(s, sys.argv[3].encode())
got = [d.decode() for d in chunks]
print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'gid': os.getgid(), 'got': got, 'end': end}), flush=True)
`);

/** Runs CLIENT to completion (as nobody when asNobody) and returns its JSON result. */
async function client(t, address, type, data, asNobody = false) {
  const opts = asNobody ? { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' } : { t };
  const r = await runPython(CLIENT, [address, type, data], opts);
  t.is(r.code, 0, show(r));
  return JSON.parse(r.stdout.toString());
}

/** Returns a temp dir nobody can enter (0777) and a socket path in it. */
function sharedDir(t) {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o777);
  return { dir, sock: path.join(dir, 's') };
}

// ---- listen --exec ------------------------------------------------------------------------------------------

test('listen --exec: the command reads the connection on stdin and answers on stdout; listen exits with its status', async (t) => {
  const { sock } = sharedDir(t);
  const srv = usock(['listen', '--exec', 'tr a-z A-Z', sock], { t });
  await waitListening(sock);
  const c = await client(t, sock, 'stream', 'hello exec\n');
  t.deepEqual(c.got.join(''), 'HELLO EXEC\n');
  t.is(c.end, 'eof');
  const r = await srv.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), '', "the connection's data goes to the command, not to stdout");
  t.false(fs.existsSync(sock), 'socket file removed');
});

test("listen --exec: USOCK_PEER_PID, USOCK_PEER_UID and USOCK_PEER_GID are the client's", async (t) => {
  const { sock } = sharedDir(t);
  const srv = usock(['listen', '--exec', 'echo "$USOCK_PEER_PID $USOCK_PEER_UID $USOCK_PEER_GID"', sock], { t });
  await waitListening(sock);
  const c = await client(t, sock, 'stream', '');
  t.is(c.got.join(''), `${c.pid} ${c.uid} ${c.gid}\n`);
  t.is((await srv.exited).code, 0);
});

test("listen --exec: a failing command's status is listen's exit status", async (t) => {
  const name = '@' + abstractName();
  const srv = usock(['listen', '--exec', 'cat >/dev/null; exit 7', name], { t });
  await waitListening(name);
  await client(t, name, 'stream', 'x');
  const r = await srv.exited;
  t.is(r.code, 7, show(r));
});

test('listen --exec: a command killed by a signal gives 128+N', async (t) => {
  const name = '@' + abstractName();
  const srv = usock(['listen', '--exec', 'kill -TERM $$', name], { t });
  await waitListening(name);
  await client(t, name, 'stream', '');
  const r = await srv.exited;
  t.is(r.code, 143, show(r));
});

test('listen -k --exec: each client gets its own command, concurrently; the server keeps running', async (t) => {
  const { sock } = sharedDir(t);
  // Each command waits, so the three connections overlap.
  const srv = usock(['listen', '-k', '--exec', 'read line; sleep 0.5; echo "$USOCK_PEER_PID:$line"', sock], { t });
  await waitListening(sock);
  const started = Date.now();
  const results = await Promise.all(['one', 'two', 'three'].map((w) => client(t, sock, 'stream', w + '\n')));
  for (const [i, w] of ['one', 'two', 'three'].entries()) t.is(results[i].got.join(''), `${results[i].pid}:${w}\n`);
  t.false(srv.done, 'listen -k still runs');
  t.log(`three 0.5 s commands took ${Date.now() - started} ms`);
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.false(fs.existsSync(sock));
});

test('listen -t seqpacket --exec --exec-socket: the command reads one message per read and its writes are messages', async (t) => {
  const name = '@' + abstractName();
  const cmd = `${SYSTEM_PYTHON} -c '
import socket
s = socket.socket(fileno=0)
while True:
    m = s.recv(100)
    if not m:
        break
    s.send(b"[" + m + b"]")
'`;
  const srv = usock(['listen', '-t', 'seqpacket', '--exec-socket', '--exec', cmd, name], { t });
  await waitListening(name, 'seqpacket');
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
for m in (b'a', b'bb', b'ccc'):
    s.send(m)
s.shutdown(socket.SHUT_WR)
out = []
while True:
    m = s.recv(100)
    if not m:
        break
    out.append(m.decode())
print('|'.join(out))
`),
    [name],
    { t },
  );
  t.is(r.stdout.toString(), '[a]|[bb]|[ccc]\n');
  t.is((await srv.exited).code, 0);
});

rootTest('privileged helper: root listen -k -t seqpacket --mode 0666 --allow-user nobody --exec serves nobody, rejects root', async (t) => {
  const { dir, sock } = sharedDir(t);
  const log = path.join(dir, 'log');
  fs.writeFileSync(log, '');
  fs.chmodSync(log, 0o666);
  // The command records who it served and what it got, and answers with a greeting (one line: one message).
  const cmd = `echo "served uid=$USOCK_PEER_UID"; cat >> ${log}`;
  const srv = usock(['listen', '-k', '-t', 'seqpacket', '--mode', '0666', '--allow-user', 'nobody', '--exec', cmd, sock], { t });
  await waitListening(sock, 'seqpacket');
  t.is(fs.statSync(sock).mode & 0o777, 0o666);

  const nobody = await client(t, sock, 'seqpacket', 'NOBODY-DATA', true);
  t.is(nobody.uid, NOBODY_UID);
  t.deepEqual(nobody.got, [`served uid=${NOBODY_UID}`]);
  t.is(nobody.end, 'eof');

  const root = await client(t, sock, 'seqpacket', 'ROOT-DATA');
  t.deepEqual(root.got, [], 'a rejected client gets nothing');
  t.true(root.end === 'eof' || root.end === 'reset');

  await srv.waitStderr((s) => s.includes(`pid ${root.pid}`));
  // The server is still serving nobody after the rejection.
  const again = await client(t, sock, 'seqpacket', 'NOBODY-AGAIN', true);
  t.deepEqual(again.got, [`served uid=${NOBODY_UID}`]);
  await sleep(200);
  srv.kill('SIGTERM');
  const r = await srv.exited;
  const logText = fs.readFileSync(log, 'utf8');
  t.true(logText.includes('NOBODY-DATA') && logText.includes('NOBODY-AGAIN'), logText);
  t.false(logText.includes('ROOT-DATA'), "the rejected client's data never reached a command");
  t.false(r.stdout.toString().includes('ROOT-DATA'));
  t.regex(r.stderr.toString(), new RegExp(`rejected pid ${root.pid} uid 0 gid 0`));
  t.true(endedBy(r, 'SIGTERM'), show(r));
});

rootTest(
  'listen --exec with --allow-uid: a rejected client does not end a listen without -k; the next allowed one is served',
  async (t) => {
    const { sock } = sharedDir(t);
    const srv = usock(['listen', '--mode', '0666', '--allow-uid', String(NOBODY_UID), '--exec', 'echo "hi $USOCK_PEER_UID"', sock], { t });
    await waitListening(sock);
    const root = await client(t, sock, 'stream', 'r');
    t.deepEqual(root.got, []);
    t.false(srv.done);
    const nobody = await client(t, sock, 'stream', 'n', true);
    t.is(nobody.got.join(''), `hi ${NOBODY_UID}\n`);
    const r = await srv.exited;
    t.is(r.code, 0, show(r));
    t.regex(r.stderr.toString(), new RegExp(`rejected pid ${root.pid} uid 0 gid 0`));
  },
);

test('listen --exec without its value is a usage error (64)', async (t) => {
  const r = await runUsock(['listen', '--exec'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr);
});

// ---- connect --exec -----------------------------------------------------------------------------------------

// A server: accepts one client, sends argv[2], reads to EOF, prints what it got as JSON with its pid.
const SERVER = py(`
types = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}
srv = socket.socket(socket.AF_UNIX, types[sys.argv[3]])
srv.bind(addr(sys.argv[1]))
srv.listen(4)
print(json.dumps({'pid': os.getpid()}), flush=True)
c, _ = srv.accept()
c.sendall(sys.argv[2].encode())
got = []
while True:
    d = c.recv(65536)
    if not d:
        break
    got.append(d.decode())
print(json.dumps({'got': got}), flush=True)
`);

rootTest("connect --exec: the command talks to the server on stdin/stdout, with the server's credentials in USOCK_PEER_*", async (t) => {
  const name = '@' + abstractName();
  const srv = python(SERVER, [name, 'ping\n', 'stream'], { t });
  const { pid } = JSON.parse((await srv.waitStdout('\n')).split('\n')[0]);
  const r = await runUsock(['connect', '--exec', 'read x; echo "cmd got $x from $USOCK_PEER_PID $USOCK_PEER_UID $USOCK_PEER_GID"', name], {
    t,
  });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), '', "the command's output goes to the socket");
  const done = await srv.exited;
  const got = JSON.parse(done.stdout.toString().split('\n')[1]).got.join('');
  t.is(got, `cmd got ping from ${pid} 0 0\n`);
});

test("connect --exec: exit status is the command's (exit 9 -> 9, killed -> 128+N)", async (t) => {
  for (const [cmd, want] of /** @type {Array<[string, number]>} */ ([
    ['exit 9', 9],
    ['kill -KILL $$', 137],
  ])) {
    const name = '@' + abstractName();
    const srv = python(SERVER, [name, '', 'stream'], { t });
    await srv.waitStdout('\n');
    const r = await runUsock(['connect', '--exec', cmd, name], { t });
    t.is(r.code, want, show(r));
    await srv.exited;
  }
});

test('connect -t seqpacket --exec --exec-socket: message boundaries reach the command', async (t) => {
  const name = '@' + abstractName();
  const srv = python(SERVER, [name, 'm1', 'seqpacket'], { t });
  await srv.waitStdout('\n');
  const cmd = `${SYSTEM_PYTHON} -c '
import socket
s = socket.socket(fileno=0)
m = s.recv(100)
s.send(b"reply to " + m)
s.send(b"second")
'`;
  const r = await runUsock(['connect', '-t', 'seqpacket', '--exec-socket', '--exec', cmd, name], { t });
  t.is(r.code, 0, show(r));
  const got = JSON.parse((await srv.exited).stdout.toString().split('\n')[1]).got;
  t.deepEqual(got, ['reply to m1', 'second']);
});

test('connect --exec to nothing: 69 and one error line, the command never runs', async (t) => {
  const dir = tmpDir(t);
  const marker = path.join(dir, 'ran');
  const r = await runUsock(['connect', '--exec', `touch ${marker}`, path.join(dir, 'missing')], { t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr, /ENOENT/);
  t.false(fs.existsSync(marker));
});

test('listen --exec through a socket file: connect --exec on the other side (two usock processes)', async (t) => {
  const { sock } = sharedDir(t);
  const srv = usock(['listen', '--exec', 'read q; echo "answer to $q"', sock], { t });
  await waitForSocketFile(sock);
  await waitListening(sock);
  const dir = path.dirname(sock);
  const out = path.join(dir, 'out');
  const r = await runUsock(['connect', '--exec', `echo question; cat > ${out}`, sock], { t });
  t.is(r.code, 0, show(r));
  t.is((await srv.exited).code, 0);
  t.is(fs.readFileSync(out, 'utf8'), 'answer to question\n');
});
