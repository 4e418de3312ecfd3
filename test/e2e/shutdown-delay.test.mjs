// connect and listen at stdin's EOF: the write side is shut down only once the peer has been quiet for
// --shutdown-delay (default 0.25 s; 0 at once). Real daemons started by the test in its own folder and stopped by pid
// (nginx, ssh-agent, redis-server, haproxy; each skipped when not installed) and Python peers (test/fixtures/eof_peer.py).
// USOCK_TEST_SHUTDOWN_DELAY=S runs the "default" cases with --shutdown-delay S instead (to try another default).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  startProcess,
  pythonFile,
  tmpDir,
  waitForSocketFile,
  waitListening,
  hasCommand,
  show,
  assertCleanError,
} from '../helpers.mjs';
import { HAS_NGINX, HAS_REDIS, httpBody, startNginx, startRedis } from '../daemons.mjs';

/** The arguments of a run with the default delay: none, or the one under trial. */
const DEFAULT = process.env.USOCK_TEST_SHUTDOWN_DELAY ? ['--shutdown-delay', process.env.USOCK_TEST_SHUTDOWN_DELAY] : [];
const AT_ONCE = ['--shutdown-delay', '0'];

const NGINX = HAS_NGINX;
const AGENT = hasCommand('ssh-agent');
const REDIS = HAS_REDIS;
const HAPROXY = fs.existsSync('/usr/sbin/haproxy') || hasCommand('haproxy');
const skipped = (has, what) => (has ? '' : ` [skipped: ${what} is not installed]`);

/** Returns the JSON events a fixture printed so far. */
const events = (p) =>
  p
    .text()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
/** Resolves with the first event of p that has key. */
async function event(p, key) {
  await p.waitStdout((s) => s.split('\n').some((l) => l.startsWith('{') && key in JSON.parse(l)));
  return events(p).find((e) => key in e);
}

