// --exec on seqpacket (issue 21, item 5): CMD's stdin and stdout are relayed with --frame (default line), so that a
// shell helper's `read` gets the whole request and each line it writes is one message; --exec-socket gives CMD the
// socket itself; --frame and --max-size apply there and nowhere else with --exec.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { abstractName, assertCleanError, py, python, runPython, runUsock, show, usock, waitListening, SYSTEM_PYTHON } from '../helpers.mjs';

// A seqpacket client: sends each message of argv[2] (a JSON list of hex strings), half-closes when argv[3] is
// 'shut', then receives messages until EOF; prints JSON: its pid/uid/gid, the messages (hex) and how it ended.
const CLIENT = py(`
msgs = [bytes.fromhex(h) for h in json.loads(sys.argv[2])]
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
for m in msgs:
    s.send(m)
if sys.argv[3] == 'shut':
    s.shutdown(socket.SHUT_WR)
got, end = [], 'eof'
try:
    while True:
        m = s.recv(1 << 20)
        if not m:
            break
        got.append(m.hex())
except ConnectionResetError:
    end = 'reset'
print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'gid': os.getgid(), 'got': got, 'end': end}), flush=True)
`);

/** Runs CLIENT against address with msgs (strings, latin1); returns {pid, uid, gid, got: [strings], end}. */
async function client(t, address, msgs, shut = true) {
  const r = await runPython(
    CLIENT,
    [address, JSON.stringify(msgs.map((m) => Buffer.from(m, 'latin1').toString('hex'))), shut ? 'shut' : 'keep'],
    { t },
  );
  t.is(r.code, 0, show(r));
  const out = JSON.parse(r.stdout.toString());
  return { ...out, got: out.got.map((h) => Buffer.from(h, 'hex').toString('latin1')) };
}

/** Starts `usock listen -t seqpacket ARGS... @name` and waits until it listens; returns [server, address]. */
/** @returns {Promise<[ReturnType<typeof usock>, string]>} */
async function server(t, args) {
  const name = '@' + abstractName();
  const srv = usock(['listen', '-t', 'seqpacket', ...args, name], { t });
  await waitListening(name, 'seqpacket');
  return [srv, name];
}

async function stop(t, srv) {
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.false(r.timedOut, show(r));
  return r;
}

test("listen -k -t seqpacket --exec: a shell helper's read -r gets each whole request, and its echo is one message (several clients)", async (t) => {
  const [srv, name] = await server(t, ['-k', '--exec', 'read -r req; echo "got $req"']);
  for (let i = 0; i < 3; i++) {
    const c = await client(t, name, [`request number ${i}`]);
    t.deepEqual(c.got, [`got request number ${i}`]);
    t.is(c.end, 'eof');
  }
  const clients = await Promise.all([0, 1, 2, 3].map((i) => client(t, name, [`at once ${i}`])));
  t.deepEqual(
    clients.map((c) => c.got),
    [0, 1, 2, 3].map((i) => [`got at once ${i}`]),
  );
  await stop(t, srv);
});

test('listen -t seqpacket --exec: several messages on one connection are several lines, and several lines several messages', async (t) => {
  const [srv, name] = await server(t, ['-k', '--exec', 'while read -r req; do echo "got $req"; done']);
  const c = await client(t, name, ['one', 'two words', 'three']);
  t.deepEqual(c.got, ['got one', 'got two words', 'got three']);
  await stop(t, srv);
});

test('listen -t seqpacket --exec --frame nul: a message holding a newline reaches the command and comes back whole', async (t) => {
  const [srv, name] = await server(t, ['-k', '--frame', 'nul', '--exec', 'cat']);
  const c = await client(t, name, ['two\nlines', 'x']);
  t.deepEqual(c.got, ['two\nlines', 'x']);
  await stop(t, srv);
  // With the default framing the same command cuts it at the newline.
  const [srv2, name2] = await server(t, ['-k', '--exec', 'cat']);
  t.deepEqual((await client(t, name2, ['two\nlines', 'x'])).got, ['two', 'lines', 'x']);
  await stop(t, srv2);
});

test('listen -t seqpacket --exec --frame len32: binary messages pass through the command intact', async (t) => {
  const [srv, name] = await server(t, ['-k', '--frame', 'len32', '--exec', 'cat']);
  const msgs = ['\x00\n\xff binary', 'a'.repeat(30000), 'last'];
  const c = await client(t, name, msgs);
  t.deepEqual(c.got, msgs);
  await stop(t, srv);
});

test('listen -t seqpacket --exec --max-size: a line of the command longer than it is reported and not sent', async (t) => {
  const [srv, name] = await server(t, ['-k', '--max-size', '10', '--exec', 'echo short; echo this-line-is-far-too-long; echo end']);
  const c = await client(t, name, []);
  t.deepEqual(c.got, ['short', 'end']);
  const r = await stop(t, srv);
  t.regex(r.stderr.toString(), /output message of 25 bytes exceeds --max-size 10: skipped/);
});

