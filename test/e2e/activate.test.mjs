// usock activate: the sockets handed to a daemon as systemd's socket activation does (fd 3, 4, ..., LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), started lazily by the first client or datagram or at once (--now), the daemon the sockets' holder, the socket files removed at exit.
import ava from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  abstractName,
  USOCK,
  endedBy,
  longDir,
  py,
  runPython,
  runUsock,
  show,
  tmpDir,
  usock,
  waitForSocketFile,
  waitListening,
  waitUntil,
} from '../helpers.mjs';
import { childrenOf, daemon, daemonInfo, request, usockActivate } from './activate-helpers.mjs';

const test = ava.serial;

test('lazy start: the daemon starts at the first connection, which it answers; LISTEN_PID is its own pid, the socket fd 3, blocking and listening', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'app.sock');
  const u = usockActivate(['activate', sock, '--', ...daemon('serve')], { t });
  await waitListening(sock);
  t.deepEqual(childrenOf(u.pid), [], 'nothing started before a client came');
  t.is(u.text(), '');
  const reply = await request(t, sock, 'ping');
  const info = daemonInfo(u.text());
  t.truthy(info, u.text());
  t.is(reply, `app.sock ${info.pid} ping`);
  t.deepEqual(info.names, ['app.sock']);
  t.deepEqual(info.types, ['stream']);
  t.deepEqual(info.listening, [true]);
  t.deepEqual(info.blocking, [true]);
  t.deepEqual(childrenOf(u.pid), [info.pid], "the daemon is usock's child, with LISTEN_PID its own pid");
  t.is(await request(t, sock, 'again'), `app.sock ${info.pid} again`, 'one daemon serves every later client');
  u.kill('SIGTERM');
  const r = await u.exited;
  t.is(r.code, 7, `usock exits with the daemon's status after passing SIGTERM on: ${show(r)}`);
  t.false(fs.existsSync(sock), 'the socket file usock created is removed');
});

test('two sockets in the order given, named by --fdname; seqpacket and an abstract address', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'web.sock');
  const name = `@${abstractName()}`;
  const u = usockActivate(['activate', '-t', 'seqpacket', '--fdname', 'web', '--fdname', 'admin', sock, name, '--', ...daemon('serve')], {
    t,
  });
  await waitListening(sock, 'seqpacket');
  await waitListening(name, 'seqpacket');
  const reply = await request(t, name, 'via admin', 'seqpacket');
  const info = daemonInfo(u.text());
  t.deepEqual(info.names, ['web', 'admin']);
  t.deepEqual(info.types, ['seqpacket', 'seqpacket']);
  t.is(info.fds, 2);
  t.is(reply, `admin ${info.pid} via admin`);
  t.is(await request(t, sock, 'via web', 'seqpacket'), `web ${info.pid} via web`);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});

test("the default names: each address's last component, other bytes as _", async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const u = usockActivate(['activate', '--now', path.join(dir, 'my app.sock'), `@${name}/x!y`, '--', ...daemon('serve')], { t });
  await u.waitStdout('\n');
  t.deepEqual(daemonInfo(u.text()).names, ['my_app.sock', `${name}_x_y`]);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});

test('dgram: the first datagram starts the daemon, which receives it', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'log.sock');
  const u = usockActivate(['activate', '-t', 'dgram', sock, '--', ...daemon('serve')], { t });
  await waitListening(sock, 'dgram');
  t.deepEqual(childrenOf(u.pid), []);
  const client = path.join(dir, 'client.sock');
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[2])
s.sendto(b'first', sys.argv[1])
s.settimeout(90)
print(s.recv(100).decode())
`),
    [sock, client],
    { t },
  );
  t.is(r.code, 0, show(r));
  await u.waitStdout('got log.sock first');
  const info = daemonInfo(u.text());
  t.deepEqual(info.types, ['dgram']);
  t.is(r.stdout.toString().trim(), `log.sock ${info.pid} first`);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});

test('--now starts the daemon before any client', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'now.sock');
  const u = usockActivate(['activate', '--now', sock, '--', ...daemon('serve')], { t });
  await u.waitStdout('\n');
  t.deepEqual(daemonInfo(u.text()).names, ['now.sock']);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});

test('after the hand-over usock holds no copy: `usock ls` shows the daemon as the holder', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'held.sock');
  const u = usockActivate(['activate', '--now', sock, '--', ...daemon('serve')], { t });
  await u.waitStdout('\n');
  const { pid } = daemonInfo(u.text());
  const rows = await waitUntil(
    async () => {
      const r = await runUsock(['ls', '--json', '--listening', sock], { t });
      const found = r.stdout
        .toString()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      return found.length === 1 && found[0].pids?.length === 1 ? found : null; // usock's copy closed
    },
    60_000,
    'the socket in usock ls',
  );
  t.is(rows[0].pid, pid, JSON.stringify(rows));
  t.deepEqual(rows[0].pids, [pid], 'usock itself no longer holds the socket');
  u.kill('SIGTERM');
  await u.exited;
});

test('binding as listen does: --mode race-free, a stale socket file replaced, a live one refused (73), a long path', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'mode.sock');
  // a stale socket file: bound, then its socket closed
  const stale = await runPython(py('s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])'), [sock], { t });
  t.is(stale.code, 0, show(stale));
  const u = usockActivate(['activate', '--mode', '0600', sock, '--', ...daemon('serve')], { t });
  await waitListening(sock);
  t.is(fs.statSync(sock).mode & 0o777, 0o600);
  t.regex(await request(t, sock, 'mode'), /^mode\.sock \d+ mode$/);
  const again = await runUsock(['activate', sock, '--', ...daemon('serve')], { t });
  t.is(again.code, 73, show(again));
  t.regex(again.stderr.toString(), /address in use/);
  const long = path.join(longDir(dir, 120), 'long.sock');
  const v = usockActivate(['activate', long, '--', ...daemon('serve')], { t });
  await waitForSocketFile(long);
  const reply = await runPython(
    py(`
