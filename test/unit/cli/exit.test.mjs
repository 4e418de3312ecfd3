// Unit tests of the exit codes (sysexits) and the error lines: EXIT, exitCodeFor, errorLines.
import test from 'ava';
import { EXIT, exitCodeFor, errorLines } from '../../../src/cli/exit.ts';

test('EXIT follows sysexits', (t) => {
  t.like(EXIT, { OK: 0, FAILURE: 1, USAGE: 64, NOINPUT: 66, UNAVAILABLE: 69, CANTCREAT: 73, IOERR: 74, NOPERM: 77 });
});

function sysErr(code, message = `x: ${code}`) {
  const e = new Error(message);
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
