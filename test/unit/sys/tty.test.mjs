// Unit tests of src/sys/tty.ts: a socket, a file or a closed descriptor is no terminal and has no width; a pseudo-
// terminal (python3's pty.openpty, its size set with TIOCSWINSZ) is one, with the width it was given.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { columns, isTerminal } from '../../../src/sys/tty.ts';
import { PYTHON, tmpDir } from '../../helpers.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TTY = fileURLToPath(new URL('../../../src/sys/tty.ts', import.meta.url));

test('a socket, a regular file and a closed descriptor are no terminal, of width 0', (t) => {
  const [a, b] = socketpair('stream');
  const file = fs.openSync(path.join(tmpDir(t), 'f'), 'w');
  t.teardown(() => {
    closeQuietly(a);
    fs.closeSync(file);
  });
  closeQuietly(b);
  for (const fd of [a, file, b, -1]) {
    t.false(isTerminal(fd), `fd ${fd}`);
    t.is(columns(fd), 0, `fd ${fd}`);
  }
});

test('a pseudo-terminal is a terminal with the width it was given', (t) => {
  const dir = tmpDir(t);
  const script = path.join(dir, 'tty.mjs');
  fs.writeFileSync(
    script,
    `import { columns, isTerminal } from ${JSON.stringify(TTY)};
console.log(JSON.stringify({ stdin: [isTerminal(0), columns(0)], stdout: [isTerminal(1), columns(1)] }));`,
  );
  // python3 opens a pty of 40 rows and 123 columns and runs node with the pty as stdin and a pipe as stdout.
  const runner = `import fcntl, os, pty, struct, subprocess, sys, termios
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 123, 0, 0))
r = subprocess.run([sys.argv[1], '--import=tsx', sys.argv[2]], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=sys.argv[3], timeout=60)
sys.stdout.write(r.stdout.decode())
sys.stderr.write(r.stderr.decode())
sys.exit(r.returncode)`;
  const r = spawnSync(PYTHON, ['-c', runner, process.execPath, script, ROOT], { encoding: 'utf8', timeout: 90_000 });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { stdin: [true, 123], stdout: [false, 0] });
});