/** Starts the fixture as a server on a fresh socket; resolves with it and its socket. */
async function eofServer(t, args) {
  const sock = path.join(tmpDir(t), 's.sock');
  const srv = pythonFile('eof_peer.py', ['server', sock, ...args], { t });
  await event(srv, 'ready');
  return { srv, sock };
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// ---- nginx ------------------------------------------------------------------------------------------------

(NGINX ? test : test.skip)(
  `nginx: a 16 MiB body arrives whole through plain connect, and is cut short with --shutdown-delay 0${skipped(NGINX, 'nginx')}`,
  async (t) => {
    const { sock, dir } = await startNginx(t);
    const data = crypto.randomBytes(16 * 1024 * 1024);
    fs.writeFileSync(path.join(dir, 'www', 'big'), data);
    const request = 'GET /big HTTP/1.0\r\n\r\n';

    // nginx takes the EOF of a request for a client gone and aborts the body it is still sending
    const cut = await runUsock(['connect', ...AT_ONCE, sock], { t, input: request });
    t.is(cut.code, 0, show(cut));
    t.true(httpBody(cut.stdout).length < data.length, `with --shutdown-delay 0 the body has ${httpBody(cut.stdout).length} bytes`);

    const r = await runUsock(['connect', ...DEFAULT, sock], { t, input: request });
    t.is(r.code, 0, show(r));
    t.true(r.stdout.subarray(0, 15).toString().startsWith('HTTP/1.1 200'), r.stdout.subarray(0, 100).toString());
    t.is(httpBody(r.stdout).length, data.length);
    t.is(sha256(httpBody(r.stdout)), sha256(data));
  },
);

// ---- ssh-agent --------------------------------------------------------------------------------------------

const IDENTITIES_REQUEST = Buffer.from([0, 0, 0, 1, 11]); // SSH2_AGENTC_REQUEST_IDENTITIES, len32-framed
const NO_IDENTITIES = Buffer.from([0, 0, 0, 5, 12, 0, 0, 0, 0]); // SSH2_AGENT_IDENTITIES_ANSWER, 0 keys

/** Starts two busy loops (CPU load), killed when the test ends. */
function cpuHogs(t) {
  for (let i = 0; i < 2; i++) startProcess('sh', ['-c', 'while :; do :; done'], { t, stdio: 'ignore' });
}

/** Starts `ssh-agent -a DIR/agent.sock -D` (foreground); resolves with its socket. */
async function startAgent(t) {
  const sock = path.join(tmpDir(t), 'agent.sock');
  const agent = startProcess('ssh-agent', ['-a', sock, '-D'], { stdio: 'ignore' });
  t.teardown(async () => {
    agent.kill('SIGTERM');
    await agent.exited;
  });
  await waitForSocketFile(sock, 10_000);
  return sock;
}

// ssh-agent reads before it writes: an EOF that arrives before its reply is written closes the connection, reply unsent.
(AGENT ? test : test.skip)(
  `ssh-agent under CPU load: 30 requests through plain connect all get their answer; with --shutdown-delay 0 some get none${skipped(AGENT, 'ssh-agent')}`,
  async (t) => {
    const sock = await startAgent(t);
    cpuHogs(t);

    // with 0, at least one of up to 100 requests is answered with nothing (stops at the first)
    let empty = 0;
    let tries = 0;
    while (empty === 0 && tries < 100) {
      const r = await runUsock(['connect', ...AT_ONCE, sock], { t, input: IDENTITIES_REQUEST });
      t.is(r.code, 0, show(r));
      tries++;
      if (r.stdout.length === 0) empty++;
    }
    t.is(empty, 1, `with --shutdown-delay 0 every one of ${tries} requests was answered`);

    const answers = [];
    for (let i = 0; i < 30; i++) {
      const r = await runUsock(['connect', ...DEFAULT, sock], { t, input: IDENTITIES_REQUEST });
      t.is(r.code, 0, show(r));
      answers.push(r.stdout.toString('hex'));
    }
    const wrong = answers.filter((a) => a !== NO_IDENTITIES.toString('hex'));
    t.deepEqual(wrong, [], `${wrong.length} of 30 answers wrong or empty`);
  },
);

// ---- redis ------------------------------------------------------------------------------------------------

// redis answers and keeps the connection open until it reads the EOF: the shutdown after the pause is what ends usock.
(REDIS ? test : test.skip)(
  `redis: echo PING | usock connect prints +PONG and ends by itself${skipped(REDIS, 'redis-server')}`,
  async (t) => {
    const sock = await startRedis(t);
    for (const args of [DEFAULT, AT_ONCE]) {
      const r = await runUsock(['connect', ...args, sock], { t, input: 'PING\n', timeout: 30_000 });
      t.false(r.timedOut, `${args.join(' ')}: ${show(r)}`);
      t.is(r.code, 0, show(r));
      t.is(r.stdout.toString(), '+PONG\r\n');
    }
  },
);

// ---- haproxy ----------------------------------------------------------------------------------------------

/** Starts haproxy (foreground, -db) with only an admin stats socket DIR/haproxy.sock; resolves with the socket. */
async function startHaproxy(t) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'haproxy.sock');
  const conf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    conf,
    `global
  stats socket ${sock} level admin
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
`,
  );
  const srv = startProcess(fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy', ['-f', conf, '-db'], { stdio: 'ignore' });
  t.teardown(async () => {
    srv.kill('SIGTERM');
    await srv.exited;
  });
  await waitForSocketFile(sock, 10_000);
  return sock;
}

// In prompt mode haproxy answers each command and keeps the connection open; it closes once it reads the EOF.
// (haproxy 2.6 answered in full with --shutdown-delay 0 too: here the default must answer and end.)
(HAPROXY ? test : test.skip)(
  `haproxy prompt mode: every answer arrives and usock ends by itself${skipped(HAPROXY, 'haproxy')}`,
  async (t) => {
    const sock = await startHaproxy(t);
    const r = await runUsock(['connect', ...DEFAULT, sock], { t, input: 'prompt\nshow info\nshow info\n', timeout: 30_000 });
    t.false(r.timedOut, show(r));
    t.is(r.code, 0, show(r));
    const out = r.stdout.toString();
    t.is(out.split('Name: HAProxy\n').length - 1, 2, out);
    t.true(out.endsWith('\n> '), JSON.stringify(out.slice(-40))); // the prompt after the last answer
  },
);

