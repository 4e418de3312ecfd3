// Unit tests of src/cli/exit.ts: the exit status of every kind of error (sysexits, as the CLI contract's table says)
// and the error lines: EXIT, exitCodeFor, errorLines.
import test from 'ava';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import path from 'node:path';
import { EXIT, exitCodeFor, errorLines } from '../../../src/cli/exit.ts';
import { tmpDir } from '../../helpers.mjs';

// The error classes as exit.ts sees them: tsx gives a module imported here an instance of its own, and exit.ts tells
// errors apart with instanceof.
const require = createRequire(import.meta.url);
/** @type {typeof import('../../../src/errors.ts')} */
const { UsageError, UsockError } = require('../../../src/errors.ts');
/** @type {typeof import('../../../src/io/framing.ts')} */
const { FrameError } = require('../../../src/io/framing.ts');
/** @type {typeof import('../../../src/sys/errors.ts')} */
const { SysError } = require('../../../src/sys/errors.ts');
/** @type {typeof import('../../../src/sys/fd.ts')} */
const { closeQuietly } = require('../../../src/sys/fd.ts');
/** @type {typeof import('../../../src/sys/socket.ts')} */
const { bind, connect, socket } = require('../../../src/sys/socket.ts');
/** @type {typeof import('../../../src/sys/sockaddr.ts')} */
const { encodePathAddress } = require('../../../src/sys/sockaddr.ts');

/** errno numbers by name, as Node knows them for this system. @type {Record<string, number>} */
const ERRNO = constants.errno;

test('EXIT follows sysexits', (t) => {
  t.like(EXIT, { OK: 0, FAILURE: 1, USAGE: 64, NOINPUT: 66, UNAVAILABLE: 69, CANTCREAT: 73, IOERR: 74, NOPERM: 77 });
});

function sysErr(code, message = `x: ${code}`) {
  const e = /** @type {Error & { code?: string }} */ (new Error(message));
  e.code = code;
  return e;
}

test('exitCodeFor maps errno codes to the cli.md table', (t) => {
  t.is(exitCodeFor(sysErr('ENOENT')), 69);
  t.is(exitCodeFor(sysErr('ECONNREFUSED')), 69);
  t.is(exitCodeFor(sysErr('EPROTOTYPE')), 69);
  t.is(exitCodeFor(sysErr('EADDRINUSE')), 73);
  t.is(exitCodeFor(sysErr('EACCES')), 77);
  t.is(exitCodeFor(sysErr('EPERM')), 77);
  t.is(exitCodeFor(sysErr('EPIPE')), 74);
  t.is(exitCodeFor(sysErr('EIO')), 74);
});

test('exitCodeFor: unknown errors are 1', (t) => {
  t.is(exitCodeFor(new Error('boom')), 1);
  t.is(exitCodeFor(sysErr('EWHATEVER')), 1);
  t.is(exitCodeFor('a string'), 1);
  t.is(exitCodeFor(null), 1);
  t.is(exitCodeFor(undefined), 1);
});

test('errorLines: one `usock: ` line, only the first line of the message', (t) => {
  t.deepEqual(errorLines(new Error('boom\nat something')), ['usock: boom']);
  t.deepEqual(errorLines('plain'), ['usock: plain']);
});

test('errorLines never returns more than a message and one hint line', (t) => {
  for (const e of [new Error('x'), sysErr('ECONNREFUSED', 'connect /x: Connection refused (ECONNREFUSED)'), sysErr('EACCES'), 42, null]) {
    const lines = errorLines(e);
    t.true(lines.length >= 1 && lines.length <= 2);
    t.true(lines[0].startsWith('usock: '));
    if (lines[1] !== undefined) t.true(lines[1].startsWith('hint: '));
    t.false(lines.some((l) => l.includes('\n')));
  }
});

test('errorLines does not put a stack trace in its lines', (t) => {
  const e = new Error('failed');
  const lines = errorLines(e);
  t.false(lines.some((l) => /^\s+at /m.test(l)));
  t.is(lines[0], 'usock: failed');
});

test('exitCodeFor: every kind of UsockError exits with EXIT[kind]', (t) => {
  for (const [kind, code] of Object.entries(EXIT)) t.is(exitCodeFor(new UsockError('x', /** @type {any} */ (kind))), code, kind);
  t.is(exitCodeFor(new UsageError('bad --mode')), 64);
});

