// usock activate's readiness: NOTIFY_SOCKET in a private directory, each notification reported with the sender's pid (a line, or a JSON record), FDSTORE descriptors closed, --ready-timeout.
import ava from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { show, tmpDir, waitUntil } from '../helpers.mjs';
import { alive, daemon, daemonInfo, records, usockActivate } from './activate-helpers.mjs';

const test = ava.serial;

test("READY=1 and STATUS= reported with the daemon's pid and the time since its start; NOTIFY_SOCKET in a private 0700 directory, removed at exit", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'ready.sock');
  const u = usockActivate(['activate', '--now', sock, '--', ...daemon('notify')], { t });
  await u.waitStderr('READY=1');
  const info = daemonInfo(u.text());
  const m = /^usock: notify from pid (\d+) after (\d+\.\d\d) s: READY=1, STATUS=serving 1 sockets$/m.exec(u.errText());
  t.truthy(m, u.errText());
  t.is(Number(m?.[1]), info.pid, "the sender's pid, from its credentials");
  const notifyDir = path.dirname(info.notify);
  const st = fs.statSync(notifyDir);
  t.is(st.mode & 0o777, 0o700);
  t.is(st.uid, process.getuid?.() ?? -1);
  t.true(fs.statSync(info.notify).isSocket());
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
  t.false(fs.existsSync(notifyDir), 'the directory and its socket are removed at exit');
});

test('--json: notify, start and exit records; -q: no notify line', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'json.sock');
  const u = usockActivate(['activate', '--json', '--now', sock, '--', ...daemon('notify')], { t });
  await u.waitStderr((s) => records(s).some((e) => e.event === 'notify'));
  const info = daemonInfo(u.text());
  u.kill('SIGTERM');
  const r = await u.exited;
  t.is(r.code, 7, show(r));
  const all = records(r.stderr);
  const start = all.find((e) => e.event === 'start');
  const notify = all.find((e) => e.event === 'notify');
  const exit = all.find((e) => e.event === 'exit');
  t.is(start?.pid, info.pid);
  t.is(notify?.pid, info.pid);
  t.deepEqual(notify?.fields, { READY: '1', STATUS: 'serving 1 sockets' });
  t.is(typeof notify?.after, 'number');
  t.true(notify.after >= 0);
  t.false(Number.isNaN(Date.parse(notify.time)), notify?.time);
  t.deepEqual({ pid: exit?.pid, status: exit?.status }, { pid: info.pid, status: 7 });
  t.is(
    r.stderr
      .toString()
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('{')).length,
    0,
    'nothing but records',
  );

  const q = usockActivate(['activate', '-q', '--now', path.join(dir, 'quiet.sock'), '--', ...daemon('notify')], { t });
  await q.waitStdout('\n');
  q.kill('SIGTERM');
  const rq = await q.exited;
  t.is(rq.code, 7);
  t.is(rq.stderr.toString(), '', '-q: no notify line');
});

test('FDSTORE=1: the descriptors are reported and closed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'store.sock');
  const u = usockActivate(['activate', '--json', '--now', sock, '--', ...daemon('fdstore')], { t });
  await u.waitStderr((s) => records(s).some((e) => e.event === 'notify' && e.fields.READY === '1'));
  const stored = records(u.stderr()).find((e) => e.fields?.FDSTORE === '1');
  t.truthy(stored, u.errText());
  t.is(stored.fields.FDNAME, 'kept');
  t.is(stored.fds.length, 1);
  t.is(stored.fds[0].kind, 'pipe');
  const held = fs.readdirSync(`/proc/${u.pid}/fd`).map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${u.pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  t.false(held.includes(stored.fds[0].target), `usock still holds ${stored.fds[0].target}`);
  u.kill('SIGTERM');
  await u.exited;
  const v = usockActivate(['activate', '--now', path.join(dir, 'text.sock'), '--', ...daemon('fdstore')], { t });
  await v.waitStderr('READY=1');
  t.regex(v.errText(), /notify from pid \d+ after \S+ s: FDSTORE=1, FDNAME=kept \[1 descriptor \(pipe:\[\d+\]\) closed\]/);
  v.kill('SIGTERM');
  await v.exited;
});

test('--ready-timeout: a daemon that never sends READY=1 gets SIGTERM, usock exits 75, and the daemon is gone', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'slow.sock');
  const u = usockActivate(['activate', '--now', '--ready-timeout', '1', sock, '--', ...daemon('never-ready')], { t });
  const r = await u.exited;
  t.is(r.code, 75, show(r));
  const m = /^usock: .* \(pid (\d+)\) did not send READY=1 within 1 s: stopped with SIGTERM$/m.exec(r.stderr.toString());
  t.truthy(m, show(r));
  t.false(alive(Number(m?.[1])), 'the daemon is gone');
  // on a loaded machine SIGTERM may come before the daemon has set its handler up: it dies of it then
  if (daemonInfo(r.stdout.toString())) t.regex(r.stdout.toString(), /^SIGTERM$/m, 'the daemon got SIGTERM');
  t.false(fs.existsSync(sock));
});

test('--ready-timeout: READY=1 in time keeps the daemon running', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'intime.sock');
  const u = usockActivate(['activate', '--json', '--now', '--ready-timeout', '10', sock, '--', ...daemon('notify')], { t });
  await u.waitStderr((s) => records(s).some((e) => e.event === 'notify'));
  const started = Date.now();
  // wait past the timeout as the daemon counts it (from READY's `after`, measured by usock)
  const after = records(u.stderr()).find((e) => e.event === 'notify').after;
  await waitUntil(() => Date.now() - started > (10 - after) * 1000 + 1000, 60_000, 'the timeout to have passed');
  t.false(u.done, `usock ended: ${u.errText()}`);
  u.kill('SIGTERM');
  t.is((await u.exited).code, 7);
});