// ---- Python peers -----------------------------------------------------------------------------------------

test('a server that answers only at EOF gets the EOF and its answer arrives', async (t) => {
  const sock = path.join(tmpDir(t), 's.sock');
  const srv = pythonFile('late_reply_server.py', [sock, 0], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', ...DEFAULT, sock], { t, input: 'hello' });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 5 bytes: hello');
  t.is((await srv.exited).code, 0);
});

test('time in which usock is not reading because its stdout is full does not count as quiet', async (t) => {
  // the server sends 4 MiB; usock's stdout is not read until the server has been blocked for 2 s in a row
  const { srv, sock } = await eofServer(t, ['stream', 4 << 20, '--stall', 2]);
  const c = usock(['connect', ...DEFAULT, sock], { t });
  c.child.stdout.pause();
  await event(srv, 'first');
  c.end(); // stdin's EOF while the reply is flowing
  await event(srv, 'stalled');
  c.child.stdout.resume();
  const done = await event(srv, 'sent');
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.false(done.eof_early, 'the server saw the EOF before it had sent its last piece');
  t.is(r.stdout.length, done.sent);
  t.is(sha256(r.stdout), done.sha256);
  t.truthy(await event(srv, 'eof'));
});

test('listen: its one peer sees no EOF while it answers (and does with --shutdown-delay 0)', async (t) => {
  for (const [args, early] of /** @type {Array<[string[], boolean]>} */ ([
    [AT_ONCE, true],
    [DEFAULT, false],
  ])) {
    const sock = path.join(tmpDir(t), 'l.sock');
    const l = usock(['listen', ...args, sock], { t });
    l.end('REQUEST\n');
    await waitListening(sock);
    const client = pythonFile('eof_peer.py', ['client', sock, 'stream', 4 << 20, '--request'], { t });
    const done = await event(client, 'sent');
    const r = await l.exited;
    t.is(r.code, 0, show(r));
    t.is(done.eof_early, early, `${args.join(' ') || 'default'}: eof_early`);
    t.is(r.stdout.length, done.sent);
    t.is(sha256(r.stdout), done.sha256);
    t.is((await client.exited).code, 0);
  }
});

test('--shutdown-delay 0 shuts down at once, while the server is still sending', async (t) => {
  const { srv, sock } = await eofServer(t, ['until-eof']);
  const c = usock(['connect', ...AT_ONCE, sock], { t });
  await event(srv, 'sending');
  c.end();
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  const ev = await event(srv, 'eof_while_sending');
  t.true(ev.eof_while_sending, JSON.stringify(ev));
  t.true(r.stdout.toString().endsWith('reply\n'));
  t.is(r.stdout.length, ev.pieces * 1024 + 'reply\n'.length);
});

for (const bad of ['-1', 'abc']) {
  test(`--shutdown-delay ${bad} is a usage error (64)`, async (t) => {
    const sock = path.join(tmpDir(t), 'none.sock');
    for (const cmd of ['connect', 'listen']) {
      const r = await runUsock([cmd, '--shutdown-delay', bad, sock], { t });
      t.is(r.code, 64, show(r));
      assertCleanError(t, r.stderr, /--shutdown-delay '/);
    }
  });
}

test('--shutdown-delay takes 0 and fractions (connect goes on to the address)', async (t) => {
  const sock = path.join(tmpDir(t), 'none.sock');
  for (const value of ['0', '0.05', '2']) {
    const r = await runUsock(['connect', '--shutdown-delay', value, sock], { t });
    t.is(r.code, 69, show(r));
    assertCleanError(t, r.stderr, /No such file or directory/);
  }
});
