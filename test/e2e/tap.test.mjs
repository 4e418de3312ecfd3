// End-to-end tests of `usock tap`: Python clients through tap to a Python target (test/fixtures/tap_target.py): replies
// byte-exact for concurrent clients, records as text, --hex, --json and --log, half-closes passed on, 8 MiB each way intact,
// seqpacket message boundaries, a missing target, -c, -w, and usage errors.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { runUsock, python, runPython, pythonFile, py, tmpDir, waitUntil, show, startTap, stopBySignal, countLines } from '../helpers.mjs';

/** Starts the target fixture in mode at address and waits until it listens. */
async function startTarget(t, address, mode, type = 'stream') {
  const srv = pythonFile('tap_target.py', [address, mode, type], { t });
  await srv.waitStdout('ready');
  return srv;
}

// Two clients at once, each sends an HTTP-like request and reads the reply to EOF; prints the replies as JSON (latin1).
const HTTP_CLIENTS = py(`
results = [None, None]
barrier = threading.Barrier(2, timeout=30)
def run(i):
    s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
    barrier.wait()
    s.sendall(b'GET /%d HTTP/1.0\\r\\nHost: x\\ty\\r\\n\\r\\n' % (i + 1))
    results[i] = recv_all(s).decode('latin1')
threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
for th in threads: th.start()
for th in threads: th.join()
print(json.dumps(results))
`);

const reply = (i) => {
  const body = `you asked for GET /${i} HTTP/1.0\n`;
  return `HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

test('two concurrent clients get their replies byte-exact; text records show both connections, both directions, lengths and escaped data', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  await startTarget(t, target, 'http');
  const tap = await startTap(t, listen, target);
  const r = await runPython(HTTP_CLIENTS, [listen], { t });
  t.is(r.code, 0, show(r));
  t.deepEqual(JSON.parse(r.stdout.toString()), [reply(1), reply(2)]);
  await tap.waitStderr((s) => countLines(s, / #\d+ close$/) === 2);
  const res = await stopBySignal(t, tap);
  const text = res.stderr.toString();
  t.is(countLines(text, / #1 open pid \d+ uid \d+ gid \d+ command .*python/), 1, text);
  t.is(countLines(text, / #2 open pid \d+ uid \d+ gid \d+ command .*python/), 1, text);
  const ts = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z';
  for (const i of [1, 2]) {
    const req = `GET /${i} HTTP/1.0\\r\\nHost: x\\ty\\r\\n\\r\\n`;
    t.regex(text, new RegExp(`^${ts} #\\d > 30: ${req.replace(/[\\/]/g, (c) => '\\' + c)}$`, 'm'));
    const rep = reply(i).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
    t.true(text.includes(` < ${reply(i).length}: ${rep}\n`), text);
    t.is(countLines(text, new RegExp(`#${i} shutdown >$`)), 1, text);
    t.is(countLines(text, new RegExp(`#${i} shutdown <$`)), 1, text);
  }
  t.false(fs.existsSync(listen));
});

