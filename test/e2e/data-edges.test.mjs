// Exit codes and data at the edges: a truncated or malformed len32 frame on stdin (65, frames before it sent),
// messages dropped on the way (oversize, refused by the kernel, oversize input lines: 65 after the rest went
// through), and a full disk on stdout (74). Real processes and sockets; Python peers.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import path from 'node:path';
import { usock, runUsock, python, py, tmpDir, abstractName, waitListening, assertCleanError, show, len32 } from '../helpers.mjs';

/** Starts `usock echo-server -t TYPE @name` and resolves with the name once it listens. */
async function echoServer(t, type) {
  const name = '@' + abstractName();
  usock(['echo-server', '-t', type, name], { t });
  await waitListening(name, type);
  return name;
}

test('connect --frame len32: stdin ending inside a frame is 65 with one line naming the bytes of its body; the whole frames before it are sent', async (t) => {
  const name = await echoServer(t, 'seqpacket');
  const input = Buffer.concat([len32('one', 'two'), len32('cut short').subarray(0, 7)]);
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'len32', name], { input, t });
  t.is(r.code, 65, show(r));
  t.deepEqual(r.stdout, len32('one', 'two'));
  assertCleanError(t, r.stderr, /input ends inside a len32 frame \(3 of 9 bytes\): not sent/);
});

test('connect --frame len32: the frame before a bad header in the same read is sent, then 65', async (t) => {
  const name = await echoServer(t, 'seqpacket');
  const input = Buffer.from('\0\0\0\x02ok\xff\xff\xff\xff', 'latin1');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'len32', name], { input, t });
  t.is(r.code, 65, show(r));
  t.deepEqual(r.stdout, len32('ok'));
  assertCleanError(t, r.stderr, /len32 frame of 4294967295 bytes/);
});

test('connect -t seqpacket: an input line over --max-size is skipped and reported, the others are sent, and the status is 65', async (t) => {
  const name = await echoServer(t, 'seqpacket');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--max-size', '4', name], { input: 'ok\ntoolong\nfine\n', t });
  t.is(r.code, 65, show(r));
  t.is(r.stdout.toString(), 'ok\nfine\n');
  assertCleanError(t, r.stderr, /input message of 7 bytes exceeds --max-size 4: skipped/);
});

test('connect -t seqpacket: a received message over --max-size is dropped and reported, the others written, and the status is 65', async (t) => {
  const name = '@' + abstractName();
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(addr(sys.argv[1]))
srv.listen(1)
print('ready', flush=True)
c, _ = srv.accept()
c.send(b'short')
c.send(b'x' * 100)
c.send(b'tail')
c.close()
`),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--max-size', '10', name], { input: '', t });
  t.is(r.code, 65, show(r));
  t.is(r.stdout.toString(), 'short\ntail\n');
  assertCleanError(t, r.stderr, /received message of 100 bytes exceeds --max-size 10: dropped/);
});

test('connect -t dgram: a message the kernel refuses (EMSGSIZE) is reported, the others are delivered, and the status is 65', async (t) => {
  const name = await echoServer(t, 'dgram');
  const big = 'x'.repeat(400 * 1024); // beyond what one AF_UNIX datagram can carry (net.core.wmem_max)
  const r = await runUsock(['connect', '-t', 'dgram', '--max-size', String(1 << 20), '--wait', '0.3', name], {
    input: `first\n${big}\nlast\n`,
    t,
  });
  t.is(r.code, 65, show(r));
  t.is(r.stdout.toString(), 'first\nlast\n');
  assertCleanError(t, r.stderr, /not sent: .*EMSGSIZE/);
});

for (const command of ['connect', 'listen']) {
  test(`${command}: a full disk on stdout (/dev/full) is 74 with one line naming stdout`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    if (command === 'connect') {
      const name = await echoServer(t, 'stream');
      const r = await runUsock(['connect', name], { input: 'data\n', t, stdoutFile: '/dev/full' });
      t.is(r.code, 74, show(r));
      assertCleanError(t, r.stderr, /stdout: .*ENOSPC/);
      return;
    }
    const srv = usock(['listen', sock], { t, stdoutFile: '/dev/full' });
    await waitListening(sock);
    await runUsock(['connect', sock], { input: 'data\n', t });
    const r = await srv.exited;
    t.is(r.code, 74, show(r));
    assertCleanError(t, r.stderr, /stdout: .*ENOSPC/);
  });
}
