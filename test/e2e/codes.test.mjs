// Exit codes and messages of issue 21 (items 6-13): each run of usock here ends with the status and the one
// `usock:` line cli.md gives for it. Real processes only: usock against Python peers, files and directories.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  runPython,
  python,
  py,
  tmpDir,
  assertCleanError,
  show,
  waitListening,
  rootTest,
  startTap,
  stopBySignal,
  NOBODY_UID,
  NOBODY_GID,
} from '../helpers.mjs';

// ---- 6: listen -t dgram and a message larger than --max-size -------------------------------------------------

/**
 * Starts a Python dgram sender (ready before usock starts, so that a short -w of usock is not spent on
 * Python's start) and returns send(...msgs): each message one datagram to target, resolved once sent.
 */
async function dgramSender(t, target) {
  const p = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print('ready', flush=True)
for line in sys.stdin:
    for m in line.split():
        s.sendto(bytes.fromhex(m), addr(sys.argv[1]))
    print('sent', flush=True)
`),
    [target],
    { t },
  );
  await p.waitStdout('ready');
  let sent = 0;
  return async (...msgs) => {
    p.write(msgs.map((m) => Buffer.from(m).toString('hex')).join(' ') + '\n');
    sent++;
    await p.waitStdout((s) => s.split('sent').length - 1 >= sent);
  };
}

for (const [label, extra] of [
  ['-c 1', ['-c', '1']],
  ['-w 2', ['-w', '2']],
]) {
  test(`listen -t dgram ${label}: a message larger than --max-size is dropped, reported, and the exit status is 65`, async (t) => {
    const sock = path.join(tmpDir(t), 'd.sock');
    const send = await dgramSender(t, sock);
    const p = usock(['listen', '-t', 'dgram', '--max-size', '10', ...extra, sock], { t });
    p.end();
    await waitListening(sock, 'dgram');
    await send('x'.repeat(100), 'small');
    const r = await p.exited;
    t.is(r.code, 65, show(r));
    t.is(r.stdout.toString(), 'small\n');
    t.regex(r.stderr.toString(), /received message of 100 bytes exceeds --max-size 10: dropped/);
  });
}

test('listen -t dgram -w 2: only an oversized message came: 65 (something came and was dropped), not 75', async (t) => {
  const sock = path.join(tmpDir(t), 'd.sock');
  const send = await dgramSender(t, sock);
  const p = usock(['listen', '-t', 'dgram', '--max-size', '10', '-w', '2', sock], { t });
  p.end();
  await waitListening(sock, 'dgram');
  await send('x'.repeat(100));
  const r = await p.exited;
  t.is(r.code, 65, show(r));
  t.is(r.stdout.length, 0);
});

test('listen -t dgram -c 1 without an oversized message still exits 0', async (t) => {
  const sock = path.join(tmpDir(t), 'd.sock');
  const send = await dgramSender(t, sock);
  const p = usock(['listen', '-t', 'dgram', '--max-size', '10', '-c', '1', sock], { t });
  p.end();
  await waitListening(sock, 'dgram');
  await send('small');
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'small\n');
});

// ---- 7: an unknown option is named, not the ADDRESS it swallowed ---------------------------------------------

for (const [name, rest] of /** @type {Array<[string, string[]]>} */ ([
  ['connect', ['/tmp/a.sock']],
  ['listen', ['/tmp/a.sock']],
  ['echo-server', ['/tmp/a.sock']],
  ['pair', ['cat']],
  ['send-fd', ['/tmp/a.sock', '/etc/hostname']],
  ['recv-fd', ['/tmp/a.sock']],
  ['peercred', ['/tmp/a.sock']],
  ['tap', ['/tmp/a.sock', '/tmp/b.sock']],
  ['who-can', ['/tmp/a.sock']],
  ['ls', []],
  ['completion', ['bash']],
])) {
  test(`${[name, '-x', ...rest].join(' ')}: 'unknown option -x', 64`, async (t) => {
    const r = await runUsock([name, '-x', ...rest], { t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, new RegExp(`^usock: ${name}: unknown option -x$`));
  });
}

test('connect --frob ADDRESS and connect -zx ADDRESS name the unknown option', async (t) => {
  let r = await runUsock(['connect', '--frob', '/tmp/a.sock'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /^usock: connect: unknown option --frob$/);
  r = await runUsock(['connect', '-zx', '/tmp/a.sock'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /^usock: connect: unknown option -x$/);
});

// ---- 8: connect to something that is not a socket ----------------------------------------------------------

test('connect to a regular file, a directory, a FIFO or a link to a file: `not a socket`, 69, no stale-socket hint', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'x');
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  const link = path.join(dir, 'link');
  fs.symlinkSync(file, link);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  for (const [target, kind] of [
    [file, 'regular file'],
    [sub, 'directory'],
    [fifo, 'FIFO'],
    [link, 'regular file'],
  ]) {
    for (const extra of [[], ['-t', 'dgram'], ['-z', '-t', 'auto']]) {
      const r = await runUsock(['connect', ...extra, target], { t });
      t.is(r.code, 69, `${target} ${extra}: ${show(r)}`);
      assertCleanError(t, r.stderr, new RegExp(`^usock: connect ${target}: not a socket \\(${kind}\\)$`));
      t.false(r.stderr.toString().includes('hint:'), r.stderr.toString());
    }
  }
  t.is(fs.readFileSync(file, 'utf8'), 'x', 'left untouched');
});

// ---- 9: a socket of another type at the address ------------------------------------------------------------

const PY_TYPES = { stream: 'SOCK_STREAM', seqpacket: 'SOCK_SEQPACKET', dgram: 'SOCK_DGRAM' };

test('connect with the wrong -t (every pair of types, with and without -z): 69 with the -t hint', async (t) => {
  const dir = tmpDir(t);
  for (const server of ['stream', 'seqpacket', 'dgram']) {
    const sock = path.join(dir, `${server}.sock`);
    const srv = python(
      py(`
s = socket.socket(socket.AF_UNIX, socket.${PY_TYPES[server]})
s.bind(sys.argv[1])
if s.type != socket.SOCK_DGRAM:
    s.listen(8)
print('ready', flush=True)
sys.stdin.read()
`),
      [sock],
      { t },
    );
    await srv.waitStdout('ready');
    for (const client of ['stream', 'seqpacket', 'dgram'].filter((c) => c !== server)) {
      for (const extra of [[], ['-z']]) {
        const r = await runUsock(['connect', '-t', client, ...extra, sock], { t, input: 'hi\n' });
        t.is(r.code, 69, `${server} server, -t ${client} ${extra}: ${show(r)}`);
        assertCleanError(t, r.stderr, /Protocol wrong type for socket \(EPROTOTYPE\)$/);
        t.regex(r.stderr.toString(), /\nhint: the socket is of another type: try -t/);
      }
    }
    srv.end();
    await srv.exited;
  }
});

// ---- 10: a listen ADDRESS whose directory is missing: cannot create, 73 ---------------------------------------

for (const [name, args] of /** @type {Array<[string, (a: string) => string[]]>} */ ([
  ['listen', (a) => ['listen', a]],
  ['listen -t dgram', (a) => ['listen', '-t', 'dgram', a]],
  ['echo-server', (a) => ['echo-server', a]],
  ['tap', (a) => ['tap', a, '/tmp/target.sock']],
  ['send-fd --listen', (a) => ['send-fd', '--listen', a, '/etc/hostname']],
  ['recv-fd --listen', (a) => ['recv-fd', '--listen', a]],
  ['peercred --listen', (a) => ['peercred', '--listen', a]],
  ['connect --bind', (a) => ['connect', '--bind', a, '/tmp/target.sock']],
])) {
  test(`${name} in a directory that does not exist: 73, the directory named`, async (t) => {
    const missing = path.join(tmpDir(t), 'no', 'such');
    const r = await runUsock(args(path.join(missing, 'x.sock')), { t });
    t.is(r.code, 73, show(r));
    assertCleanError(t, r.stderr, /^usock: \S+ .*\/no\/such\/x\.sock: No such file or directory \(ENOENT\)$/);
    t.true(r.stderr.toString().includes(`hint: the directory ${missing} does not exist`), r.stderr.toString());
  });
}

test('listen under a regular file (ENOTDIR), and a long path (through /proc/self/fd) in a missing directory: 73', async (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'file'), '');
  let r = await runUsock(['listen', path.join(dir, 'file', 'x.sock')], { t });
  t.is(r.code, 73, show(r));
  assertCleanError(t, r.stderr, /^usock: listen .*\/file\/x\.sock: Not a directory \(ENOTDIR\)$/);
  const long = path.join(dir, 'd'.repeat(60), 'e'.repeat(60), 'x.sock');
  r = await runUsock(['listen', long], { t });
  t.is(r.code, 73, show(r));
  assertCleanError(t, r.stderr, /^usock: listen .*\/x\.sock: No such file or directory \(ENOENT\)$/);
});

// ---- 12: permission failures in usock's words, never Node's ---------------------------------------------------

const AS_NOBODY = { uid: NOBODY_UID, gid: NOBODY_GID };

rootTest(
  'listen as nobody where it may not look (/root/x.sock): `usock: listen /root/x.sock: Permission denied (EACCES)`, 77',
  async (t) => {
    const r = await runUsock(['listen', '/root/x.sock'], { t, ...AS_NOBODY });
    t.is(r.code, 77, show(r));
    assertCleanError(t, r.stderr, /^usock: listen \/root\/x\.sock: Permission denied \(EACCES\)$/);
  },
);

rootTest("as nobody: a directory it may not write (bind), and its own stale socket there (unlink): 77 in usock's words", async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755); // root's: nobody may search it, not write it
  let r = await runUsock(['echo-server', path.join(dir, 'x.sock')], { t, ...AS_NOBODY });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr, /^usock: echo-server .*\/x\.sock: Permission denied \(EACCES\)$/);
  const stale = path.join(dir, 'stale.sock');
  const made = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
os.chmod(sys.argv[1], 0o777)
os.chown(sys.argv[1], ${NOBODY_UID}, ${NOBODY_GID})
`),
    [stale],
    { t },
  );
  t.is(made.code, 0, show(made));
  r = await runUsock(['listen', stale], { t, ...AS_NOBODY });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr, /^usock: listen .*\/stale\.sock: Permission denied \(EACCES\)$/);
  t.true(fs.lstatSync(stale).isSocket(), 'left in place');
});

