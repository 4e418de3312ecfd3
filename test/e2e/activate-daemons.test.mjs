// usock activate with real daemons that implement socket activation, from Debian's packages: dbus-daemon (--address=systemd:) answering dbus-send through the activated socket, and gunicorn serving HTTP on it (also behind an activated `tap sd:`); both report READY=1.
import ava from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { endedBy, hasCommand, show, tmpDir, USOCK, waitListening } from '../helpers.mjs';
import { childrenOf, records, usockActivate } from './activate-helpers.mjs';

const test = ava.serial;
const HAS_DBUS = hasCommand('dbus-daemon') && hasCommand('dbus-send');
const HAS_GUNICORN = hasCommand('gunicorn');

/** A session bus that listens only where systemd (here usock) hands it a socket. */
const BUS_CONFIG = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>systemd:</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

/** Runs a command to completion (bounded), returning its status and output. */
function run(cmd, args) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 90_000 });
}

(HAS_DBUS ? test : test.skip)(
  'dbus-daemon --address=systemd:, started by the first client, answers ListNames through the activated socket and says READY=1',
  async (t) => {
    const dir = tmpDir(t);
    const conf = path.join(dir, 'bus.conf');
    fs.writeFileSync(conf, BUS_CONFIG);
    const sock = path.join(dir, 'bus.sock');
    const u = usockActivate(
      ['activate', '--json', sock, '--', 'dbus-daemon', `--config-file=${conf}`, '--nofork', '--nopidfile', '--address=systemd:'],
      { t },
    );
    await waitListening(sock);
    t.deepEqual(childrenOf(u.pid), [], 'the bus starts with its first client');
    const r = run('dbus-send', [
      `--bus=unix:path=${sock}`,
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/',
      'org.freedesktop.DBus.ListNames',
    ]);
    t.is(r.status, 0, JSON.stringify(r));
    t.regex(r.stdout, /string "org\.freedesktop\.DBus"/);
    await u.waitStderr((s) => records(s).some((e) => e.event === 'notify' && e.fields.READY === '1'));
    const start = records(u.stderr()).find((e) => e.event === 'start');
    const ready = records(u.stderr()).find((e) => e.event === 'notify');
    t.is(ready.pid, start.pid, 'READY=1 came from the bus itself');
    u.kill('SIGTERM');
    const end = await u.exited;
    t.is(end.code, 0, show(end));
    t.false(fs.existsSync(sock));
  },
);

(HAS_GUNICORN ? test : test.skip)(
  'gunicorn takes its socket from LISTEN_FDS and serves HTTP through it; its readiness shown',
  async (t) => {
    const dir = tmpDir(t);
    fs.writeFileSync(
      path.join(dir, 'app.py'),
      `import os
def app(environ, start_response):
    body = b'hello from pid %d, path %s\\n' % (os.getpid(), environ['PATH_INFO'].encode())
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`,
    );
    const sock = path.join(dir, 'app.sock');
    const u = usockActivate(
      ['activate', '--now', '--ready-timeout', '60', sock, '--', 'gunicorn', '--chdir', dir, '--workers', '1', 'app:app'],
      { t },
    );
    await u.waitStderr((s) => /usock: notify from pid \d+ after \S+ s: READY=1/.test(s));
    const [gunicorn] = childrenOf(u.pid);
    t.regex(u.errText(), new RegExp(`notify from pid ${gunicorn} after \\S+ s: READY=1, STATUS=`));
    t.regex(u.errText(), new RegExp(`Listening at: unix:${sock.replace(/[.]/g, '\\.')}`), 'gunicorn names the socket it inherited');
    const r = run('curl', ['-sS', '--max-time', '60', '--unix-socket', sock, 'http://localhost/activated']);
    t.is(r.status, 0, JSON.stringify(r));
    t.regex(r.stdout, /^hello from pid \d+, path \/activated$/m);
    u.kill('SIGTERM');
    const end = await u.exited;
    t.is(end.code, 0, show(end));
    t.false(fs.existsSync(sock));
  },
);

(HAS_GUNICORN ? test : test.skip)(
  "tap sd: in front of gunicorn, both activated: the first request starts tap, tap's connection starts gunicorn, tap records both ways",
  async (t) => {
    const dir = tmpDir(t);
    fs.writeFileSync(
      path.join(dir, 'app.py'),
      `def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello through tap\\n']
`,
    );
    const real = path.join(dir, 'real.sock');
    const front = path.join(dir, 'front.sock');
    const daemonSide = usockActivate(['activate', real, '--', 'gunicorn', '--chdir', dir, '--workers', '1', 'app:app'], { t });
    const tapSide = usockActivate(['activate', front, '--', USOCK, 'tap', 'sd:', real], { t });
    await waitListening(real);
    await waitListening(front);
    const r = run('curl', ['-sS', '--max-time', '60', '--unix-socket', front, 'http://localhost/through']);
    t.is(r.status, 0, JSON.stringify(r));
    t.is(r.stdout, 'hello through tap\n');
    // tap's records go to its stderr (usock activate's, which CMD inherits)
    await tapSide.waitStderr('hello through tap');
    t.regex(tapSide.errText(), /> \d+: GET \/through HTTP\/1\.1\\r\\n/, 'tap recorded the request');
    t.regex(tapSide.errText(), /< \d+: HTTP\/1\.1 200 OK/, 'and the reply');
    await daemonSide.waitStderr((s) => /notify from pid \d+ after \S+ s: READY=1/.test(s));
    for (const side of [tapSide, daemonSide]) side.kill('SIGTERM');
    t.true(endedBy(await tapSide.exited, 'SIGTERM'));
    t.is((await daemonSide.exited).code, 0);
    t.false(fs.existsSync(front));
    t.false(fs.existsSync(real));
  },
);
