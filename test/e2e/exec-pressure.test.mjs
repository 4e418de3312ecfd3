// listen -k --exec under descriptor pressure (ulimit -n 32): clients beyond what the descriptors hold wait in the
// backlog until a command can start for them; none is accepted and then dropped (issue 21, item 2).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import path from 'node:path';
import { USOCK, py, python, show, startProcess, tmpDir, waitListening } from '../helpers.mjs';

/** Starts `usock ARGS` with its open-files limit lowered to n (as `sh -c 'ulimit -n N; exec usock ...'`). */
function usockWithFdLimit(t, n, args) {
  return startProcess('sh', ['-c', `ulimit -n ${n}; exec "$@"`, 'sh', process.execPath, USOCK, ...args], { t });
}

// Connects argv[2] clients to argv[1] (type argv[3]) before any is served, sends each 'qI\n' (one message on
// seqpacket), then reads every reply to EOF; prints JSON: the clients answered 'got qI', and what the others got.
const CLIENTS = py(`
import select, errno
path, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = socket.SOCK_SEQPACKET if kind == 'seqpacket' else socket.SOCK_STREAM
cs = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, st)
    s.connect(addr(path))
    cs.append(s)
failed = {}
got = {i: b'' for i in range(n)}
for i, s in enumerate(cs):
    try:
        s.send(b'q%d\\n' % i if st == socket.SOCK_STREAM else b'q%d' % i)
    except OSError as e:
        failed[i] = errno.errorcode.get(e.errno, str(e.errno))
open_ = {s.fileno(): i for i, s in enumerate(cs) if i not in failed}
deadline = time.time() + 90
while open_ and time.time() < deadline:
    r, _, _ = select.select(list(open_), [], [], 1)
    for fd in r:
        i = open_[fd]
        try:
            d = cs[i].recv(1000)
        except OSError as e:
            failed[i] = errno.errorcode.get(e.errno, str(e.errno))
            d = b''
        if d:
            got[i] += d if st == socket.SOCK_STREAM else d + b'\\n'
        else:
            del open_[fd]
            cs[i].close()
answered = [i for i in range(n) if got[i] == b'got q%d\\n' % i]
print(json.dumps({'answered': answered, 'failed': failed, 'other': {i: got[i].decode() for i in range(n) if i not in answered and got[i]}}))
`);

/** Runs CLIENTS: n clients of type kind at once against address; returns its parsed report. */
async function hundredAtOnce(t, address, n, kind) {
  const c = python(CLIENTS, [address, n, kind], { t });
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  return JSON.parse(r.stdout.toString());
}

test('listen -k --exec under ulimit -n 32: 100 clients at once are all served in turn, the first 5 first; none is accepted and dropped', async (t) => {
  const sock = path.join(tmpDir(t), 's');
  const srv = usockWithFdLimit(t, 32, ['listen', '-k', '--exec', 'read -r req; echo "got $req"', sock]);
  await waitListening(sock);
  const got = await hundredAtOnce(t, sock, 100, 'stream');
  t.deepEqual(got.answered.slice(0, 5), [0, 1, 2, 3, 4], JSON.stringify(got));
  t.true(got.answered.length >= 90, JSON.stringify(got));
  t.deepEqual(got.failed, {}, 'no client got EPIPE or a reset');
  srv.kill('SIGTERM');
  const r = await srv.exited;
  const err = r.stderr.toString();
  t.notRegex(err, /cannot run|exec-failed/, 'no command failed to start: its client would be dropped');
  t.notRegex(err, /\b(\w+): \1:/, 'no warning doubles a word');
});

test('listen -k -t seqpacket --exec (lines relayed) under ulimit -n 32: 60 clients at once are all answered', async (t) => {
  const sock = path.join(tmpDir(t), 's');
  const srv = usockWithFdLimit(t, 32, ['listen', '-k', '-t', 'seqpacket', '--exec', 'read -r req; echo "got $req"', sock]);
  await waitListening(sock, 'seqpacket');
  const got = await hundredAtOnce(t, sock, 60, 'seqpacket');
  t.is(got.answered.length, 60, JSON.stringify(got));
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.notRegex(r.stderr.toString(), /cannot run/, show(r));
});

test('listen -k -v --exec under ulimit -n 32: -v says that --max-conns was lowered to what the descriptors hold', async (t) => {
  const sock = path.join(tmpDir(t), 's');
  const srv = usockWithFdLimit(t, 32, ['-v', 'listen', '-k', '--exec', 'cat', sock]);
  await srv.waitStderr((s) => /--max-conns 100 lowered to \d+: the open-files limit \(ulimit -n 32/.test(s));
  srv.kill('SIGTERM');
  await srv.exited;
  t.pass();
});