// ---- 11: help of an unknown command, and help that cannot be written ----------------------------------------

for (const args of [
  ['help', 'frob'],
  ['frob', '--help'],
]) {
  test(`usock ${args.join(' ')}: one line naming the unknown command, 64, no help text`, async (t) => {
    const r = await runUsock(args, { t });
    t.is(r.code, 64, show(r));
    t.is(r.stdout.length, 0, show(r));
    assertCleanError(t, r.stderr, /^usock: unknown command 'frob': expected one of listen, connect, /);
  });
}

for (const args of [['--help'], ['help', 'listen'], ['connect', '--help'], ['--version'], ['--version', '-q']]) {
  test(`usock ${args.join(' ')} > /dev/full: 74 with one line (ENOSPC)`, async (t) => {
    const r = await runUsock(args, { t, stdoutFile: '/dev/full' });
    t.is(r.code, 74, show(r));
    assertCleanError(t, r.stderr, /^usock: stdout: write: No space left on device \(ENOSPC\)$/);
  });
}

test('usock help listen and usock --version still print and exit 0', async (t) => {
  let r = await runUsock(['help', 'listen'], { t });
  t.is(r.code, 0, show(r));
  t.regex(r.stdout.toString(), /^usock listen <address>\n/);
  t.is(r.stderr.length, 0);
  r = await runUsock(['--version'], { t });
  t.is(r.code, 0, show(r));
  t.regex(r.stdout.toString(), /^\d+\.\d+\.\d+\S*\n$/);
});

