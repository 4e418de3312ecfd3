// usock activate --accept and --inetd: a CMD per connection (as fd 3 with LISTEN_FDS=1, or on stdin and stdout), concurrently, within --max-conns, with the access rules; signals to every CMD.
import ava from 'ava';
import path from 'node:path';
import { endedBy, py, python, runPython, show, tmpDir, waitListening, waitUntil } from '../helpers.mjs';
import { childrenOf, daemon, records, request, usockActivate } from './activate-helpers.mjs';

const test = ava.serial;

test('--accept: three clients at once, each served by a process of its own with the connection as fd 3', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'acc.sock');
  const u = usockActivate(['activate', '--accept', sock, '--', ...daemon('connection')], { t });
  await waitListening(sock);
  // All three connect before any sends, and send in reverse order: one process serving them in turn would wait on the first for ever.
  const r = await runPython(
    py(`
conns = [connect_retry(socket.SOCK_STREAM, sys.argv[1]) for _ in range(3)]
for i in reversed(range(3)):
    conns[i].sendall(b'client%d' % i)
    conns[i].shutdown(socket.SHUT_WR)
for c in conns:
    print(recv_all(c).decode())
`),
    [sock],
    { t },
  );
  t.is(r.code, 0, show(r));
  const replies = r.stdout.toString().trim().split('\n');
  t.is(replies.length, 3, show(r));
  const pids = replies.map((line, i) => {
    const m = /^connection (\d+) client(\d)$/.exec(line);
    t.truthy(m, line);
    t.is(Number(m?.[2]), i);
    return Number(m?.[1]);
  });
  t.is(new Set(pids).size, 3, `three processes: ${pids}`);
  const infos = u
    .text()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  t.is(infos.length, 3);
  for (const info of infos) {
    t.is(info.fds, 1);
    t.deepEqual(info.names, ['connection']);
    t.deepEqual(info.listening, [false], 'fd 3 is the connection, not the listening socket');
  }
  u.kill('SIGTERM');
  const end = await u.exited;
  t.true(endedBy(end, 'SIGTERM'), show(end));
});

test('--inetd with cat: the connection on stdin and stdout, no LISTEN_* variables', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'cat.sock');
  const u = usockActivate(['activate', '--inetd', sock, '--', 'sh', '-c', 'env | grep ^LISTEN_ || echo no-listen-vars; exec cat'], {
    t,
    env: { LISTEN_FDS: '2', LISTEN_PID: '1' },
  });
  await waitListening(sock);
  t.is(await request(t, sock, 'hello through cat\n'), 'no-listen-vars\nhello through cat\n');
  t.is(await request(t, sock, 'and again\n'), 'no-listen-vars\nand again\n');
  u.kill('SIGTERM');
  t.true(endedBy(await u.exited, 'SIGTERM'));
});

test('--max-conns 1: the second client waits in the backlog until the first CMD has ended', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'max.sock');
  const u = usockActivate(['activate', '--json', '--accept', '--max-conns', '1', sock, '--', ...daemon('connection')], { t });
  await waitListening(sock);
  const r = twoClients(t, sock);
  await r.waitStdout('first connected');
  await u.waitStderr((s) => records(s).some((e) => e.event === 'start'));
  r.write('go\n'); // the second client connects and sends, then the first sends
  const result = await r.exited;
  t.is(result.code, 0, show(result));
  t.regex(result.stdout.toString(), /first: connection \d+ one\nsecond: connection \d+ two/);
  await u.waitStderr((s) => records(s).filter((e) => e.event === 'exit').length === 2);
  const events = records(u.stderr()).map((e) => e.event);
  t.deepEqual(
    events,
    ['accepted', 'start', 'exit', 'accepted', 'start', 'exit'],
    'the second connection is accepted only after the first CMD ended',
  );
  const accepted = records(u.stderr()).filter((e) => e.event === 'accepted');
  t.is(accepted[0].peer.uid, process.getuid?.(), "each accepted connection is recorded with the peer's credentials");
  t.is(typeof accepted[0].time, 'string');
  u.kill('SIGTERM');
  await u.exited;
});

/** A Python client: connects (prints "first connected"), waits for a line on stdin, connects a second time and sends "two", then sends "one" on the first; prints both replies. */
function twoClients(t, sock) {
  return python(
    py(`
a = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print('first connected', flush=True)
sys.stdin.readline()
b = connect_retry(socket.SOCK_STREAM, sys.argv[1])
b.sendall(b'two'); b.shutdown(socket.SHUT_WR)
a.sendall(b'one'); a.shutdown(socket.SHUT_WR)
print('first: ' + recv_all(a).decode())
print('second: ' + recv_all(b).decode())
`),
    [sock],
    { t },
  );
}

test('--accept with access rules: a peer no rule admits is closed and reported, no CMD starts for it', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'rules.sock');
  const other = process.getuid?.() === 12345 ? 12346 : 12345;
  const u = usockActivate(['activate', '--accept', '--allow-uid', String(other), sock, '--', ...daemon('connection')], { t });
  await waitListening(sock);
  const rejected = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
try:
    print('closed' if s.recv(100) == b'' else 'data')
except ConnectionResetError:
    print('closed')
`),
    [sock],
    { t },
  );
  t.is(rejected.stdout.toString().trim(), 'closed', show(rejected));
  await u.waitStderr((s) => /rejected pid \d+ uid \d+/.test(s));
  t.deepEqual(childrenOf(u.pid), []);
  t.is(u.text(), '', 'no CMD ran');
  u.kill('SIGTERM');
  await u.exited;
  const v = usockActivate(['activate', '--accept', '--allow-uid', String(process.getuid?.()), sock, '--', ...daemon('connection')], { t });
  await waitListening(sock);
  t.regex(await request(t, sock, 'me'), /^connection \d+ me$/);
  v.kill('SIGTERM');
  await v.exited;
});

test('--accept: a signal goes to every running CMD, then usock dies of it', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'sig.sock');
  const u = usockActivate(['activate', '--accept', sock, '--', ...daemon('connection')], { t });
  await waitListening(sock);
  const clients = python(
    py(`
conns = [connect_retry(socket.SOCK_STREAM, sys.argv[1]) for _ in range(2)]
print('connected', flush=True)
for c in conns:
    recv_all(c)
`),
    [sock],
    { t },
  );
  await clients.waitStdout('connected');
  await waitUntil(
    () =>
      u
        .text()
        .split('\n')
        .filter((l) => l.startsWith('{')).length === 2,
    60_000,
    'two CMDs started',
  );
  u.kill('SIGTERM');
  const r = await u.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.is(
    r.stdout
      .toString()
      .split('\n')
      .filter((l) => l === 'SIGTERM').length,
    2,
    'each CMD got SIGTERM',
  );
  await clients.exited;
});
