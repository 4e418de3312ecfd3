// Unit tests of src/sys/platform/linux.ts: each constant is the number the system's own headers give, as python3's
// errno, socket, os, fcntl, select and termios modules (compiled against them) report it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as linux from '../../../../src/sys/platform/linux.ts';
import { PYTHON } from '../../../helpers.mjs';

/** The constants, by name. */
const L = { ...linux };

/** Constants whose Python name differs from theirs: the bit O_SYNC and O_TMPFILE add. */
const EXPRESSIONS = { O_SYNC_BIT: 'os.O_SYNC & ~os.O_DSYNC', O_TMPFILE_BIT: 'os.O_TMPFILE & ~os.O_DIRECTORY' };

/** Returns what Python says of each name: its value in the first module that has it, or null. */
function systemValues(names) {
  const script = `import errno, fcntl, json, os, select, socket, termios
out = {}
for name in json.loads(input()):
    expr = ${JSON.stringify(EXPRESSIONS)}.get(name)
    if expr is not None:
        out[name] = eval(expr)
        continue
    out[name] = next((getattr(m, name) for m in (errno, socket, os, fcntl, select, termios) if hasattr(m, name)), None)
print(json.dumps(out))`;
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(names) + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

test('each constant that Python names is the number of the system headers', (t) => {
  const names = Object.keys(L).filter((name) => typeof L[name] === 'number');
  const system = systemValues(names);
  const differ = names
    .filter((name) => system[name] !== null && system[name] !== L[name])
    .map((name) => `${name}: ${L[name]}, system ${system[name]}`);
  t.deepEqual(differ, []);
  // Python names these at least: errno values, families, types, options, flags, poll and ioctl numbers.
  const named = names.filter((name) => system[name] !== null);
  for (const name of [
    'ENOENT',
    'EINTR',
    'EAGAIN',
    'EINVAL',
    'ERANGE',
    'ENODATA',
    'ETIMEDOUT',
    'EINPROGRESS',
    'AF_UNIX',
    'SOCK_SEQPACKET',
    'SOCK_CLOEXEC',
    'SO_PEERCRED',
    'SCM_RIGHTS',
    'MSG_CMSG_CLOEXEC',
    'O_PATH',
    'O_SYNC_BIT',
    'O_TMPFILE_BIT',
    'F_SETPIPE_SZ',
    'FD_CLOEXEC',
    'EPOLL_CLOEXEC',
    'POLLRDHUP',
    'TIOCGWINSZ',
    'FIONREAD',
  ]) {
    t.true(named.includes(name), `Python has no value for ${name}`);
  }
});
