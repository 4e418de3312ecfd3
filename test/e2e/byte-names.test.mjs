// Names that are not UTF-8: usock binds and connects to the exact bytes the user gave (Node would decode them as
// U+FFFD), never to another path, and shows such names escaped (\xNN) in its output.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import { startProcess, runPython, py, tmpDir, waitUntil, show, USOCK, PYTHON } from '../helpers.mjs';

const NAME = Buffer.from('bin-\xff\xfe.sock', 'latin1');

/** Runs usock through sh so that its arguments carry raw bytes: $1 is the directory, the name comes from printf. */
function usockWithByteName(t, dir, args) {
  const script = `exec "$0" "$1" ${args} "$(printf '%s/bin-\\377\\376.sock' "$2")"`;
  return startProcess('sh', ['-c', script, process.execPath, USOCK, dir], { t });
}

test('listen binds the exact bytes of a non-UTF-8 path, shows it escaped, and removes that file at exit', async (t) => {
  const dir = tmpDir(t);
  const l = usockWithByteName(t, dir, '-v listen');
  await waitUntil(() => fs.readdirSync(dir, { encoding: 'buffer' }).length === 1, undefined, 'the socket file');
  const names = fs.readdirSync(dir, { encoding: 'buffer' });
  t.deepEqual(names, [NAME], `bound ${names.map((n) => n.toString('hex'))}`);
  const c = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.fsencode(sys.argv[1]) + b'/bin-\\xff\\xfe.sock')
s.sendall(b'hello')
s.close()
`),
    [dir],
    { t },
  );
  t.is(c.code, 0, show(c));
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hello');
  t.regex(r.stderr.toString(), /listening on .*\/bin-\\xff\\xfe\.sock/);
  t.false(/\uFFFD/.test(r.stderr.toString()), 'no replacement character in the output');
  t.deepEqual(fs.readdirSync(dir), [], 'the socket file is gone');
});

test('connect reaches the exact non-UTF-8 path, and its error names it escaped', async (t) => {
  const dir = tmpDir(t);
  // nothing there yet: the error shows the name escaped
  const missing = await (async () => {
    const p = usockWithByteName(t, dir, 'connect');
    p.end('');
    return p.exited;
  })();
  t.is(missing.code, 69, show(missing));
  t.regex(missing.stderr.toString(), /bin-\\xff\\xfe\.sock: No such file or directory/);
  const srv = startProcess(
    PYTHON,
    [
      '-c',
      py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.fsencode(sys.argv[1]) + b'/bin-\\xff\\xfe.sock')
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
c.sendall(b'from-server')
c.close()
`),
      dir,
    ],
    { t },
  );
  await srv.waitStdout('ready');
  const c = usockWithByteName(t, dir, 'connect');
  c.end('');
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from-server');
});

test('two arguments that differ only in bytes that are not UTF-8 are a usage error (64): usock cannot tell which is which, so it binds and connects to neither', async (t) => {
  const dir = tmpDir(t);
  const script = `exec "$0" "$1" connect --bind "$(printf '%s/a\\375' "$2")" "$(printf '%s/a\\376' "$2")"`;
  const p = startProcess('sh', ['-c', script, process.execPath, USOCK, dir], { t });
  p.end('');
  const r = await p.exited;
  t.is(r.code, 64, show(r));
  t.regex(r.stderr.toString(), /two arguments differ only in bytes that are not UTF-8 \(.*a\\xfd, .*a\\xfe\)/);
  t.deepEqual(fs.readdirSync(dir), [], 'nothing bound');
});
