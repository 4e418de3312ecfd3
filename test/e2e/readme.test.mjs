// README examples run as written: the block is taken from README.md, its socket path moved into a temporary
// directory, and run by bash with usock on PATH; the output the README shows must come out.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;

import fs from 'node:fs';
import path from 'node:path';
import { startProcess, show, tmpDir, USOCK } from '../helpers.mjs';

const README = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Returns the first ```sh block after the heading that starts with `heading`. */
function shBlock(heading) {
  const start = README.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`README.md has no heading ${heading}`);
  const m = /```sh\n([\s\S]*?)```/.exec(README.slice(start));
  if (!m) throw new Error(`no sh block under ${heading}`);
  return m[1];
}

/** Returns a directory holding a `usock` that runs this checkout's bin/usock, for PATH. */
function binDir(t) {
  const dir = tmpDir(t);
  fs.symlinkSync(USOCK, path.join(dir, 'usock'));
  return dir;
}

/**
 * Runs the sh block under heading as written, less the output lines it shows (`output`, which must be there), its
 * /tmp/app.sock moved into a temporary directory, with usock on PATH; returns the result and that socket's path.
 */
async function runBlock(t, heading, output) {
  const block = shBlock(heading);
  const script = block.replace(`\n${output}`, '\n');
  t.not(script, block, `the block shows the output ${JSON.stringify(output)}`);
  const sock = path.join(tmpDir(t), 'app.sock');
  // A failed command ends the script; what it left running in the background goes with it.
  const wrapped = `trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script.replaceAll('/tmp/app.sock', sock)}\nwait`;
  const p = startProcess('bash', ['-e', '-c', wrapped], { t, env: { PATH: `${binDir(t)}:${process.env.PATH}` } });
  p.end();
  return { r: await p.exited, sock };
}

test("the README's activate example runs as written: the daemon starts at the first client and answers it", async (t) => {
  const { r, sock } = await runBlock(t, '### Start a daemon on demand: activate', 'HELLO\n');
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'HELLO\n');
  t.false(fs.existsSync(sock), 'activate removed its socket file when the daemon exited');
});

test("the README's inherited-socket example runs as written: echo-server serves the socket activate hands over (sd:)", async (t) => {
  const { r, sock } = await runBlock(t, '#### Inherited sockets: fd:N and sd:', 'hi\n');
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hi\n');
  t.false(fs.existsSync(sock), 'activate removed its socket file when echo-server died of SIGTERM');
});
