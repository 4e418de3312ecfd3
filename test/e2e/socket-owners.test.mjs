// Whose socket usock may replace, and abstract addresses that nobody can protect with file permissions:
// another user's stale socket in a sticky directory is refused (73, named, untouched); a server on an
// abstract address without --allow-* warns once; --mode with an abstract address is a usage error (64).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  runPython,
  py,
  tmpDir,
  abstractName,
  waitListening,
  assertCleanError,
  show,
  rootTest,
  NOBODY_UID,
  NOBODY_GID,
  SYSTEM_PYTHON,
} from '../helpers.mjs';

/** Leaves a stale socket at sock, bound by a process that exits without removing it (as nobody when asNobody). */
async function staleSocket(t, sock, asNobody) {
  const opts = asNobody ? { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' } : { t };
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
`),
    [sock],
    opts,
  );
  t.is(r.code, 0, show(r));
  t.true(fs.lstatSync(sock).isSocket());
}

rootTest("root does not replace nobody's stale socket in a sticky directory: 73 naming the owner, the file untouched", async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o1777);
  const sock = path.join(dir, 'theirs.sock');
  await staleSocket(t, sock, true);
  const before = fs.lstatSync(sock);
  t.is(before.uid, NOBODY_UID);
  const r = await runUsock(['listen', sock], { input: '', t });
  t.is(r.code, 73, show(r));
  assertCleanError(t, r.stderr, /stale socket owned by nobody \(uid 65534\) in a sticky directory: not replaced/);
  const after = fs.lstatSync(sock);
  t.is(after.ino, before.ino, 'the same file is still there');
});

test("a stale socket of usock's own user in a sticky directory is still replaced", async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o1777);
  const sock = path.join(dir, 'mine.sock');
  await staleSocket(t, sock, false);
  const l = usock(['listen', sock], { t });
  await waitListening(sock);
  l.kill('SIGTERM');
  await l.exited;
  t.false(fs.existsSync(sock));
});

test('listen on an abstract address without --allow-* warns once that anyone in the namespace can connect; -q and rules silence it', async (t) => {
  for (const [extra, warned] of /** @type {Array<[string[], boolean]>} */ ([
    [[], true],
    [['-q'], false],
    [['--allow-uid', String(process.getuid?.())], false],
  ])) {
    const name = '@' + abstractName();
    const l = usock(['listen', ...extra, name], { t });
    await waitListening(name);
    l.kill('SIGTERM');
    const r = await l.exited;
    const lines = r.stderr
      .toString()
      .split('\n')
      .filter((x) => /anyone in this network namespace can connect/.test(x));
    t.is(lines.length, warned ? 1 : 0, `${extra.join(' ')}: ${show(r)}`);
  }
});

test('--mode with an abstract address is a usage error (64) before anything is bound', async (t) => {
  const name = '@' + abstractName();
  const r = await runUsock(['echo-server', '--mode', '600', name], { input: '', t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /--mode does not apply to the abstract address/);
});