test('--hex records an xxd-like dump', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  await startTarget(t, target, 'http');
  const tap = await startTap(t, listen, target, ['--hex']);
  const r = await runPython(HTTP_CLIENTS, [listen], { t });
  t.is(r.code, 0, show(r));
  await tap.waitStderr((s) => countLines(s, / #\d+ close$/) === 2);
  const text = (await stopBySignal(t, tap)).stderr.toString();
  for (const i of [1, 2]) {
    t.regex(
      text,
      new RegExp(
        ` #[12] > 30\n00000000: 4745 5420 2f3${i} 2048 5454 502f 312e 300d  GET /${i} HTTP/1\\.0\\.\n00000010: 0a48 6f73 743a 2078 0979 0d0a 0d0a {7}\\.Host: x\\.y\\.\\.\\.\\.\n`,
      ),
    );
  }
});

test('--json --log FILE: records appended to FILE as JSON lines with every field, stderr quiet', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const log = path.join(dir, 'tap.log');
  fs.writeFileSync(log, 'earlier line\n');
  await startTarget(t, target, 'http');
  const tap = await startTap(t, listen, target, ['--json', '--log', log]);
  const r = await runPython(HTTP_CLIENTS, [listen], { t });
  t.is(r.code, 0, show(r));
  await waitUntil(() => countLines(fs.readFileSync(log, 'utf8'), /"event":"close"/) === 2, undefined, 'two close records');
  const res = await stopBySignal(t, tap);
  t.is(res.stderr.toString(), '');
  const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
  t.is(lines[0], 'earlier line');
  const recs = lines.slice(1).map((l) => JSON.parse(l));
  for (const rec of recs) {
    t.regex(rec.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    t.true(rec.conn === 1 || rec.conn === 2);
  }
  for (const conn of [1, 2]) {
    const mine = recs.filter((x) => x.conn === conn);
    t.deepEqual(
      mine
        .filter((x) => x.event)
        .map((x) => x.event + (x.dir ? ' ' + x.dir : ''))
        .filter((e) => e !== 'shutdown c2s' && e !== 'shutdown s2c'),
      ['open', 'close'],
    );
    t.is(mine.filter((x) => x.event === 'shutdown').length, 2);
    const open = mine.find((x) => x.event === 'open');
    t.is(open.peer.uid, process.getuid?.());
    t.true(open.peer.pid > 0);
    t.regex(open.peer.command, /python/);
    const data = mine.filter((x) => x.dir && x.len !== undefined);
    t.deepEqual(data[0].peer, open.peer); // the first data record carries the peer
    for (const d of data.slice(1)) t.is(d.peer, undefined);
    for (const d of data) {
      t.deepEqual(d.fds, []);
      t.is(Buffer.from(d.data, 'base64').length, d.len);
    }
    const c2s = Buffer.concat(data.filter((d) => d.dir === 'c2s').map((d) => Buffer.from(d.data, 'base64'))).toString('latin1');
    const s2c = Buffer.concat(data.filter((d) => d.dir === 's2c').map((d) => Buffer.from(d.data, 'base64'))).toString('latin1');
    const i = c2s.startsWith('GET /1') ? 1 : 2;
    t.is(c2s, `GET /${i} HTTP/1.0\r\nHost: x\ty\r\n\r\n`);
    t.is(s2c, reply(i));
  }
});

test('half-close passes through: a client that sends then shuts down its write side gets the whole reply, the server saw EOF', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const srv = await startTarget(t, target, 'halfclose');
  const tap = await startTap(t, listen, target);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
chunks, how = send_then_read(s, b'request\\n' * 1000)
print(how, len(b''.join(chunks)), b''.join(chunks)[:40])
`),
    [listen],
    { t },
  );
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString().trim(), "eof 100025 b'saw EOF after 8000 bytes\\nxxxxxxxxxxxxxxx'");
  await srv.waitStdout('eof 8000');
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  const text = (await stopBySignal(t, tap)).stderr.toString();
  const events = text
    .split('\n')
    .filter((l) => / #1 (shutdown|close)/.test(l))
    .map((l) => l.replace(/^\S+ #1 /, ''));
  t.deepEqual(events, ['shutdown >', 'shutdown <', 'close']);
});

/** Returns the bytes of a C-escaped record (tap's text records: \\n, \\r, \\t, \\\\ and \\xNN; printable ASCII as is). */
function unescapeRecord(text) {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      out[n++] = c;
      continue;
    }
    const e = text[++i];
    if (e === 'x') {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = { n: 10, r: 13, t: 9, '\\': 0x5c }[e];
  }
  return out.subarray(0, n);
}

test('8 MiB each way arrive intact through tap (sha256), every byte recorded, and the records of a regular --log file give the bytes back (sha256)', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const log = path.join(dir, 'tap.log');
  await startTarget(t, target, 'echo');
  const tap = await startTap(t, listen, target, ['--log', log]);
  const r = await runPython(
    py(`
import hashlib, random
data = random.Random(7).randbytes(8 << 20)
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
th = threading.Thread(target=writer); th.start()
got = recv_all(s)
th.join()
print(hashlib.sha256(data).hexdigest(), hashlib.sha256(got).hexdigest(), len(got))
`),
    [listen],
    { t, timeout: 120_000 },
  );
  t.is(r.code, 0, show(r));
  const [sent, got, n] = r.stdout.toString().trim().split(' ');
  t.is(n, String(8 << 20));
  t.is(got, sent);
  await waitUntil(() => / #1 close$/m.test(fs.readFileSync(log, 'utf8')), undefined, 'close record');
  await stopBySignal(t, tap);
  const text = fs.readFileSync(log, 'utf8');
  const sum = (arrow) =>
    text.split('\n').reduce((a, l) => {
      const m = new RegExp(`^\\S+ #1 ${arrow} (\\d+): `).exec(l);
      return a + (m ? Number(m[1]) : 0);
    }, 0);
  t.is(sum('>'), 8 << 20);
  t.is(sum('<'), 8 << 20);
  const recorded = (arrow) => {
    const hash = createHash('sha256');
    for (const l of text.split('\n')) {
      const m = new RegExp(`^\\S+ #1 ${arrow} \\d+: (.*)$`).exec(l);
      if (m) hash.update(unescapeRecord(m[1]));
    }
    return hash.digest('hex');
  };
  t.is(recorded('>'), sent, "the client's bytes, from the records");
  t.is(recorded('<'), sent, 'the echo, from the records');
});

