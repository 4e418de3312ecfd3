// Interoperation with socat and OpenBSD nc as the peer, each way: paths, @abstract, dgram and seqpacket.
// Skipped (with t.log) when socat or nc is not installed; CI installs them.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { usock, runUsock, startProcess, tmpDir, abstractName, waitListening, show, hasCommand } from '../helpers.mjs';

const HAVE_SOCAT = hasCommand('socat');
const NC_HELP = hasCommand('nc') ? (({ stdout, stderr }) => `${stdout}${stderr}`)(spawnSync('nc', ['-h'], { encoding: 'utf8' })) : '';
const HAVE_NC = /\s-U\s/.test(NC_HELP);
const NC_HAS_N = /\s-N\s/.test(NC_HELP);

function need(t, have, what) {
  if (!have) {
    t.log(`${what} not installed: skipped`);
    t.pass();
  }
  return have;
}

function run(t, cmd, args, input, opts = {}) {
  const p = startProcess(cmd, args, { t, ...opts });
  if (input !== undefined) p.end(input);
  return p;
}

test('socat - UNIX-CONNECT:path talks to usock listen', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end('from usock\n');
  await waitListening(sock);
  const s = await run(t, 'socat', ['-t', '5', '-', `UNIX-CONNECT:${sock}`], 'from socat\n').exited;
  t.is(s.code, 0, show(s));
  t.is(s.stdout.toString(), 'from usock\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from socat\n');
});

test('usock connect talks to socat UNIX-LISTEN:path -', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const s = run(t, 'socat', ['-t', '5', `UNIX-LISTEN:${sock}`, '-'], 'from socat\n');
  await waitListening(sock);
  const r = await runUsock(['connect', sock], { input: 'from usock\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from socat\n');
  const sr = await s.exited;
  t.is(sr.code, 0, show(sr));
  t.is(sr.stdout.toString(), 'from usock\n');
});

test('socat ABSTRACT-CONNECT:name talks to usock listen @name (exact length)', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const name = abstractName();
  const l = usock(['listen', '@' + name], { t });
  l.end('abstract usock\n');
  await waitListening('@' + name);
  const s = await run(t, 'socat', ['-t', '5', '-', `ABSTRACT-CONNECT:${name}`], 'abstract socat\n').exited;
  t.is(s.code, 0, show(s));
  t.is(s.stdout.toString(), 'abstract usock\n');
  const r = await l.exited;
  t.is(r.stdout.toString(), 'abstract socat\n', show(r));
});

test('usock connect @name talks to socat ABSTRACT-LISTEN:name', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const name = abstractName();
  const s = run(t, 'socat', ['-t', '5', `ABSTRACT-LISTEN:${name}`, '-'], 'abstract socat\n');
  await waitListening('@' + name);
  const r = await runUsock(['connect', '@' + name], { input: 'abstract usock\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'abstract socat\n');
  t.is((await s.exited).stdout.toString(), 'abstract usock\n');
});

test('socat UNIX-SENDTO (unnamed sender) to usock listen -t dgram', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'dgram', '--frame', 'raw', sock], { t });
  await waitListening(sock, 'dgram');
  const s = await run(t, 'socat', ['-u', '-', `UNIX-SENDTO:${sock}`], 'datagram from socat\n').exited;
  t.is(s.code, 0, show(s));
  await l.waitStdout('datagram from socat\n');
  t.is(l.text(), 'datagram from socat\n');
  l.kill('SIGTERM');
  await l.exited;
});

test('usock connect -t dgram to socat UNIX-RECV: one datagram per line', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  // socat writes each datagram as it is; with line framing usock sends the lines without their newline
  const s = run(t, 'socat', ['-u', `UNIX-RECV:${sock}`, '-']);
  await waitListening(sock, 'dgram');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '0.1', sock], { input: 'a1\nb2\n', t });
  t.is(r.code, 0, show(r));
  await s.waitStdout('a1b2');
  t.is(s.text(), 'a1b2');
  s.kill('SIGTERM');
  await s.exited;
});

test('socat seqpacket (type=5) talks to usock listen -t seqpacket', async (t) => {
  if (!need(t, HAVE_SOCAT, 'socat')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'seqpacket', '--frame', 'raw', sock], { t });
  l.end('seq reply\n');
  await waitListening(sock, 'seqpacket');
  const s = await run(t, 'socat', ['-t', '5', '-', `UNIX-CONNECT:${sock},type=5`], 'seq hello\n').exited;
  t.is(s.code, 0, show(s));
  t.is(s.stdout.toString(), 'seq reply\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'seq hello\n');
});

test('nc -U path talks to usock listen', async (t) => {
  if (!need(t, HAVE_NC, 'nc (with -U)')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end('from usock\n');
  await waitListening(sock);
  const args = NC_HAS_N ? ['-N', '-U', sock] : ['-U', sock];
  const n = await run(t, 'nc', args, 'from nc\n').exited;
  t.is(n.code, 0, show(n));
  t.is(n.stdout.toString(), 'from usock\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from nc\n');
});

test('usock connect talks to nc -lU path', async (t) => {
  if (!need(t, HAVE_NC, 'nc (with -U)')) return;
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const args = NC_HAS_N ? ['-N', '-l', '-U', sock] : ['-l', '-U', sock];
  const n = run(t, 'nc', args, 'from nc\n');
  await waitListening(sock);
  const r = await runUsock(['connect', sock], { input: 'from usock\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from nc\n');
  const nr = await n.exited;
  t.is(nr.stdout.toString(), 'from usock\n', show(nr));
});

test('usock connect -z sees socat and nc listeners', async (t) => {
  if (!need(t, HAVE_SOCAT && HAVE_NC, 'socat and nc')) return;
  const dir = tmpDir(t);
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const s = run(t, 'socat', [`UNIX-LISTEN:${a}`, 'OPEN:/dev/null']);
  const n = run(t, 'nc', ['-l', '-U', b], '');
  await waitListening(a);
  await waitListening(b);
  for (const p of [a, b]) {
    const r = await runUsock(['connect', '-z', p], { t });
    t.is(r.code, 0, `${p}: ${show(r)}`);
  }
  s.kill();
  n.kill();
});
