// End-to-end tests of the access rules (--allow-uid, --allow-gid, --allow-user, --allow-group) on listen, echo-server
// and peercred --listen: stream and seqpacket peers checked with SO_PEERCRED (and SO_PEERGROUPS) before any of their
// data is read, dgram senders per message with SCM_CREDENTIALS; rejections reported; bad rules are usage errors.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  usock,
  runUsock,
  runPython,
  py,
  tmpDir,
  waitListening,
  assertCleanError,
  endedBy,
  show,
  sleep,
  SYSTEM_PYTHON,
  NOBODY_UID,
  rootTest,
} from '../helpers.mjs';

const NOBODY_GID = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
const NOBODY_GROUP = execFileSync('id', ['-gn', 'nobody']).toString().trim();
// A group nobody is not in, to hand out as a supplementary group.
const DAEMON_GID = 1;
const DAEMON_GROUP = execFileSync('getent', ['group', String(DAEMON_GID)])
  .toString()
  .split(':')[0];

/** Options for a Python peer running as nobody (uid and gid 65534/nogroup, no supplementary groups) or as root. */
function as(t, who) {
  return who === 'nobody' ? { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' } : { t, cwd: '/' };
}

/** Returns a 0777 temp dir (so nobody can reach a 0666 socket in it) and a socket path there. */
function sharedSocket(t, name = 's') {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o777);
  return path.join(dir, name);
}

// A stream/seqpacket client: connects (retrying), optionally takes argv[4] as supplementary groups (then drops
// to nobody), sends argv[3], half-closes, and prints JSON: its pid and what it received ('reset' when the
// server closed on it with data unread).
const CLIENT = py(`
types = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}
if len(sys.argv) > 4:
    os.setgroups([int(g) for g in sys.argv[4].split(',') if g])
    os.setgid(${NOBODY_GID})
    os.setuid(${NOBODY_UID})
s = connect_retry(types[sys.argv[2]], sys.argv[1])
chunks, end = send_then_read(s, sys.argv[3].encode())
print(json.dumps({'pid': os.getpid(), 'got': b''.join(chunks).decode(), 'end': end}), flush=True)
`);

async function connectClient(t, sock, type, data, who, groups) {
  const args = [sock, type, data];
  if (groups !== undefined) args.push(groups);
  const r = await runPython(CLIENT, args, groups !== undefined ? { t, cwd: '/' } : as(t, who));
  t.is(r.code, 0, show(r));
  return JSON.parse(r.stdout.toString());
}

// A dgram sender: binds (autobind) unless argv[3] is 'unnamed', sends argv[2], waits up to argv[4] seconds
// (default 1; 0: not at all) for a reply; prints JSON with its pid and the reply (null when none came).
const DGRAM_CLIENT = py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if len(sys.argv) < 4 or sys.argv[3] != 'unnamed':
    s.bind('')
for i in range(400):
    try:
        s.sendto(sys.argv[2].encode(), addr(sys.argv[1]))
        break
    except (ConnectionRefusedError, FileNotFoundError):
        time.sleep(0.025)
s.settimeout(float(sys.argv[4]) if len(sys.argv) > 4 else 1.0)
try:
    reply = s.recv(65536).decode()
except (socket.timeout, OSError):
    reply = None