test('seqpacket: message boundaries kept both ways, one record per message', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  await startTarget(t, target, 'echo', 'seqpacket');
  const tap = await startTap(t, listen, target, [], 'seqpacket');
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
out = []
for m in [b'one', b'two two', b'x' * 100000]:
    s.send(m)
    out.append(len(s.recv(1 << 20)))
s.shutdown(socket.SHUT_WR)
out.append(len(s.recv(10)))
print(out)
`),
    [listen],
    { t },
  );
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString().trim(), '[3, 7, 100000, 0]');
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  const text = (await stopBySignal(t, tap)).stderr.toString();
  t.deepEqual(
    text
      .split('\n')
      .filter((l) => / #1 [<>] /.test(l))
      .map((l) => l.replace(/^\S+ #1 /, '').slice(0, 13)),
    ['> 3: one', '< 3: one', '> 7: two two', '< 7: two two', '> 100000: xxx', '< 100000: xxx'],
  );
});

test('a missing target: the client is closed, one line reported, tap runs on and serves the next client', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const tap = await startTap(t, listen, target);
  const r1 = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
try:
    print(repr(s.recv(10)))
except ConnectionResetError:
    print('reset')
`),
    [listen],
    { t },
  );
  t.is(r1.code, 0, show(r1));
  t.regex(r1.stdout.toString(), /^(b''|reset)$/m);
  await tap.waitStderr('#1 close');
  t.is(countLines(tap.errText(), /^usock: (?!tap: target .* does not exist)/), 1, tap.errText()); // besides the warning at start
  t.regex(tap.errText(), /^usock: connection 1: connect .*target\.sock: No such file or directory \(ENOENT\)$/m);
  await startTarget(t, target, 'http');
  const r2 = await runPython(HTTP_CLIENTS, [listen], { t });
  t.deepEqual(JSON.parse(r2.stdout.toString()), [reply(1), reply(2)]);
  await stopBySignal(t, tap);
});

test('-c 1 exits 0 after one connection served', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  await startTarget(t, target, 'halfclose');
  const tap = await startTap(t, listen, target, ['-c', '1']);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
chunks, how = send_then_read(s, b'hi')
print(how, len(b''.join(chunks)))
`),
    [listen],
    { t },
  );
  t.is(r.stdout.toString().trim(), 'eof 100022');
  const res = await tap.exited;
  t.is(res.code, 0, show(res));
  t.regex(res.stderr.toString(), / #1 close\n$/);
  t.false(fs.existsSync(listen));
});

test('-w closes an idle connection and tap runs on', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  await startTarget(t, target, 'echo');
  const tap = await startTap(t, listen, target, ['-w', '0.5']);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'ping')
print(s.recv(10))
t0 = time.time()
print(s.recv(10), time.time() - t0 < 3)
`),
    [listen],
    { t },
  );
  t.is(r.stdout.toString(), "b'ping'\nb'' True\n");
  await tap.waitStderr('#1 close');
  t.false(tap.done);
  await stopBySignal(t, tap);
});

test('usage and start-up errors: --backlog with dgram (64), listen address in use (73), bad -w (64), --log in a missing folder (73)', async (t) => {
  const dir = tmpDir(t);
  const listen = path.join(dir, 'tap.sock');
  const target = path.join(dir, 'target.sock');
  t.is((await runUsock(['tap', '-t', 'dgram', '--backlog', '5', listen, target])).code, 64);
  t.is((await runUsock(['tap', '-w', '0', listen, target])).code, 64);
  const bad = await runUsock(['tap', '--log', path.join(dir, 'no/such/file'), listen, target]);
  t.is(bad.code, 73, show(bad));
  t.regex(bad.stderr.toString(), /^usock: --log: open .*no\/such\/file: No such file or directory/);
  t.false(fs.existsSync(listen));
  await startTarget(t, target, 'http');
  const tap = await startTap(t, listen, target);
  const r = await runUsock(['tap', listen, target]);
  t.is(r.code, 73, show(r));
  await stopBySignal(t, tap);
});

