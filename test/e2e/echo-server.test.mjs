// End-to-end tests of `usock echo-server`: stream, seqpacket and dgram with 20 concurrent Python clients,
// @abstract, --max-size, -v peer credentials, and SIGTERM/SIGINT ending it and removing the socket file.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { usock, runPython, py, tmpDir, abstractName, waitListening, endedBy, show, runPythonFile } from '../helpers.mjs';

const N = 20;

/** Starts an echo-server with stdin at EOF (it must serve until a signal anyway) and waits until it is bound. */
async function startEcho(t, type, address, extra = []) {
  const e = usock(['echo-server', '-t', type, ...extra, address], { t });
  e.end();
  await waitListening(address, type);
  return e;
}

async function stop(t, e, sig = 'SIGTERM') {
  e.kill(sig);
  const r = await e.exited;
  t.true(endedBy(r, sig), `echo-server did not end by ${sig}: ${show(r)}`);
  return r;
}

/** Python: run_clients(client) runs client(i, barrier) in argv[2] threads at once, prints their results ('ok' or the error) as JSON. */
const RUN_CLIENTS = `
def run_clients(client):
    n = int(sys.argv[2])
    barrier = threading.Barrier(n, timeout=60)
    results = [None] * n
    def run(i):
        try:
            results[i] = client(i, barrier)
        except Exception as e:
            results[i] = repr(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads: th.start()
    for th in threads: th.join()
    print(json.dumps(results))
`;

/** Runs a RUN_CLIENTS script with N clients against sock and asserts that it exited 0 with every client 'ok'. */
async function assertClientsOk(t, script, sock) {
  const r = await runPython(script, [sock, N], { t, timeout: 90_000 });
  t.is(r.code, 0, show(r));
  t.deepEqual(JSON.parse(r.stdout.toString()), Array(N).fill('ok'));
}

// N threads; each connects, gets its first message echoed, waits at a barrier until ALL clients got theirs
// (so the server must serve them concurrently), then sends more and checks every byte of the echo.
const STREAM_CLIENTS = py(
  RUN_CLIENTS +
    `
def client(i, barrier):
    s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
    part1 = (b'client %d says hello; ' % i) * 50
    s.sendall(part1)
    got = b''
    while len(got) < len(part1):
        d = s.recv(65536)
        if not d:
            break
        got += d
    barrier.wait()
    part2 = os.urandom(40000 + i)
    s.sendall(part2)
    s.shutdown(socket.SHUT_WR)
    rest = recv_all(s)
    return 'ok' if got == part1 and rest == part2 else 'mismatch %d/%d %d/%d' % (len(got), len(part1), len(rest), len(part2))

run_clients(client)
`,
);

test('stream echo-server: 20 concurrent clients each get exactly their own bytes back', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'stream', sock);
  await assertClientsOk(t, STREAM_CLIENTS, sock);
  t.false(e.done, 'echo-server ended after its clients');
  await stop(t, e);
  t.false(fs.existsSync(sock), 'socket file removed on SIGTERM');
});

const SEQPACKET_CLIENTS = py(
  RUN_CLIENTS +
    `
def client(i, barrier):
    s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
    first = b'first from %d' % i
    s.send(first)
    ok = s.recv(1 << 20) == first
    barrier.wait()
    msgs = [b'm%d-%d-' % (i, k) + b'x' * (k * 997) for k in range(5)] + [os.urandom(100000)]
    for m in msgs:
        s.send(m)
    got = [s.recv(1 << 20) for m in msgs]
    s.shutdown(socket.SHUT_WR)
    tail = s.recv(100)
    return 'ok' if ok and got == msgs and tail == b'' else 'mismatch %r' % [len(g) for g in got]

run_clients(client)
`,
);

test('seqpacket echo-server: 20 concurrent clients, every message echoed whole on its own connection', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'seqpacket', sock);
  await assertClientsOk(t, SEQPACKET_CLIENTS, sock);
  await stop(t, e);
  t.false(fs.existsSync(sock));
});

const DGRAM_CLIENTS = py(
  RUN_CLIENTS +
    `
def client(i, barrier):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind('')  # autobind, so that the server can answer
    s.settimeout(30)
    msgs = [b'dgram %d #%d ' % (i, k) + b'y' * (k * 1000) for k in range(5)]
    s.sendto(msgs[0], addr(sys.argv[1]))
    got = [s.recv(1 << 20)]
    barrier.wait()
    for m in msgs[1:]:
        s.sendto(m, addr(sys.argv[1]))
        got.append(s.recv(1 << 20))
    return 'ok' if got == msgs else 'mismatch'

run_clients(client)
`,
);

test('dgram echo-server: 20 concurrent senders, each gets only its own messages back', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'dgram', sock);
  // an unnamed sender cannot be answered; the server must go on serving the others
  const anon = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'nobody can answer me', sys.argv[1])
`),
    [sock],
    { t },
  );
  t.is(anon.code, 0, show(anon));
  await assertClientsOk(t, DGRAM_CLIENTS, sock);
  t.false(e.done, show({ code: 0, signal: null, stdout: e.stdout(), stderr: e.stderr(), timedOut: false }));
  await stop(t, e);
  t.false(fs.existsSync(sock));
});

test('dgram echo-server --max-size: a larger datagram is reported, not echoed truncated', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'dgram', sock, ['--max-size', '100']);
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('')
s.settimeout(20)
s.sendto(b'L' * 200, sys.argv[1])
s.sendto(b'small', sys.argv[1])
print(s.recv(1 << 20).decode())
`),
    [sock],
    { t },
  );
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'small\n');
  await e.waitStderr('200').catch(() => {});
  t.true(e.errText().includes('200'), `oversize datagram not reported: ${JSON.stringify(e.errText())}`);
  await stop(t, e);
});

test('stream echo-server on @abstract', async (t) => {
  const name = '@' + abstractName();
  const e = await startEcho(t, 'stream', name);
  const r = await runPythonFile('send_then_read.py', [name, 'abstract echo'], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'abstract echo');
  await stop(t, e);
});

test("echo-server -v logs each connection with the peer's pid", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'stream', sock, ['-v']);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print(os.getpid(), flush=True)
s.sendall(b'x')
s.shutdown(socket.SHUT_WR)
recv_all(s)
`),
    [sock],
    { t },
  );
  t.is(r.code, 0, show(r));
  const pid = r.stdout.toString().trim();
  await e.waitStderr(pid).catch(() => {});
  t.true(e.errText().includes(pid), `peer pid ${pid} not in stderr: ${JSON.stringify(e.errText())}`);
  t.false(/^\s+at /m.test(e.errText()));
  await stop(t, e);
});

test('echo-server: SIGINT ends it and removes the socket file', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'stream', sock);
  await stop(t, e, 'SIGINT');
  t.false(fs.existsSync(sock));
});

test('echo-server: a client that disconnects mid-transfer does not stop the server', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'e');
  const e = await startEcho(t, 'stream', sock);
  // sends a lot and closes without reading: the echo back hits a reset connection
  const rude = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.settimeout(2)  # the server may stop reading while its echo is not read: give up, then close unread
try:
    s.sendall(b'z' * 2000000)
except OSError:
    pass
s.close()
`),
    [sock],
    { t },
  );
  t.is(rude.code, 0, show(rude));
  const r = await runPythonFile('send_then_read.py', [sock, 'still there?'], { t });
  t.is(r.stdout.toString(), 'still there?', show(r));
  t.false(e.done, `echo-server ended: ${e.errText()}`);
  await stop(t, e);
});