print(json.dumps({'pid': os.getpid(), 'reply': reply}), flush=True)
`);

/** Sends data as who and waits `wait` seconds for a reply (0: the server never replies, do not wait). */
async function sendDatagram(t, sock, data, who, unnamed = false, wait = 1) {
  const r = await runPython(DGRAM_CLIENT, [sock, data, unnamed ? 'unnamed' : 'named', wait], as(t, who));
  t.is(r.code, 0, show(r));
  return JSON.parse(r.stdout.toString());
}

/** Starts `usock listen -k FLAGS SOCK` with stdin at EOF (so it half-closes every connection: clients see EOF); resolves once it listens. */
async function listenKeepOpen(t, sock, flags, type = 'stream') {
  const srv = usock(['listen', '-k', ...flags, sock], { t });
  srv.end();
  await waitListening(sock, type);
  return srv;
}

/** Waits for `last` on the server's stdout, gives it 100 ms more, ends it with SIGTERM and returns its result. */
async function stopAfter(srv, last) {
  await srv.waitStdout(last);
  await sleep(100); // room for output that must not come (a loaded machine can only hide it: never a false failure)
  srv.kill('SIGTERM');
  return srv.exited;
}

// ---- stream and seqpacket -------------------------------------------------------------------------------------

const RULES = [
  ['--allow-uid', String(NOBODY_UID)],
  ['--allow-user', 'nobody'],
  ['--allow-gid', String(NOBODY_GID)],
  ['--allow-group', NOBODY_GROUP],
];

for (const [option, value] of RULES) {
  rootTest(`listen -k ${option} ${value}: nobody's data on stdout, root's never; root reported with pid, uid, gid`, async (t) => {
    const sock = sharedSocket(t);
    const srv = await listenKeepOpen(t, sock, ['--mode', '0666', option, value]);
    const root = await connectClient(t, sock, 'stream', 'ROOT-SECRET\n', 'root');
    t.is(root.got, '');
    const nobody = await connectClient(t, sock, 'stream', 'NOBODY-DATA\n', 'nobody');
    const r = await stopAfter(srv, 'NOBODY-DATA\n');
    t.true(endedBy(r, 'SIGTERM'), show(r));
    t.is(r.stdout.toString(), 'NOBODY-DATA\n');
    t.regex(r.stderr.toString(), new RegExp(`^usock: rejected pid ${root.pid} uid 0 gid 0: no --allow rule matches$`, 'm'));
    t.false(r.stderr.toString().includes(`pid ${nobody.pid}`), 'an admitted peer is not reported without -v');
  });
}

rootTest('listen without -k: a rejected peer does not end it; the next admitted peer is served both ways', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['listen', '--mode', '0666', '--allow-user', 'nobody', sock], { t });
  await waitListening(sock);
  const root = await connectClient(t, sock, 'stream', 'ROOT\n', 'root');
  t.is(root.got, '');
  t.false(srv.done);
  srv.end('reply to nobody\n');
  const nobody = await connectClient(t, sock, 'stream', 'from nobody\n', 'nobody');
  t.is(nobody.got, 'reply to nobody\n');
  const r = await srv.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from nobody\n');
});

rootTest('a rejected client is closed before anything is read: it sees EOF or a reset, never a reply', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['echo-server', '--mode', '0666', '--allow-uid', String(NOBODY_UID), sock], { t });
  await waitListening(sock);
  const root = await connectClient(t, sock, 'stream', 'echo me', 'root');
  t.is(root.got, '');
  t.true(root.end === 'eof' || root.end === 'reset');
  const nobody = await connectClient(t, sock, 'stream', 'echo me', 'nobody');
  t.is(nobody.got, 'echo me');
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.regex(r.stderr.toString(), new RegExp(`rejected pid ${root.pid} uid 0 gid 0`));
});

rootTest("echo-server -t seqpacket --allow-user nobody: nobody's messages echoed, root's not", async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['echo-server', '-t', 'seqpacket', '--mode', '0666', '--allow-user', 'nobody', sock], { t });
  await waitListening(sock, 'seqpacket');
  const root = await connectClient(t, sock, 'seqpacket', 'ROOT', 'root');
  t.is(root.got, '');
  const nobody = await connectClient(t, sock, 'seqpacket', 'NOBODY', 'nobody');
  t.is(nobody.got, 'NOBODY');
  srv.kill('SIGTERM');
  t.regex((await srv.exited).stderr.toString(), new RegExp(`rejected pid ${root.pid} uid 0 gid 0`));
});

rootTest('listen -t seqpacket -k --allow-gid: rejected messages never reach stdout', async (t) => {
  const sock = sharedSocket(t);
  const srv = await listenKeepOpen(t, sock, ['-t', 'seqpacket', '--mode', '0666', '--allow-gid', String(NOBODY_GID)], 'seqpacket');
  await connectClient(t, sock, 'seqpacket', 'ROOT', 'root');
  await connectClient(t, sock, 'seqpacket', 'NOBODY', 'nobody');
  t.is((await stopAfter(srv, 'NOBODY\n')).stdout.toString(), 'NOBODY\n');
});

rootTest('--allow-group matches a supplementary group (SO_PEERGROUPS), not only the primary gid', async (t) => {
  const sock = sharedSocket(t);
  const srv = await listenKeepOpen(t, sock, ['--mode', '0666', '--allow-group', DAEMON_GROUP]);
  // Both run as uid/gid nobody; only the first has group DAEMON_GID as a supplementary group.
  const member = await connectClient(t, sock, 'stream', 'MEMBER\n', null, String(DAEMON_GID));
  const other = await connectClient(t, sock, 'stream', 'OTHER\n', null, '');
  const r = await stopAfter(srv, 'MEMBER\n');
  t.is(r.stdout.toString(), 'MEMBER\n');
  t.regex(r.stderr.toString(), new RegExp(`rejected pid ${other.pid} uid ${NOBODY_UID} gid ${NOBODY_GID}`));
  t.false(r.stderr.toString().includes(`pid ${member.pid}`));
});

rootTest('several rules: a peer passes if it matches any of them', async (t) => {
  const sock = sharedSocket(t);
  const srv = await listenKeepOpen(t, sock, ['--mode', '0666', '--allow-uid', '12345', '--allow-user', 'nobody', '--allow-gid', '23456']);
  await connectClient(t, sock, 'stream', 'ROOT\n', 'root');
  await connectClient(t, sock, 'stream', 'NOBODY\n', 'nobody');
  t.is((await stopAfter(srv, 'NOBODY\n')).stdout.toString(), 'NOBODY\n');
});

rootTest('-v reports admitted peers with their credentials; -q hides rejections', async (t) => {
  const sock = sharedSocket(t);
  const v = await listenKeepOpen(t, sock, ['-v', '--mode', '0666', '--allow-user', 'nobody']);
  const nobody = await connectClient(t, sock, 'stream', 'x\n', 'nobody');
  await v.waitStderr(`connection from pid ${nobody.pid} uid ${NOBODY_UID} gid ${NOBODY_GID}`);
  v.kill('SIGTERM');
  await v.exited;

  const sock2 = sharedSocket(t);
  const q = await listenKeepOpen(t, sock2, ['-q', '--mode', '0666', '--allow-user', 'nobody']);
  await connectClient(t, sock2, 'stream', 'ROOT\n', 'root'); // closed after the rejection was decided
  await sleep(200); // room for a report that must not come
  q.kill('SIGTERM');
  const r = await q.exited;
  t.is(r.stderr.toString(), '');
  t.is(r.stdout.toString(), '');
});

rootTest("--json: a rejection is one JSON object on stderr with the peer's pid, uid and gid", async (t) => {
  const sock = sharedSocket(t);
  const srv = await listenKeepOpen(t, sock, ['--json', '--mode', '0666', '--allow-uid', String(NOBODY_UID)]);
  const root = await connectClient(t, sock, 'stream', 'ROOT\n', 'root');
  await srv.waitStderr('\n');
  srv.kill('SIGTERM');
  const r = await srv.exited;
  const event = JSON.parse(r.stderr.toString().split('\n')[0]);
  t.like(event, { event: 'rejected', peer: { pid: root.pid, uid: 0, gid: 0 } });
});

rootTest('peercred --listen --allow-user nobody: a record for nobody, none for root', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['peercred', '--listen', '--json', '--mode', '0666', '--allow-user', 'nobody', sock], { t });
  await waitListening(sock);
  const root = await connectClient(t, sock, 'stream', '', 'root');
  const nobody = await connectClient(t, sock, 'stream', '', 'nobody');
  const r = await stopAfter(srv, '\n');
  const recs = r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  t.is(recs.length, 1);
  t.like(recs[0], { pid: nobody.pid, uid: NOBODY_UID, user: 'nobody' });
  // --json makes the stderr report JSON too
  t.like(JSON.parse(r.stderr.toString().split('\n')[0]), { event: 'rejected', peer: { pid: root.pid, uid: 0, gid: 0 } });
});

// A descriptor passer: connects (stream) or sends a datagram (dgram) to argv[1], passing the file argv[3] open
// read-only with one byte of data; then waits for the close (stream) and prints its pid.
const FD_SENDER = py(`
kind = socket.SOCK_DGRAM if sys.argv[2] == 'dgram' else socket.SOCK_STREAM
f = open(sys.argv[3])
if kind == socket.SOCK_DGRAM:
    s = socket.socket(socket.AF_UNIX, kind)
    for i in range(400):
        try:
            # socket.send_fds ignores its address argument: sendmsg takes it.
            s.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, f.fileno().to_bytes(4, sys.byteorder))], 0, addr(sys.argv[1]))
            break
        except (ConnectionRefusedError, FileNotFoundError):
            time.sleep(0.025)