test('listen -t seqpacket --exec-socket: CMD gets the socket itself and recv()s each whole message', async (t) => {
  const cmd = `${SYSTEM_PYTHON} -c '
import socket
s = socket.socket(fileno=0)
m = s.recv(65536)
s.send(b"%d:" % s.type + m)
'`;
  const [srv, name] = await server(t, ['-k', '--exec-socket', '--exec', cmd]);
  const c = await client(t, name, ['request with more than one byte']);
  t.deepEqual(c.got, [`5:request with more than one byte`], 'SOCK_SEQPACKET is 5');
  // Without --exec-socket the same program reads a byte stream of lines.
  const [srv2, name2] = await server(t, ['-k', '--exec', cmd]);
  t.deepEqual((await client(t, name2, ['request'])).got, ['1:request'], 'SOCK_STREAM is 1; the newline ends the message');
  await stop(t, srv);
  await stop(t, srv2);
});

test("listen -t seqpacket --exec: USOCK_PEER_PID, USOCK_PEER_UID and USOCK_PEER_GID are the client's", async (t) => {
  const [srv, name] = await server(t, ['-k', '--exec', 'echo "$USOCK_PEER_PID $USOCK_PEER_UID $USOCK_PEER_GID"']);
  const c = await client(t, name, []);
  t.deepEqual(c.got, [`${c.pid} ${c.uid} ${c.gid}`]);
  await stop(t, srv);
});

test('listen -t seqpacket --exec: a command that reads nothing has its whole output delivered, then EOF (no reset) while the client still sends', async (t) => {
  const [srv, name] = await server(t, ['-k', '--exec', 'seq 1 3000']);
  const c = await client(t, name, ['unread', 'also unread', 'more'], false);
  t.is(c.got.length, 3000);
  t.is(c.got[0], '1');
  t.is(c.got[2999], '3000');
  t.is(c.end, 'eof');
  await stop(t, srv);
});

test("listen -t seqpacket --exec (one peer): listen exits with the command's status once its reply is delivered", async (t) => {
  const [srv, name] = await server(t, ['--exec', 'read -r x; echo "got $x"; exit 3']);
  const c = await client(t, name, ['hi there']);
  t.deepEqual(c.got, ['got hi there']);
  const r = await srv.exited;
  t.is(r.code, 3, show(r));
});

// A seqpacket server: accepts one client, sends each of argv[2] (JSON list) as a message, half-closes, prints the
// messages it receives until EOF as a JSON list.
const SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(addr(sys.argv[1]))
srv.listen(4)
print('ready', flush=True)
c, _ = srv.accept()
for m in json.loads(sys.argv[2]):
    c.send(m.encode())
got = []
while True:
    d = c.recv(65536)
    if not d:
        break
    got.append(d.decode())
print(json.dumps(got), flush=True)
`);

test("connect -t seqpacket --exec: a shell helper reads the server's whole message and its line is one message back", async (t) => {
  const name = '@' + abstractName();
  const srv = python(SERVER, [name, JSON.stringify(['hello there'])], { t });
  await srv.waitStdout('ready\n');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--exec', 'read -r m; echo "reply to $m"; echo second', name], { t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.deepEqual(JSON.parse(s.stdout.toString().split('\n')[1]), ['reply to hello there', 'second']);
});

test('connect -t seqpacket --exec --frame nul: a message holding a newline reaches the command whole', async (t) => {
  const name = '@' + abstractName();
  const srv = python(SERVER, [name, JSON.stringify(['a\nb'])], { t });
  await srv.waitStdout('ready\n');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'nul', '--exec', 'head -c 4', name], { t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.deepEqual(JSON.parse(s.stdout.toString().split('\n')[1]), ['a\nb']);
});

for (const [args, re] of /** @type {Array<[string[], RegExp]>} */ ([
  [['listen', '--exec', 'cat', '--exec-socket'], /^usock: listen: --exec-socket does not apply to -t stream/],
  [['listen', '-t', 'seqpacket', '--exec-socket'], /^usock: listen: --exec-socket does not apply without --exec/],
  [['listen', '--exec', 'cat', '--frame', 'nul'], /^usock: listen: --frame does not apply to -t stream with --exec/],
  [['listen', '--exec', 'cat', '--max-size', '10'], /^usock: listen: --max-size does not apply to -t stream with --exec/],
  [
    ['listen', '-t', 'seqpacket', '--exec', 'cat', '--exec-socket', '--frame', 'nul'],
    /^usock: listen: --frame does not apply with --exec-socket/,
  ],
  [['connect', '--exec', 'cat', '--exec-socket'], /^usock: connect: --exec-socket does not apply to -t stream/],
  [['connect', '-t', 'seqpacket', '--exec-socket'], /^usock: connect: --exec-socket does not apply without --exec/],
  [['connect', '--exec', 'cat', '--frame', 'nul'], /^usock: connect: --frame does not apply to -t stream with --exec/],
  [
    ['connect', '-t', 'seqpacket', '--exec', 'cat', '--exec-socket', '--max-size', '10'],
    /^usock: connect: --max-size does not apply with --exec-socket/,
  ],
])) {
  test(`usock ${args.join(' ')}: a usage error (64)`, async (t) => {
    const r = await runUsock([...args, '@' + abstractName()], { t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, re);
  });
}