test('records never dropped: a log nobody reads stops the relay (bounded), which resumes in full once the log is read', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const fifo = path.join(dir, 'log.fifo');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  let holder = fs.openSync(fifo, 'r+'); // a reader that does not read yet
  t.teardown(() => holder !== null && fs.closeSync(holder));
  await startTarget(t, target, 'echo');
  const tap = await startTap(t, listen, target, ['--log', fifo]);
  const client = python(
    py(`
data = b'a\\x00' * (4 << 20)
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
got = [0]
def reader():
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got[0] += len(d)
    print('eof', got[0], flush=True)
th = threading.Thread(target=reader); th.start()
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=writer, daemon=True).start()
time.sleep(2)
print('stalled at', got[0], flush=True)
th.join()
`),
    [listen],
    { t, timeout: 120_000 },
  );
  // python -u writes print's pieces one by one: wait for the whole line
  const stalled = Number(/stalled at (\d+)\n/.exec(await client.waitStdout((o) => /stalled at \d+\n/.test(o)))[1]);
  t.true(stalled < 4 << 20, `relayed ${stalled} bytes while the log was not read`);
  let logged = 0;
  const lines = [];
  let rest = '';
  const stream = fs.createReadStream(fifo); // its end comes once tap and the holder have closed it
  stream.on('data', (d) => {
    logged += d.length;
    const parts = (rest + d.toString('latin1')).split('\n');
    rest = parts.pop();
    lines.push(...parts.filter((l) => / #1 [<>] \d+: /.test(l)).map((l) => Number(/ #1 [<>] (\d+): /.exec(l)[1])));
  });
  const r = await client.exited;
  t.is(r.code, 0, show(r));
  t.regex(r.stdout.toString(), /^eof 8388608$/m);
  await waitUntil(() => lines.reduce((a, b) => a + b, 0) === 2 * (8 << 20), undefined, 'every byte recorded');
  t.true(logged > 2 * (8 << 20));
  await stopBySignal(t, tap);
  fs.closeSync(holder);
  holder = null;
  await new Promise((resolve) => stream.on('close', () => resolve(undefined)));
});

test('access rules: a rejected client never reaches the target and is recorded as reject (--json)', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const srv = await startTarget(t, target, 'halfclose');
  const tap = await startTap(t, listen, target, ['--json', '--allow-uid', String(process.getuid?.() + 4242)]);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
chunks, how = send_then_read(s, b'secret')
print(how, len(b''.join(chunks)))
`),
    [listen],
    { t },
  );
  t.regex(r.stdout.toString(), /^(eof|reset) 0$/m);
  await tap.waitStderr('"event":"reject"');
  const res = await stopBySignal(t, tap);
  const recs = res.stderr
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((x) => x.time);
  t.is(recs.length, 1, res.stderr.toString());
  t.like(recs[0], { conn: 1, event: 'reject', peer: { uid: process.getuid?.() } });
  t.false(srv.text().includes('eof'));
});

test('dgram: each client address is a connection with its own socket toward the target, replies reach it; an unnamed sender is relayed, said once; -w ends conversations, -c counts them', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const srv = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
while True:
    d, a = s.recvfrom(65536)
    print('from', 'unnamed' if not a else 'named', d.decode('latin1'), flush=True)
    if a:
        s.sendto(b're:' + d, a)
`),
    [target],
    { t },
  );
  await srv.waitStdout('ready');
  const tap = await startTap(t, listen, target, ['-w', '0.5', '-c', '3'], 'dgram');
  const r = await runPython(
    py(`
out = []
for i in range(2):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind('')  # autobind: a named sender
    s.settimeout(30)
    for m in [b'one %d\\n' % i, b'x' * 1000]:
        s.sendto(m, sys.argv[1])
        out.append(s.recv(65536).decode('latin1'))
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.sendto(b'anon', sys.argv[1])
print(json.dumps(out))
`),
    [listen],
    { t },
  );
  t.is(r.code, 0, show(r));
  t.deepEqual(JSON.parse(r.stdout.toString()), ['re:one 0\n', 're:' + 'x'.repeat(1000), 're:one 1\n', 're:' + 'x'.repeat(1000)]);
  await srv.waitStdout('from named anon'); // tap's own socket toward the target has an address
  const res = await tap.exited; // -c 3: three conversations ended by -w
  t.is(res.code, 0, show(res));
  const text = res.stderr.toString();
  for (const conn of [1, 2, 3]) {
    t.is(countLines(text, new RegExp(` #${conn} open pid \\d+ `)), 1, text);
    t.is(countLines(text, new RegExp(` #${conn} close$`)), 1, text);
  }
  t.is(countLines(text, / #[12] > 1000: x{1000}$/), 2, text);
  t.is(countLines(text, / #[12] < 1003: re:x{1000}$/), 2, text);
  t.is(countLines(text, / #3 > 4: anon$/), 1, text);
  t.is(countLines(text, /^usock: .*unnamed sender/), 1, text);
});
