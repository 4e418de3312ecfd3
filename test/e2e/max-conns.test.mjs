// --max-conns: at most N connections served at once; the others wait in the kernel's backlog (neither accepted
// nor dropped) until one ends. Default 100 with --exec (each connection is a shell), 10,000 otherwise.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { usock, python, py, tmpDir, waitListening, waitUntil, show, sleep } from '../helpers.mjs';

// Opens argv[2] clients to argv[1]; prints 'greeted I' when client I gets 'hi'; 'close I' on stdin closes client I.
const CLIENTS = py(`
import select
n = int(sys.argv[2])
cs = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    cs.append(s)
print('connected', flush=True)
greeted = set()
while True:
    r, _, _ = select.select([c for c in cs if c] + [sys.stdin], [], [])
    for c in r:
        if c is sys.stdin:
            line = sys.stdin.readline()
            if not line:
                sys.exit(0)
            i = int(line.split()[1])
            cs[i].close()
            cs[i] = None
            continue
        i = cs.index(c)
        d = c.recv(100)
        if d.startswith(b'hi') and i not in greeted:
            greeted.add(i)
            print('greeted', i, flush=True)
`);

/** Returns the pids of the processes whose parent is pid. */
function children(pid) {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    });
}

test('listen -k --exec --max-conns 2: a third client waits in the backlog (no shell for it) until one of the first two leaves', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = usock(['listen', '-k', '--max-conns', '2', '--exec', 'echo hi; cat >/dev/null', sock], { t });
  await waitListening(sock);
  const c = python(CLIENTS, [sock, 3], { t });
  await c.waitStdout((s) => (s.match(/greeted/g) ?? []).length === 2);
  await sleep(300); // room for a third greeting that must not come
  t.is((c.text().match(/greeted/g) ?? []).length, 2, c.text());
  t.is(children(srv.pid).length, 2, 'two shells');
  const first = /greeted (\d)/.exec(c.text())[1];
  c.write(`close ${first}\n`);
  await c.waitStdout((s) => (s.match(/greeted/g) ?? []).length === 3);
  t.pass();
});

test('listen -k --exec: 120 idle clients make 100 shells by default; the other 20 wait', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = usock(['listen', '-k', '--exec', 'echo hi; cat >/dev/null', sock], { t });
  await waitListening(sock);
  const c = python(CLIENTS, [sock, 120], { t });
  await c.waitStdout((s) => (s.match(/greeted/g) ?? []).length === 100);
  await sleep(300); // room for a 101st greeting that must not come
  t.is((c.text().match(/greeted/g) ?? []).length, 100);
  await waitUntil(() => children(srv.pid).length === 100, undefined, '100 shells');
  c.end();
  await c.exited;
  srv.kill('SIGTERM');
  const r = await srv.exited;
  t.false(r.timedOut, show(r));
});

test('echo-server --max-conns 1: the second client is echoed once the first has left', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  usock(['echo-server', '--max-conns', '1', sock], { t });
  await waitListening(sock);
  const c = python(
    py(`
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); b.connect(sys.argv[1])
b.sendall(b'second')
a.sendall(b'first'); print(a.recv(10).decode(), flush=True)
b.settimeout(0.3)
try:
    b.recv(10); print('served too early', flush=True)
except socket.timeout:
    print('waiting', flush=True)
a.close()
b.settimeout(30)
print(b.recv(10).decode(), flush=True)
`),
    [sock],
    { t },
  );
  const r = await c.exited;
  t.is(r.stdout.toString(), 'first\nwaiting\nsecond\n', show(r));
});
