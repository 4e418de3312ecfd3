// Unit tests of src/sys/fd.ts on real descriptors: open is close-on-exec and names its path on failure, close and
// closeQuietly, read and write give WOULD_BLOCK instead of blocking, writev keeps the order, fcntl, poll now or bounded.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  close,
  closeQuietly,
  fcntl,
  GATHER_MAX,
  open,
  pollNow,
  pollWait,
  read,
  write,
  writeGather,
  WOULD_BLOCK,
} from '../../../src/sys/fd.ts';
import { shutdown, socketpair } from '../../../src/sys/socket.ts';
import {
  F_GETFD,
  F_GETFL,
  F_SETFL,
  FD_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  POLLHUP,
  POLLIN,
  POLLOUT,
  SHUT_WR,
} from '../../../src/sys/platform/linux.ts';
import { openFds, tmpDir } from '../../helpers.mjs';

/** Descriptors a test still owns: closed when it ends, unless closedNow took them back. */
const owned = new Set();

/** Returns a connected non-blocking stream pair, closed when the test ends. */
function pair(t) {
  const fds = socketpair('stream');
  for (const fd of fds) owned.add(fd);
  t.teardown(() => {
    for (const fd of fds) if (owned.delete(fd)) closeQuietly(fd);
  });
  return fds;
}

/** Closes fd now, so that the test's end does not close its number again (by then another descriptor's). */
function closedNow(fd) {
  owned.delete(fd);
  closeQuietly(fd);
}

test('open returns a close-on-exec descriptor of the file, with the flags and mode asked for', (t) => {
  const file = path.join(tmpDir(t), 'f');
  const previous = process.umask(0o022);
  let fd;
  try {
    fd = open(file, O_WRONLY | O_CREAT, 0o640);
  } finally {
    process.umask(previous);
  }
  t.teardown(() => closeQuietly(fd));
  t.is(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  t.is(fs.statSync(file).mode & 0o777, 0o640);
  t.is(write(fd, Buffer.from('abc')), 3);
  t.is(fs.readFileSync(file, 'utf8'), 'abc');
  t.is(fcntl(fd, F_GETFL) & 3, O_WRONLY);
});

test('open of a missing file throws SysError naming open, the errno and the path, and leaves no descriptor', (t) => {
  const file = path.join(tmpDir(t), 'missing');
  const before = openFds();
  const err = t.throws(() => open(file, O_RDONLY), { name: 'SysError' });
  t.like(err, { syscall: 'open', code: 'ENOENT', errno: 2, path: file });
  t.deepEqual(openFds(), before);
});

test('close closes; a second close throws SysError EBADF; closeQuietly ignores a closed or negative descriptor', (t) => {
  const [a, b] = pair(t);
  owned.delete(a);
  close(a);
  t.like(
    t.throws(() => fcntl(a, F_GETFD), { name: 'SysError' }),
    { syscall: 'fcntl', code: 'EBADF' },
  );
  t.like(
    t.throws(() => close(a), { name: 'SysError' }),
    { syscall: 'close', code: 'EBADF' },
  );
  t.notThrows(() => closeQuietly(a));
  t.notThrows(() => closeQuietly(-1));
  t.is(read(b, Buffer.alloc(4)), 0); // the peer sees the end
});

test('read gives WOULD_BLOCK when nothing is there, the bytes when they are, 0 at the end', (t) => {
  const [a, b] = pair(t);
  const buf = Buffer.alloc(16);
  t.is(read(b, buf), WOULD_BLOCK);
  t.is(write(a, Buffer.from('hello')), 5);
  t.is(read(b, buf), 5);
  t.is(buf.toString('utf8', 0, 5), 'hello');
  shutdown(a, SHUT_WR);
  t.is(read(b, buf), 0);
});

test('write gives WOULD_BLOCK once the peer stops reading, and SysError EPIPE once it is gone', (t) => {
  const [a, b] = pair(t);
  const chunk = Buffer.alloc(64 * 1024);
  let total = 0;
  let n;
  for (let i = 0; i < 10_000 && (n = write(a, chunk)) !== WOULD_BLOCK; i++) total += n;
  t.is(n, WOULD_BLOCK);
  t.true(total > 0);
  closedNow(b);
  t.like(
    t.throws(() => write(a, chunk), { name: 'SysError' }),
    { syscall: 'write', code: 'EPIPE' },
  );
});

test('writeGather writes every buffer in order in one call', (t) => {
  const [a, b] = pair(t);
  const parts = Array.from({ length: GATHER_MAX }, (_, i) => Buffer.from(`<${i}>`));
  const expected = Buffer.concat(parts);
  t.is(writeGather(a, parts), expected.length);
  const buf = Buffer.alloc(expected.length + 16);
  t.is(read(b, buf), expected.length);
  t.deepEqual(buf.subarray(0, expected.length), expected);
});

test('writeGather gives WOULD_BLOCK when nothing fits, and throws SysError naming writev on a closed descriptor', (t) => {
  const [a, b] = pair(t);
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 10_000 && write(a, chunk) !== WOULD_BLOCK; i++);
  t.is(writeGather(a, [Buffer.from('x'), Buffer.from('y')]), WOULD_BLOCK);
  closedNow(b);
  const [c, d] = socketpair('stream');
  closeQuietly(c);
  closeQuietly(d);
  t.like(
    t.throws(() => writeGather(c, [Buffer.from('x')]), { name: 'SysError' }),
    { syscall: 'writev', code: 'EBADF' },
  );
});

test('fcntl reads and sets the file flags; a closed descriptor throws SysError', (t) => {
  const [a] = pair(t);
  const flags = fcntl(a, F_GETFL);
  t.is(flags & O_NONBLOCK, O_NONBLOCK);
  fcntl(a, F_SETFL, flags & ~O_NONBLOCK);
  t.is(fcntl(a, F_GETFL) & O_NONBLOCK, 0);
  t.like(
    t.throws(() => fcntl(-1, F_GETFL), { name: 'SysError' }),
    { syscall: 'fcntl', code: 'EBADF' },
  );
});

test('pollNow tells what is ready now; pollWait returns the events, or 0 when its time is up', (t) => {
  const [a, b] = pair(t);
  t.is(pollNow(b, POLLIN | POLLOUT), POLLOUT);
  t.is(pollWait(b, POLLIN, 0), 0);
  t.is(pollWait(b, POLLIN, 1), 0);
  write(a, Buffer.from('x'));
  t.is(pollNow(b, POLLIN), POLLIN);
  t.is(pollWait(b, POLLIN, 60_000), POLLIN);
  closedNow(a);
  t.is(pollNow(b, POLLIN) & POLLHUP, POLLHUP);
});