test('exitCodeFor follows the exit-code table of the CLI contract, kind by kind', (t) => {
  t.is(exitCodeFor(new UsockError('x', 'FAILURE')), 1);
  t.is(exitCodeFor(new UsageError('unknown option')), 64);
  t.is(exitCodeFor(new UsockError('x', 'DATAERR')), 65);
  t.is(exitCodeFor(new UsockError('x', 'NOINPUT')), 66);
  t.is(exitCodeFor(new UsockError('x', 'UNAVAILABLE')), 69);
  t.is(exitCodeFor(new UsockError('x', 'CANTCREAT')), 73);
  t.is(exitCodeFor(new UsockError('x', 'IOERR')), 74);
  t.is(exitCodeFor(new UsockError('x', 'TEMPFAIL')), 75);
  t.is(exitCodeFor(new UsockError('x', 'NOPERM')), 77);
});

test("exitCodeFor: an error of another layer that names its kind (a malformed len32 frame) gets that kind's status", (t) => {
  t.is(exitCodeFor(new FrameError('len32 frame of 9999 bytes on stdin exceeds --max-size 10: input stops there')), 65);
  t.is(exitCodeFor(Object.assign(new Error('x'), { kind: 'TEMPFAIL' })), 75);
  t.is(exitCodeFor(Object.assign(new Error('x'), { kind: 'NOT_A_KIND' })), 1, 'an unknown kind is no kind');
});

test('exitCodeFor: each errno of a SysError to its status', (t) => {
  const table = {
    ENOENT: 69,
    ECONNREFUSED: 69,
    ENOTDIR: 69,
    EPROTOTYPE: 69,
    EADDRINUSE: 73,
    EEXIST: 73,
    EACCES: 77,
    EPERM: 77,
    ENAMETOOLONG: 64,
    EPIPE: 74,
    ECONNRESET: 74,
    EIO: 74,
    ENOSPC: 74,
    EDQUOT: 74,
    EINVAL: 1,
    EBADF: 1,
  };
  for (const [code, status] of Object.entries(table)) {
    const errno = ERRNO[code];
    t.truthy(errno, code);
    const err = new SysError('connect', errno, '/run/x.sock');
    t.is(err.code, code);
    t.is(exitCodeFor(err), status, code);
  }
});

test('exitCodeFor: real failures of real calls', (t) => {
  const dir = tmpDir(t);
  const fd = socket('stream');
  t.teardown(() => closeQuietly(fd));
  const nowhere = t.throws(() => connect(fd, encodePathAddress(path.join(dir, 'missing.sock')), 'missing.sock'));
  t.is(exitCodeFor(nowhere), 69, 'ENOENT: nothing to talk to');
  const file = path.join(dir, 'taken.sock');
  bind(fd, encodePathAddress(file), file);
  const other = socket('stream');
  t.teardown(() => closeQuietly(other));
  const taken = t.throws(() => bind(other, encodePathAddress(file), file));
  t.is(exitCodeFor(taken), 73, 'EADDRINUSE: cannot create');
  const nodeError = t.throws(() => fs.readFileSync(path.join(dir, 'nope')));
  t.is(exitCodeFor(nodeError), 69, 'a Node system error goes by its code too');
});

test('errorLines: a SysError is its message and, for the errnos that have one, a hint', (t) => {
  const refused = new SysError('connect', ERRNO.ECONNREFUSED, '/run/app.sock');
  t.deepEqual(errorLines(refused), [
    'usock: connect /run/app.sock: Connection refused (ECONNREFUSED)',
    'hint: nothing accepts connections there: the socket file may be stale, or of another type (try --type)',
  ]);
  t.regex(errorLines(new SysError('connect', ERRNO.EPROTOTYPE, '/x'))[1] ?? '', /^hint: the socket is of another type: try -t dgram/);
  t.regex(errorLines(new SysError('connect', ERRNO.EACCES, '/x'))[1] ?? '', /^hint: check the permissions/);
  const io = errorLines(new SysError('write', ERRNO.EIO));
  t.is(io.length, 1, 'no hint for EIO');
  t.regex(io[0] ?? '', /^usock: write: .+ \(EIO\)$/);
});

test('errorLines: a UsockError carries its own hint; a plain Error with a code gets none', (t) => {
  t.deepEqual(errorLines(new UsockError('bind /x: address in use', 'CANTCREAT', 'stop that process, or choose another address')), [
    'usock: bind /x: address in use',
    'hint: stop that process, or choose another address',
  ]);
  t.deepEqual(errorLines(new UsageError('bad --mode')), ['usock: bad --mode']);
  t.deepEqual(errorLines(sysErr('ECONNREFUSED', 'connect ECONNREFUSED /x')), ['usock: connect ECONNREFUSED /x']);
});