// ---- 13a: -t auto is connect's alone (with -z) -------------------------------------------------------------

test('help and completion offer -t auto for connect only; elsewhere it is a usage error naming connect -z', async (t) => {
  const names = ['listen', 'connect', 'echo-server', 'pair', 'send-fd', 'recv-fd', 'peercred', 'tap', 'who-can', 'ls'];
  for (const name of names) {
    const help = await runUsock(['help', name], { t });
    t.is(help.code, 0, show(help));
    const typeLines =
      help.stdout
        .toString()
        .split('\n-')
        .find((chunk) => chunk.includes('--type')) ?? '';
    const words = await runUsock(['completion', '--complete', '--', name, '-t', ''], { t });
    t.is(words.code, 0, show(words));
    if (name === 'connect') {
      t.regex(typeLines, /"auto"/, name);
      t.deepEqual(words.stdout.toString().split('\n').filter(Boolean), ['stream', 'dgram', 'seqpacket', 'auto']);
    } else {
      t.notRegex(help.stdout.toString(), /auto/, `${name}: ${help.stdout}`);
      t.deepEqual(words.stdout.toString().split('\n').filter(Boolean), ['stream', 'dgram', 'seqpacket'], name);
    }
  }
  const r = await runUsock(['listen', '-t', 'auto', path.join(tmpDir(t), 'x.sock')], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(
    t,
    r.stderr,
    /^usock: listen: --type auto does not apply \(it is for connect -z\): expected one of stream, dgram, seqpacket$/,
  );
});

// ---- 13b: tap warns once at start when its TARGET is not there -----------------------------------------------

test('tap with a TARGET that does not exist: one warning at start (not with -q), and it keeps serving', async (t) => {
  const dir = tmpDir(t);
  const listen = path.join(dir, 'l.sock');
  const target = path.join(dir, 'target.sock');
  const tap = await startTap(t, listen, target);
  await tap.waitStderr('does not exist');
  t.is(tap.errText(), `usock: tap: target ${target} does not exist: clients cannot reach it until it listens\n`);
  // Each client still fails as before, and tap serves on: a client after the target appears gets through.
  await runUsock(['connect', listen], { t, input: 'one\n' });
  await tap.waitStderr('#1 close');
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
c.sendall(b'hello\\n')
c.close()
`),
    [target],
    { t },
  );
  await srv.waitStdout('ready');
  const c2 = await runUsock(['connect', listen], { t, input: '' });
  t.is(c2.stdout.toString(), 'hello\n', show(c2));
  t.is(tap.errText().split('does not exist').length - 1, 1, 'said once');
  await stopBySignal(t, tap);

  const quiet = await startTap(t, path.join(dir, 'q.sock'), path.join(dir, 'none.sock'), ['-q']);
  await runUsock(['connect', path.join(dir, 'q.sock')], { t, input: '' });
  const end = await stopBySignal(t, quiet);
  t.regex(end.stderr.toString(), /close connect .*none\.sock: No such file or directory/, "the client's record");
  t.false(end.stderr.toString().includes('does not exist'), 'no warning with -q');
});

test('tap with a TARGET that is there: no warning; one that is a regular file: `is not a socket`', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(8)
print('ready', flush=True)
sys.stdin.read()
`),
    [target],
    { t },
  );
  await srv.waitStdout('ready');
  const tap = await startTap(t, path.join(dir, 'l.sock'), target);
  const r = await stopBySignal(t, tap);
  t.is(r.stderr.toString(), '');
  fs.writeFileSync(path.join(dir, 'file'), '');
  const onFile = await startTap(t, path.join(dir, 'f.sock'), path.join(dir, 'file'));
  await onFile.waitStderr('\n');
  t.is(
    onFile.errText(),
    `usock: tap: target ${path.join(dir, 'file')} is not a socket (regular file): clients cannot reach it until it listens\n`,
  );
  await stopBySignal(t, onFile);
});