os.chdir(os.path.dirname(sys.argv[1]))
s = connect_retry(socket.SOCK_STREAM, os.path.basename(sys.argv[1]))
s.sendall(b'long'); s.shutdown(socket.SHUT_WR)
print(recv_all(s).decode())
`),
    [long],
    { t },
  );
  t.regex(reply.stdout.toString(), /^long\.sock \d+ long/, show(reply));
  for (const p of [u, v]) p.kill('SIGTERM');
  t.is((await u.exited).code, 7);
  t.is((await v.exited).code, 7);
  t.false(fs.existsSync(long));
});

test('a signal before any client: usock dies of it, nothing started, the socket file removed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'idle.sock');
  const u = usockActivate(['activate', sock, '--', ...daemon('serve')], { t });
  await waitListening(sock);
  u.kill('SIGTERM');
  const r = await u.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.is(r.stdout.toString(), '');
  t.false(fs.existsSync(sock));
});

test("-E sets variables for CMD (VAR alone: usock's own value); usock's own LISTEN_* never reach it", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'env.sock');
  const u = usockActivate(
    ['activate', '--now', '-E', 'ACT_ONE=1', '--setenv', 'ACT_TWO', '-E', 'ACT_UNSET', sock, '--', ...daemon('serve')],
    {
      t,
      env: { ACT_TWO: 'from usock', LISTEN_FDNAMES: 'stale:names:here', LISTEN_FDS: '3', LISTEN_PID: '1' },
    },
  );
  await u.waitStdout('\n');
  const info = daemonInfo(u.text());
  t.deepEqual(info.env, { ACT_ONE: '1', ACT_TWO: 'from usock' });
  t.deepEqual(info.names, ['env.sock'], "LISTEN_FDNAMES is usock's, not the one it was given");
  u.kill('SIGTERM');
  await u.exited;
});

test("listen --exec: usock's own LISTEN_* do not reach the command either", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'exec.sock');
  const u = usock(['listen', '--exec', 'env | grep ^LISTEN_ || echo none', sock], {
    t,
    env: { LISTEN_FDS: '1', LISTEN_PID: '1', LISTEN_FDNAMES: 'x' },
  });
  await waitListening(sock);
  const reply = await request(t, sock, '');
  t.is(reply.trim(), 'none');
  await u.exited;
});

test('a daemon that exits: usock exits with its status and removes the socket file', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'exit.sock');
  const r = await runUsock(['activate', '--now', sock, '--', ...daemon('exit', 5)], { t });
  t.is(r.code, 5, show(r));
  t.false(fs.existsSync(sock));
});

test('a socket passed on: usock activate sd:NAME under another activate hands it to the daemon with its name', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'outer.sock');
  const u = usockActivate(['activate', '--fdname', 'web', sock, '--', USOCK, 'activate', 'sd:web', '--', ...daemon('serve')], { t });
  await waitListening(sock);
  const reply = await request(t, sock, 'passed on');
  const info = daemonInfo(u.text());
  t.deepEqual(info.names, ['web']);
  t.is(reply, `web ${info.pid} passed on`, 'the daemon, two activations down, answers the first client');
  u.kill('SIGTERM');
  const r = await u.exited;
  t.is(r.code, 7, show(r));
  t.false(fs.existsSync(sock));
});

test('an inherited dgram socket passed on by sd: without -t: its own type and the name it came with', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'outer.sock');
  const inner = ['activate', 'sd:', '--', ...daemon('serve')];
  const u = usockActivate(['activate', '-t', 'dgram', '--fdname', 'logs', sock, '--', USOCK, ...inner], { t });
  await waitListening(sock, 'dgram');
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'first', sys.argv[1])
`),
    [sock],
    { t },
  );
  t.is(r.code, 0, show(r));
  await u.waitStdout('got logs first');
  const info = daemonInfo(u.text());
  t.deepEqual(info.types, ['dgram']);
  t.deepEqual(info.names, ['logs']);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});