else:
    s = connect_retry(kind, sys.argv[1])
    try:
        socket.send_fds(s, [b'x'], [f.fileno()])
        s.recv(10)
    except (ConnectionResetError, BrokenPipeError):
        pass
print(os.getpid(), flush=True)
`);

// A descriptor receiver: connects to argv[1] and prints JSON: its pid and the data read from the first
// descriptor it receives (null when the connection closes without any).
const FD_RECEIVER = py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
try:
    msg, fds, flags, _ = socket.recv_fds(s, 100, 8)
except ConnectionResetError:
    fds = []
data = os.read(fds[0], 100).decode() if fds else None
print(json.dumps({'pid': os.getpid(), 'data': data}), flush=True)
`);

for (const type of ['stream', 'dgram']) {
  rootTest(`recv-fd --listen -t ${type} --allow-user nobody: root's descriptor is refused, nobody's file is read`, async (t) => {
    const sock = sharedSocket(t);
    const dir = path.dirname(sock);
    fs.writeFileSync(path.join(dir, 'root-file'), 'ROOT-FILE\n', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'nobody-file'), 'NOBODY-FILE\n', { mode: 0o644 });
    const srv = usock(['recv-fd', '--listen', '-t', type, '--mode', '0666', '--allow-user', 'nobody', sock], { t });
    await waitListening(sock, type);
    const root = await runPython(FD_SENDER, [sock, type, path.join(dir, 'root-file')], as(t, 'root'));
    t.is(root.code, 0, show(root));
    await srv.waitStderr('rejected');
    const nobody = await runPython(FD_SENDER, [sock, type, path.join(dir, 'nobody-file')], as(t, 'nobody'));
    t.is(nobody.code, 0, show(nobody));
    const r = await srv.exited;
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), 'NOBODY-FILE\n');
    t.regex(r.stderr.toString(), new RegExp(`rejected (datagram from )?pid ${root.stdout.toString().trim()} uid 0 gid 0`));
  });
}

