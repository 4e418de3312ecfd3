// Defect: `connect -t dgram` hangs when the peer goes away. cli.md: "A send refused because the peer is gone
// (ECONNREFUSED, ENOENT) ends usock with 69 and one line, after writing out the replies already received."
// Real processes only: usock against a Python dgram server that disappears (closes and unlinks its socket).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { usock, python, py, tmpDir, assertCleanError, show, sleep } from '../helpers.mjs';

// A dgram server at argv[1]: receives one message, replies argv[2] times ('echo:DATA'), then closes and
// unlinks its socket and says 'gone'.
const ONE_SHOT_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
srv.bind(sys.argv[1])
print('ready', flush=True)
data, sender = srv.recvfrom(1 << 16)
print('got ' + data.decode('latin1'), flush=True)
for i in range(int(sys.argv[2])):
    srv.sendto(b'echo:' + data, sender)
srv.close()
os.unlink(sys.argv[1])
print('gone', flush=True)
`);

/** Keeps writing a line to p's stdin every 100 ms (stdin stays open) until p exits or `ms` pass; returns the result or null. */
async function feedUntilExit(p, ms) {
  const end = Date.now() + ms;
  let i = 0;
  while (!p.done && Date.now() < end) {
    try {
      p.write(`more${i++}\n`);
    } catch {
      // stdin closed by the child's exit
    }
    await Promise.race([sleep(100), p.exited]);
  }
  return p.done ? p.exited : null;
}

test('connect -t dgram: the server replies once then goes away; usock exits 69 with the reply on stdout', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(ONE_SHOT_SERVER, [sock, 1], { t });
  await srv.waitStdout('ready');
  const u = usock(['connect', '-t', 'dgram', sock], { t });
  u.write('one\n');
  await u.waitStdout('echo:one\n');
  await srv.waitStdout('gone');
  t.false(fs.existsSync(sock), 'the server unlinked its socket');
  // stdin stays open and keeps getting lines: the next send is refused (ENOENT / ECONNREFUSED).
  const r = await feedUntilExit(u, 60_000);
  t.truthy(
    r,
    `usock still running a minute after its peer went away; stdout=${JSON.stringify(u.text())} stderr=${JSON.stringify(u.errText())}`,
  );
  if (!r) return;
  t.is(r.code, 69, show(r));
  t.is(r.stdout.toString(), 'echo:one\n', 'the reply received before the peer went away is written out');
  assertCleanError(t, r.stderr);
});

test('connect -t dgram: the server goes away without replying; usock exits 69 with one clean line', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(ONE_SHOT_SERVER, [sock, 0], { t });
  await srv.waitStdout('ready');
  const u = usock(['connect', '-t', 'dgram', sock], { t });
  u.write('one\n');
  await srv.waitStdout('gone');
  const r = await feedUntilExit(u, 60_000);
  t.truthy(
    r,
    `usock still running a minute after its peer went away; stdout=${JSON.stringify(u.text())} stderr=${JSON.stringify(u.errText())}`,
  );
  if (!r) return;
  t.is(r.code, 69, show(r));
  t.is(r.stdout.toString(), '');
  assertCleanError(t, r.stderr);
});
