// usock ls: the sockets a Python peer opens (a listener and a connection accepted from it, an abstract listener, a datagram
// socket whose name holds a newline and a byte that is not UTF-8) are listed with their type, state, inode, peer and holder;
// --listening, --pid, -t, PREFIX (relative and @) filter; TSV and --json; 5,000 sockets take well under a second.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { python, py, runUsock, tmpDir, abstractName, assertCleanError, show, hasCommand } from '../helpers.mjs';

/** Python: binds and connects the sockets, prints their descriptors as JSON, and holds them until stdin closes. */
const HOLDER = py(`
d, name = sys.argv[1], sys.argv[2]
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(os.path.join(d, 'srv.sock'))
lst.listen(4)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect(os.path.join(d, 'srv.sock'))
acc, _ = lst.accept()
ab = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ab.bind('\\0' + name)
ab.listen(4)
odd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
odd.bind(os.fsencode(d) + b'/new\\nline\\xff.sock')
print(json.dumps({'pid': os.getpid(), 'listener': lst.fileno(), 'client': cli.fileno(), 'accepted': acc.fileno(), 'abstract': ab.fileno(), 'odd': odd.fileno()}), flush=True)
sys.stdin.read()
`);

/** Starts the holder in dir; returns its pid and the inode of each of its sockets (from /proc/PID/fd/N). */
async function holder(t, dir, name) {
  const p = python(HOLDER, [dir, name], { t });
  await p.waitStdout((s) => s.includes('}'));
  const fds = JSON.parse(p.text());
  t.teardown(() => p.end());
  const ino = Object.fromEntries(
    Object.entries(fds)
      .filter(([k]) => k !== 'pid')
      .map(([k, fd]) => [k, fs.statSync(`/proc/${fds.pid}/fd/${fd}`).ino]),
  );
  return { pid: fds.pid, ino };
}

/** Returns the TSV lines of a run as arrays of fields. */
const rows = (r) =>
  r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));

test('TSV: address, type, state, inode, peer, pid, command for each socket of a process; peers cross-checked', async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const h = await holder(t, dir, name);
  const r = await runUsock(['ls', '--pid', String(h.pid)], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
  const lines = rows(r);
  t.true(
    lines.every((l) => l.length === 7),
    show(r),
  );
  const byInode = new Map(lines.map((l) => [Number(l[3]), l]));
  // Its five sockets, and the three of its stdio (Node's pipes to a child are socketpairs).
  t.is(byInode.size, 8, show(r));
  const cmd = (l) => l[6];
  t.deepEqual(byInode.get(h.ino.listener).slice(0, 6), [
    `${dir}/srv.sock`,
    'stream',
    'listening',
    String(h.ino.listener),
    '-',
    String(h.pid),
  ]);
  t.deepEqual(byInode.get(h.ino.client).slice(0, 6), [
    '-',
    'stream',
    'connected',
    String(h.ino.client),
    String(h.ino.accepted),
    String(h.pid),
  ]);
  t.deepEqual(byInode.get(h.ino.accepted).slice(0, 6), [
    `${dir}/srv.sock`,
    'stream',
    'connected',
    String(h.ino.accepted),
    String(h.ino.client),
    String(h.pid),
  ]);
  t.deepEqual(byInode.get(h.ino.abstract).slice(0, 6), [`@${name}`, 'seqpacket', 'listening', String(h.ino.abstract), '-', String(h.pid)]);
  // The name's newline and 0xff, and the newlines of the command (python3 -c SCRIPT): escaped, one line per socket.
  t.deepEqual(byInode.get(h.ino.odd).slice(0, 6), [
    `${dir}/new\\nline\\xff.sock`,
    'dgram',
    'unconnected',
    String(h.ino.odd),
    '-',
    String(h.pid),
  ]);
  t.regex(cmd(byInode.get(h.ino.odd)), /python3 -u -c \\nimport socket/);
});

test('ss -xp, where present, shows the same peers', async (t) => {
  if (!hasCommand('ss')) return t.pass('ss is not installed');
  const dir = tmpDir(t);
  const h = await holder(t, dir, abstractName());
  const ss = spawnSync('ss', ['-xp'], { encoding: 'utf8' }).stdout;
  // Local_Address Port Peer_Address Port: `* INODE * PEER` for the unnamed client.
  t.regex(ss, new RegExp(`\\s${h.ino.client}\\s+\\*\\s+${h.ino.accepted}\\s`));
  const r = await runUsock(['ls', '--pid', String(h.pid), '--json'], { t });
  const client = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((o) => o.inode === h.ino.client);
  t.is(client.peer, h.ino.accepted);
});