rootTest('send-fd --listen --allow-uid 65534: nobody receives the descriptor, root gets none', async (t) => {
  const sock = sharedSocket(t);
  const file = path.join(path.dirname(sock), 'shared');
  fs.writeFileSync(file, 'SHARED\n', { mode: 0o600 });
  const srv = usock(['send-fd', '--listen', '--mode', '0666', '--allow-uid', String(NOBODY_UID), sock, file], { t });
  await waitListening(sock);
  const root = await runPython(FD_RECEIVER, [sock], as(t, 'root'));
  t.is(JSON.parse(root.stdout.toString()).data, null, show(root));
  // nobody could not open the 0600 file itself; it reads it through the descriptor it was given.
  const nobody = await runPython(FD_RECEIVER, [sock], as(t, 'nobody'));
  t.is(JSON.parse(nobody.stdout.toString()).data, 'SHARED\n', show(nobody));
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.regex(r.stderr.toString(), new RegExp(`rejected pid ${JSON.parse(root.stdout.toString()).pid} uid 0 gid 0`));
});

// ---- dgram: per message, SO_PASSCRED + SCM_CREDENTIALS ------------------------------------------------------------

rootTest("listen -t dgram --allow-user nobody: nobody's datagrams on stdout, root's dropped and reported", async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['listen', '-t', 'dgram', '--mode', '0666', '--allow-user', 'nobody', sock], { t });
  await waitListening(sock, 'dgram');
  const root = await sendDatagram(t, sock, 'ROOT-SECRET', 'root', false, 0);
  await sendDatagram(t, sock, 'NOBODY-NAMED', 'nobody', false, 0);
  await sendDatagram(t, sock, 'NOBODY-UNNAMED', 'nobody', true, 0);
  const r = await stopAfter(srv, 'NOBODY-UNNAMED\n');
  t.is(r.stdout.toString(), 'NOBODY-NAMED\nNOBODY-UNNAMED\n');
  t.regex(r.stderr.toString(), new RegExp(`rejected datagram from pid ${root.pid} uid 0 gid 0`));
});

