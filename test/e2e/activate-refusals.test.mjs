// usock activate's refusals and statuses: options that do not apply (64), CMD not found (127) or not runnable (126) with one line, signals passed on to the daemon and its status or signal taken.
import ava from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { abstractName, assertCleanError, endedBy, runUsock, show, tmpDir, waitListening } from '../helpers.mjs';
import { daemon, daemonInfo, request, usockActivate } from './activate-helpers.mjs';

const test = ava.serial;

// Each message as the options' checks word it: `--X applies with --accept or --inetd only` or, from the command specs,
// `activate: --X does not apply without --accept ...`; both name the option and the rule.
/** @type {Array<[string[], RegExp]>} */
const USAGE = [
  [['--allow-uid', '0'], /--allow-uid (applies with --accept or --inetd only|does not apply without --accept)/],
  [['--allow-user', 'root'], /--allow-user (applies with --accept or --inetd only|does not apply without --accept)/],
  [['--max-conns', '3'], /--max-conns (applies with --accept or --inetd only|does not apply without --accept)/],
  [['--accept', '--inetd'], /--accept and --inetd cannot be used together|--inetd does not apply with --accept/],
  [['--accept', '-t', 'dgram'], /--accept (needs connections|does not apply to -t dgram)/],
  [['--inetd', '-t', 'dgram'], /--inetd (needs connections|does not apply to -t dgram)/],
  [['--accept', '--now'], /--now (applies to a daemon started once, not with --accept|does not apply with --accept)/],
  [['--inetd', '--ready-timeout', '3'], /--ready-timeout (applies to a daemon started once|does not apply with --inetd)/],
  [['--accept', '--fdname', 'x'], /--fdname (applies to a daemon started once|does not apply with --accept)/],
  [['--fdname', 'a', '--fdname', 'b'], /2 --fdname for 1 addresses/],
  [['--fdname', 'a:b'], /bad --fdname 'a:b'/],
  [['-E', 'LISTEN_FDS=4'], /--setenv LISTEN_FDS: usock sets it/],
  [['-E', '1BAD=x'], /bad --setenv '1BAD=x'/],
  [['--ready-timeout', '0'], /bad --ready-timeout '0'/],
  [['--backlog', '5', '-t', 'dgram'], /--backlog (applies to stream and seqpacket only|does not apply to -t dgram)/],
];

for (const [options, message] of USAGE) {
  test(`usage error (64), nothing bound: ${options.join(' ')}`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 'u.sock');
    const r = await runUsock(['activate', ...options, sock, '--', 'true'], { t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, message);
    t.false(fs.existsSync(sock));
  });
}

test('no command after --, or no --: 64', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['activate', path.join(dir, 'a.sock')], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /no command after --/);
  const s = await runUsock(['activate', path.join(dir, 'a.sock'), '--'], { t });
  t.is(s.code, 64, show(s));
  const m = await runUsock(['activate', '--mode', '0600', `@${abstractName()}`, '--', 'true'], { t });
  t.is(m.code, 64, show(m));
  assertCleanError(t, m.stderr, /--mode does not apply to the abstract address/);
});

test('CMD not found: 127 with one line, no socket file left', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'a.sock');
  const r = await runUsock(['activate', '--now', sock, '--', 'usock-no-such-command-x', 'arg'], { t });
  t.is(r.code, 127, show(r));
  assertCleanError(t, r.stderr, /^usock: cannot run usock-no-such-command-x: command not found$/);
  t.false(fs.existsSync(sock));
  const p = await runUsock(['activate', sock, '--', path.join(dir, 'missing')], { t });
  t.is(p.code, 127, show(p));
  assertCleanError(t, p.stderr, /cannot run .*missing: No such file or directory \(ENOENT\)/);
});

test('CMD found but not runnable: 126 with one line (a file without x, a directory)', async (t) => {
  const dir = tmpDir(t);
  const script = path.join(dir, 'script.sh');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const r = await runUsock(['activate', '--now', path.join(dir, 'a.sock'), '--', script], { t });
  t.is(r.code, 126, show(r));
  assertCleanError(t, r.stderr, /cannot run .*script\.sh: Permission denied \(EACCES\)/);
  const d = await runUsock(['activate', '--now', path.join(dir, 'a.sock'), '--', dir], { t });
  t.is(d.code, 126, show(d));
  assertCleanError(t, d.stderr, /Is a directory/);
  // found on PATH only as a file without x: 126 (as the shell)
  const p = await runUsock(['activate', '--now', path.join(dir, 'a.sock'), '--', 'script.sh'], {
    t,
    env: { PATH: `${dir}:/usr/bin:/bin` },
  });
  t.is(p.code, 126, show(p));
});

test('SIGHUP reaches the daemon, which dies of it: so does usock; SIGINT alike', async (t) => {
  for (const sig of ['SIGHUP', 'SIGINT']) {
    const dir = tmpDir(t);
    const sock = path.join(dir, 'hup.sock');
    const u = usockActivate(['activate', sock, '--', ...daemon('serve')], { t });
    await waitListening(sock);
    const reply = await request(t, sock, 'x');
    const info = daemonInfo(u.text());
    t.is(reply, `hup.sock ${info.pid} x`);
    u.kill(sig);
    const r = await u.exited;
    t.true(endedBy(r, sig), `${sig}: ${show(r)}`);
    t.false(fs.existsSync(sock));
  }
});