test('--json: one object per socket with address, type, state, inode, peer, pid, pids, command', async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const h = await holder(t, dir, name);
  const r = await runUsock(['ls', '--json', '--pid', String(h.pid)], { t });
  t.is(r.code, 0, show(r));
  const objs = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(objs.length, 8); // five, and three of stdio
  for (const o of objs) t.deepEqual(Object.keys(o), ['address', 'type', 'state', 'inode', 'peer', 'pid', 'pids', 'command']);
  const client = objs.find((o) => o.inode === h.ino.client);
  t.like(client, { address: null, type: 'stream', state: 'connected', peer: h.ino.accepted, pid: h.pid });
  t.deepEqual(client.pids, [h.pid]);
  t.is(objs.find((o) => o.inode === h.ino.listener).peer, null);
  t.is(objs.find((o) => o.inode === h.ino.odd).address, `${dir}/new\\nline\\xff.sock`);
});

test('--listening, -t, PREFIX (absolute, relative to the cwd, @abstract) filter', async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const h = await holder(t, dir, name);
  const inodes = async (args, opts = {}) => {
    const r = await runUsock(['ls', ...args], { t, ...opts });
    t.is(r.code, 0, show(r));
    return rows(r)
      .map((l) => Number(l[3]))
      .sort();
  };
  const sorted = (...a) => a.sort();
  // [ls arguments, options, the inodes it must list]; the runs are independent and go side by side
  /** @type {Array<[string[], { cwd?: string }, number[]]>} */
  const cases = [
    [['--listening', '--pid', String(h.pid)], {}, sorted(h.ino.listener, h.ino.abstract)],
    [['--listening', dir], {}, [h.ino.listener]],
    [[dir], {}, sorted(h.ino.listener, h.ino.accepted, h.ino.odd)],
    [['srv'], { cwd: dir }, sorted(h.ino.listener, h.ino.accepted)],
    [['./new'], { cwd: dir }, [h.ino.odd]],
    // '.' is the directory: what is inside it, not its siblings that share the name's start (dir + 'x').
    [['.'], { cwd: dir }, sorted(h.ino.listener, h.ino.accepted, h.ino.odd)],
    [[path.basename(dir) + '/', '--listening'], { cwd: path.dirname(dir) }, [h.ino.listener]],
    [[`@${name}`], {}, [h.ino.abstract]],
    [[`@${name.slice(0, -3)}`, '-t', 'seqpacket'], {}, [h.ino.abstract]],
    [['-t', 'dgram', '--pid', String(h.pid)], {}, [h.ino.odd]],
    [[`${dir}/nothing`], {}, []],
  ];
  const got = await Promise.all(cases.map(([args, opts]) => inodes(args, opts)));
  for (const [i, [args, , want]] of cases.entries()) t.deepEqual(got[i], want, `ls ${args.join(' ')}`);
});

test('usage errors: --pid abc, -t auto, an unknown option (64)', async (t) => {
  const bad = await runUsock(['ls', '--pid', 'abc'], { t });
  t.is(bad.code, 64, show(bad));
  assertCleanError(t, bad.stderr, /bad --pid 'abc'/);
  const auto = await runUsock(['ls', '-t', 'auto'], { t });
  t.is(auto.code, 64, show(auto));
  assertCleanError(t, auto.stderr, /--type auto does not apply/);
  const unknown = await runUsock(['ls', '--mode', '600'], { t });
  t.is(unknown.code, 64, show(unknown));
});

test('-v: the count of sockets shown on stderr; sock_diag here, so no word of peers being unknown', async (t) => {
  const r = await runUsock(['ls', '-v', '--listening'], { t });
  t.is(r.code, 0, show(r));
  t.regex(r.stderr.toString(), /\d+ of \d+ sockets/);
  t.notRegex(r.stderr.toString(), /sock_diag is not available/);
});

/** Python: 2,500 socketpairs (5,000 sockets), held until stdin closes. */
const MANY = py(`
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
pairs = [socket.socketpair() for _ in range(2500)]
print(os.getpid(), flush=True)
sys.stdin.read()
`);

test('5,000 sockets: ls lists every one with its state and peer', async (t) => {
  const p = python(MANY, [], { t });
  await p.waitStdout((s) => s.includes('\n'));
  t.teardown(() => p.end());
  const pid = Number(p.text().trim());
  const started = performance.now();
  const r = await runUsock(['ls'], { t });
  const ms = performance.now() - started;
  t.is(r.code, 0, show(r));
  const mine = rows(r).filter((l) => l[5] === String(pid));
  t.is(mine.length, 5003); // and stdio's three
  t.true(mine.every((l) => l[2] === 'connected' && l[4] !== '-'));
  // Speed is the benchmark's business (a loaded machine makes any bound here fail): only logged.
  t.log(`ls over ${rows(r).length} sockets: ${Math.round(ms)} ms`);
});