rootTest("listen -t dgram with rules: a rejected sender never becomes the target of stdin's messages", async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['listen', '-t', 'dgram', '--mode', '0666', '--allow-uid', String(NOBODY_UID), sock], { t });
  await waitListening(sock, 'dgram');
  // nobody sends and waits for a reply; then root sends (rejected) and waits too; then stdin has a line.
  const nobody = runPython(DGRAM_CLIENT, [sock, 'NOBODY', 'named', '20'], as(t, 'nobody'));
  await srv.waitStdout('NOBODY\n');
  const root = runPython(DGRAM_CLIENT, [sock, 'ROOT', 'named', '2'], as(t, 'root'));
  await srv.waitStderr('rejected datagram');
  srv.write('reply\n');
  t.is(JSON.parse((await nobody).stdout.toString()).reply, 'reply');
  t.is(JSON.parse((await root).stdout.toString()).reply, null);
  srv.kill('SIGTERM');
  t.is((await srv.exited).stdout.toString(), 'NOBODY\n');
});

rootTest('echo-server -t dgram --allow-uid 65534: nobody gets its echo, root gets nothing', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['echo-server', '-t', 'dgram', '--mode', '0666', '--allow-uid', String(NOBODY_UID), sock], { t });
  await waitListening(sock, 'dgram');
  const root = await sendDatagram(t, sock, 'ROOT', 'root');
  t.is(root.reply, null);
  const nobody = await sendDatagram(t, sock, 'NOBODY', 'nobody', false, 30);
  t.is(nobody.reply, 'NOBODY');
  srv.kill('SIGTERM');
  t.regex((await srv.exited).stderr.toString(), new RegExp(`rejected datagram from pid ${root.pid} uid 0 gid 0`));
});

rootTest('peercred --listen -t dgram --allow-group: one record per admitted datagram only', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['peercred', '--listen', '-t', 'dgram', '--json', '--mode', '0666', '--allow-group', NOBODY_GROUP, sock], { t });
  await waitListening(sock, 'dgram');
  const root = await sendDatagram(t, sock, 'ROOT', 'root', false, 0);
  const nobody = await sendDatagram(t, sock, 'NOBODY', 'nobody', false, 0);
  const r = await stopAfter(srv, '\n');
  const recs = r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  t.is(recs.length, 1);
  t.like(recs[0], { pid: nobody.pid, uid: NOBODY_UID, gid: NOBODY_GID, source: 'SCM_CREDENTIALS' });
  t.like(JSON.parse(r.stderr.toString().split('\n')[0]), { event: 'rejected', peer: { pid: root.pid, uid: 0, gid: 0 } });
});

// ---- bad rules ------------------------------------------------------------------------------------------------------

/** @type {Array<[string[], RegExp]>} */
const BAD = [
  [['--allow-user', 'no-such-user-usock'], /unknown user 'no-such-user-usock'/],
  [['--allow-group', 'no-such-group-usock'], /unknown group 'no-such-group-usock'/],
  [['--allow-uid', 'abc'], /bad --allow-uid 'abc'/],
  [['--allow-uid', '-1'], /bad --allow-uid '-1'/],
  [['--allow-uid', '1.5'], /bad --allow-uid '1.5'/],
  [['--allow-gid', '4294967295'], /bad --allow-gid '4294967295'/],
  [['--allow-gid', ''], /bad --allow-gid ''/],
];

const SERVERS = [
  ['listen'],
  ['listen', '-t', 'dgram'],
  ['echo-server'],
  ['echo-server', '-t', 'dgram'],
  ['peercred', '--listen'],
  ['peercred', '--listen', '-t', 'dgram'],
  ['send-fd', '--listen', '--fd', '0'],
  ['recv-fd', '--listen'],
  ['recv-fd', '--listen', '-t', 'dgram'],
];

for (const command of SERVERS) {
  test(`${command.join(' ')}: unknown users and groups and bad ids are usage errors (64), nothing is bound`, async (t) => {
    const dir = tmpDir(t);
    // side by side (independent runs, each with its own address): a usage error is a process start each
    const results = await Promise.all(BAD.map(([args], i) => runUsock([...command, ...args, path.join(dir, `s${i}`)], { t })));
    for (const [i, [args, re]] of BAD.entries()) {
      const r = results[i];
      t.is(r.code, 64, `${args.join(' ')}: ${show(r)}`);
      assertCleanError(t, r.stderr, re);
    }
    t.deepEqual(fs.readdirSync(dir), [], 'nothing bound');
  });
}

test('--allow-user takes exactly one value: the ADDRESS after it is not swallowed', async (t) => {
  const sock = sharedSocket(t);
  const srv = usock(['echo-server', '--allow-user', 'nobody', '--allow-uid', '0', sock], { t });
  await waitListening(sock);
  t.true(fs.statSync(sock).isSocket());
  srv.kill('SIGTERM');
  await srv.exited;
});