test('listen -t seqpacket -w 2: only an oversized message came: 65 (something came and was dropped), not 75', async (t) => {
  const sock = path.join(tmpDir(t), 's.sock');
  const p = usock(['listen', '-t', 'seqpacket', '--max-size', '10', '-w', '2', sock], { t });
  await waitListening(sock, 'seqpacket');
  // The client sends one message too large, then stays until usock closes (the idle timeout ends the conversation).
  const client = python(py(`s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1]); s.send(b'x' * 100); s.recv(100)`), [sock], { t });
  const r = await p.exited;
  await client.exited;
  t.is(r.code, 65, show(r));
  t.is(r.stdout.length, 0);
  t.regex(r.stderr.toString(), /received message of 100 bytes exceeds --max-size 10: dropped/);
});

test("the README's completion install lines work as written on a fresh account (their folders do not exist yet)", async (t) => {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = readme.match(/```sh\n(# bash: for every new shell[\s\S]*?)```/);
  t.truthy(block, 'the install block in README.md');
  // Every line but the ~/.bashrc one (that is for an interactive shell), run by sh in a HOME with nothing in it.
  const lines = block[1].split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('source '));
  const home = tmpDir(t);
  const bin = path.join(tmpDir(t), 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(new URL('../../bin/usock', import.meta.url).pathname, path.join(bin, 'usock'));
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}` };
  delete env.XDG_DATA_HOME;
  const r = spawnSync('bash', ['-e', '-c', lines.join('\n')], { env, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(fs.readFileSync(path.join(home, '.local/share/bash-completion/completions/usock'), 'utf8'), /complete .*usock/);
  t.regex(fs.readFileSync(path.join(home, '.zfunc/_usock'), 'utf8'), /#compdef usock/);
});
