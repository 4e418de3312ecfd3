// Unit tests of activate's hand-over (names in LISTEN_FDNAMES, -E, CMD looked up as the shell does) and of its notification parsing.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitCodeFor } from '../../../src/cli/exit.ts';
import { checkCommand, defaultFdName, fdNames, setenvOf } from '../../../src/commands/activate/handover.ts';
import { notificationFields } from '../../../src/commands/activate/notify.ts';
import { parseAddress } from '../../../src/net/address.ts';

test('defaultFdName: the last component, @NAME as NAME, other bytes as _', (t) => {
  t.is(defaultFdName(parseAddress('/run/app/web.sock')), 'web.sock');
  t.is(defaultFdName(parseAddress('rel.sock')), 'rel.sock');
  t.is(defaultFdName(parseAddress('@svc/x y:z')), 'svc_x_y_z', 'an abstract name whole, not its last component');
  t.is(defaultFdName(parseAddress('/tmp/caf\u00e9.sock')), 'caf__.sock', 'each byte of a UTF-8 character becomes _');
  t.is(defaultFdName(parseAddress('sd:web')), 'web', 'a socket passed on from socket activation keeps its name');
  t.is(defaultFdName(parseAddress('fd:3')), 'fd_3');
});

test('fdNames: one per address, in order; a wrong count or a name with : or a space is 64', (t) => {
  const addresses = [parseAddress('/a/one.sock'), parseAddress('@two')];
  t.deepEqual(fdNames(undefined, addresses), ['one.sock', 'two']);
  t.deepEqual(fdNames(['web', 'admin'], addresses), ['web', 'admin']);
  for (const bad of [['only'], ['a:b', 'c'], ['a b', 'c'], ['', 'c'], ['x'.repeat(256), 'c']]) {
    const err = t.throws(() => fdNames(bad, addresses));
    t.is(exitCodeFor(err), 64, err.message);
  }
});

test("setenvOf: VAR=VALUE as given, VAR alone from usock's environment (left out when unset); LISTEN_* and bad names are 64", (t) => {
  process.env.ACT_UNIT_SET = 'mine';
  delete process.env.ACT_UNIT_UNSET;
  t.deepEqual(setenvOf(['A=1', 'B=', 'C=x=y', 'ACT_UNIT_SET', 'ACT_UNIT_UNSET']), { A: '1', B: '', C: 'x=y', ACT_UNIT_SET: 'mine' });
  for (const bad of ['LISTEN_FDS=1', 'LISTEN_PID', 'LISTEN_FDNAMES=a', '1X=2', 'A-B=1', '=1']) {
    const err = t.throws(() => setenvOf([bad]));
    t.is(exitCodeFor(err), 64, bad);
  }
});

test('checkCommand: found on PATH or by path; 127 when nowhere, 126 when only found unrunnable', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'act-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'runnable'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'plain'), 'text\n', { mode: 0o644 });
  t.notThrows(() => checkCommand('sh', '/usr/bin:/bin'));
  t.notThrows(() => checkCommand('runnable', `/nonexistent:${dir}`));
  t.notThrows(() => checkCommand(path.join(dir, 'runnable'), ''));
  t.is(exitCodeFor(t.throws(() => checkCommand('no-such-cmd-act', `${dir}:/usr/bin`))), 127);
  t.is(exitCodeFor(t.throws(() => checkCommand(path.join(dir, 'missing'), '/usr/bin'))), 127);
  t.is(exitCodeFor(t.throws(() => checkCommand('plain', dir))), 126, 'no x bit (root too)');
  t.is(exitCodeFor(t.throws(() => checkCommand(dir, '/usr/bin'))), 126, 'a directory');
  // the shell takes the first runnable one: a plain file earlier on PATH does not hide it
  fs.mkdirSync(path.join(dir, 'later'));
  fs.writeFileSync(path.join(dir, 'later', 'plain'), '#!/bin/sh\n', { mode: 0o755 });
  t.notThrows(() => checkCommand('plain', `${dir}:${path.join(dir, 'later')}`));
});

test('notificationFields: KEY=VALUE lines, the value may hold = and spaces; a line without = is kept with an empty value', (t) => {
  t.deepEqual(notificationFields(Buffer.from('READY=1\nSTATUS=up, a=b\n\nMAINPID=42')), { READY: '1', STATUS: 'up, a=b', MAINPID: '42' });
  t.deepEqual(notificationFields(Buffer.from('WATCHDOG')), { WATCHDOG: '' });
  t.deepEqual(notificationFields(Buffer.alloc(0)), {});
});
