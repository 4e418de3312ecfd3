// End-to-end tests of `usock tap --pcap FILE`, read back with tshark (skipped when it is missing; .ci/run installs it):
// two concurrent HTTP connections to Python's http.server dissected as HTTP, their exact bytes (1 MiB too) from
// `follow,tcp,raw`, checksums good, packets within 64 KiB, the file readable while tap runs; FIN both ways for a
// half-close and --pcap-port; RST for a reset, an unreachable target and a rejected client; dgram and seqpacket as UDP;
// usage errors.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  usock,
  runUsock,
  runPython,
  python,
  pythonFile,
  py,
  tmpDir,
  waitUntil,
  show,
  hasCommand,
  assertCleanError,
  IS_ROOT,
  NOBODY_UID,
  NOBODY_GID,
  startTap,
  stopBySignal,
  countLines,
} from '../helpers.mjs';

const HAS_TSHARK = hasCommand('tshark');
/** A test that reads the pcap file with tshark: declared skipped, with the reason in its title, when tshark is missing. */
const tsharkTest = HAS_TSHARK ? test : (title, fn) => test.skip(`${title} [skipped: tshark is not installed; .ci/run installs it]`, fn);

/** Checksums checked, no name resolution. */
const CHECKS = ['-n', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];

/** Runs tshark on file with args and returns its stdout (its stderr, e.g. the warning it prints as root, is ignored). */
function tshark(file, args) {
  const r = spawnSync('tshark', ['-r', file, ...CHECKS, ...args], { encoding: 'latin1', maxBuffer: 256 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

/** Returns the rows of `tshark -T fields` for the display filter and fields, each an array of strings. */
function fields(file, filter, ...names) {
  const out = tshark(file, [...(filter ? ['-Y', filter] : []), '-T', 'fields', ...names.flatMap((n) => ['-e', n])]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Returns what `follow,tcp,raw,N` gives back: the two nodes ("IP:port") and the bytes each way. */
function follow(file, stream) {
  const out = tshark(file, ['-q', '-z', `follow,tcp,raw,${stream}`]);
  const nodes = [/^Node 0: (\S+)$/m.exec(out)?.[1], /^Node 1: (\S+)$/m.exec(out)?.[1]];
  const c2s = [];
  const s2c = [];
  const body = out
    .slice(out.search(/^Node 1: /m))
    .split('\n')
    .slice(1);
  for (const line of body) {
    if (line.startsWith('=====')) break;
    if (line.startsWith('\t')) s2c.push(line.slice(1));
    else if (line !== '') c2s.push(line);
  }
  return { nodes, c2s: Buffer.from(c2s.join(''), 'hex'), s2c: Buffer.from(s2c.join(''), 'hex') };
}

/** The body http_unix_server.py sends for GET /N. */
const body = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

// Two clients at once (both connected before either sends): GET /SIZE for each size in argv[2:], each reply read to
// EOF; prints a JSON list of [request hex, reply hex].
const HTTP_CLIENTS = py(`
sizes = sys.argv[2:]
results = [None] * len(sizes)
barrier = threading.Barrier(len(sizes), timeout=30)
def run(i):
    s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
    barrier.wait()
    req = b'GET /%s HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' % sizes[i].encode()
    s.sendall(req)
    results[i] = [req.hex(), recv_all(s).hex()]
threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sizes))]
for th in threads: th.start()
for th in threads: th.join()
print(json.dumps(results))
`);

tsharkTest(
  'two concurrent HTTP connections (one reply of 1 MiB): dissected as HTTP, exact bytes back from follow,tcp,raw, checksums good, packets within 64 KiB, read while tap runs',
  async (t) => {
    const dir = tmpDir(t);
    const target = path.join(dir, 'http.sock');
    const listen = path.join(dir, 'tap.sock');
    const pcap = path.join(dir, 'tap.pcap');
    fs.writeFileSync(pcap, 'an earlier capture, truncated\n');
    const srv = pythonFile('http_unix_server.py', [target], { t });
    await srv.waitStdout('ready');
    const started = Date.now();
    const tap = await startTap(t, listen, target, ['--pcap', pcap]);
    t.is(fs.readFileSync(pcap).toString('hex'), 'd4c3b2a1020004000000000000000000ffff000065000000', 'the global header at once');
    const r = await runPython(HTTP_CLIENTS, [listen, '1048576', '1000'], { t, timeout: 120_000 });
    t.is(r.code, 0, show(r));
    const exchanges = JSON.parse(r.stdout.toString()).map(([req, rep]) => ({ req: Buffer.from(req, 'hex'), rep: Buffer.from(rep, 'hex') }));
    t.true(exchanges[0].rep.subarray(-(1 << 20)).equals(body(1 << 20)));
    t.true(exchanges[1].rep.subarray(-1000).equals(body(1000)));
    await tap.waitStderr((s) => countLines(s, / #\d+ close$/) === 2); // records still go to stderr
    t.false(tap.done);

    // Read while tap still runs.
    const summary = tshark(pcap, ['-Y', 'http']);
    t.is(countLines(summary, /HTTP \d+ GET \/1000 HTTP\/1\.0/), 1, summary);
    t.is(countLines(summary, /HTTP \d+ GET \/1048576 HTTP\/1\.0/), 1, summary);
    t.is(countLines(summary, /HTTP \d+ HTTP\/1\.0 200 OK/), 2, summary);
    const http = fields(pcap, 'http', 'tcp.stream', 'http.request.method', 'http.request.uri', 'http.response.code');
    t.deepEqual(
      http
        .filter(([, m]) => m === 'GET')
        .map(([, , uri]) => uri)
        .sort(),
      ['/1000', '/1048576'],
      JSON.stringify(http),
    );
    t.is(http.filter(([, , , code]) => code === '200').length, 2, JSON.stringify(http));
    t.deepEqual([...new Set(http.map(([s]) => s))].sort(), ['0', '1'], 'both TCP streams, whichever comes first'); // ava compares a Set's order
    for (const stream of [0, 1]) {
      const f = follow(pcap, stream);
      t.regex(f.nodes[0], /^127\.0\.0\.1:\d+$/);
      t.is(f.nodes[1], '127.0.0.2:80');
      const ex = exchanges.find((e) => e.req.equals(f.c2s));
      t.truthy(ex, `stream ${stream}: ${f.c2s.toString('latin1')}`);
      t.true(f.s2c.equals(ex.rep), `stream ${stream}: ${f.s2c.length} bytes back, ${ex.rep.length} relayed`);
    }
    const syns = fields(pcap, 'tcp.flags.syn==1 && tcp.flags.ack==0', 'ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport');
    t.is(syns.length, 2);
    t.not(syns[0][1], syns[1][1], 'a distinct client port per connection');
    for (const s of syns) t.deepEqual([s[0], s[2], s[3]], ['127.0.0.1', '127.0.0.2', '80']);
    const all = fields(pcap, '', 'frame.len', 'frame.time_epoch', 'ip.checksum.status', 'tcp.checksum.status', '_ws.expert.severity');
    t.true(all.length > 2 * 16);
    t.true(
      all.every(([len]) => Number(len) <= 65_535),
      'every packet within 64 KiB',
    );
    t.true(
      all.every(([, , ip, tcp]) => ip === '1' && tcp === '1'),
      'checksums good',
    );
    // tshark's expert info: chats and notes (SYN, FIN) only, no warning or error (severity 6291456 and up)
    t.true(
      all.every(([, , , , sev]) => sev.split(',').every((v) => v === '' || Number(v) < 6_291_456)),
      JSON.stringify(all.filter(([, , , , sev]) => sev)),
    );
    const times = all.map(([, time]) => Number(time) * 1000);
    t.true(times[0] >= started - 1000 && times.at(-1) <= Date.now() + 1000, 'timestamps of the real transfer');
    t.true(
      times.every((x, i) => i === 0 || x >= times[i - 1]),
      'in order',
    );
    await stopBySignal(t, tap);
  },
);

const curlTest = HAS_TSHARK && hasCommand('curl') ? test : (title, fn) => test.skip(`${title} [skipped: needs tshark and curl]`, fn);

curlTest(
  "--inplace with --pcap: curl keeps using the daemon's path, tshark shows its request and reply, and the path is the daemon's socket again (same inode)",
  async (t) => {
    const dir = tmpDir(t);
    const daemon = path.join(dir, 'http.sock');
    const pcap = path.join(dir, 'inplace.pcap');
    const srv = pythonFile('http_unix_server.py', [daemon], { t });
    await srv.waitStdout('ready');
    const inode = fs.statSync(daemon).ino;
    const tap = usock(['tap', '--inplace', daemon, '--pcap', pcap], { t });
    tap.end();
    await waitUntil(() => fs.readdirSync(dir).some((n) => n.includes('.usock-tap.')));
    await waitUntil(() => fs.statSync(daemon).ino !== inode);
    const curl = spawnSync('curl', ['-s', '--unix-socket', daemon, 'http://localhost/300'], { timeout: 30_000 });
    t.is(curl.status, 0, curl.stderr?.toString());
    t.true(curl.stdout.equals(body(300)));
    await tap.waitStderr((s) => / #1 close$/m.test(s));
    const summary = tshark(pcap, ['-Y', 'http']);
    t.is(countLines(summary, /HTTP \d+ GET \/300 HTTP\/1\.1/), 1, summary);
    t.is(countLines(summary, /HTTP \d+ HTTP\/1\.0 200 OK/), 1, summary);
    t.true(follow(pcap, 0).s2c.subarray(-300).equals(body(300)));
    await stopBySignal(t, tap);
    t.is(fs.statSync(daemon).ino, inode, "the daemon's own socket is back at its path");
    t.false(fs.readdirSync(dir).some((n) => n.includes('.usock-tap.')));
  },
);

tsharkTest('half-close: FIN from each side, after the request and after the reply; --pcap-port sets the server port', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const pcap = path.join(dir, 'tap.pcap');
  const srv = pythonFile('tap_target.py', [target, 'halfclose'], { t });
  await srv.waitStdout('ready');
  const tap = await startTap(t, listen, target, ['--pcap', pcap, '--pcap-port', '6379']);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
chunks, how = send_then_read(s, b'request\\n' * 1000)
print(how, len(b''.join(chunks)))
`),
    [listen],
    { t },
  );
  t.is(r.stdout.toString().trim(), 'eof 100025');
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  const packets = fields(pcap, 'tcp', 'ip.src', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.fin', 'tcp.len');
  t.true(packets.every(([src, sp, dp]) => (src === '127.0.0.1' ? dp : sp) === '6379'));
  const fins = packets.map((p, i) => /** @type {[string[], number]} */ ([p, i])).filter(([p]) => p[3] === '1');
  t.deepEqual(
    fins.map(([p]) => p[0]),
    ['127.0.0.1', '127.0.0.2'],
  );
  const lastData = (src) => packets.findLastIndex((p) => p[0] === src && Number(p[4]) > 0);
  t.true(fins[0][1] > lastData('127.0.0.1') && fins[0][1] < lastData('127.0.0.2'), 'the client FIN after the request, before the reply');
  t.true(fins[1][1] > lastData('127.0.0.2'));
  const f = follow(pcap, 0);
  t.is(f.nodes[1], '127.0.0.2:6379');
  t.true(f.c2s.equals(Buffer.from('request\n'.repeat(1000))));
  t.true(f.s2c.equals(Buffer.from('saw EOF after 8000 bytes\n' + 'x'.repeat(100_000))));
  await stopBySignal(t, tap);
});

tsharkTest('a reset by the target ends its flow with RST from the server, no FIN; an unreachable target too', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const pcap = path.join(dir, 'tap.pcap');
  // Closes each client once its data is there, unread: the kernel resets the connection (ECONNRESET).
  const srv = python(
    py(`
import select
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(4)
print('ready', flush=True)
c, _ = srv.accept()
select.select([c], [], [], 30)
c.close()
srv.close()
os.unlink(sys.argv[1])
print('closed', flush=True)
time.sleep(30)
`),
    [target],
    { t },
  );
  await srv.waitStdout('ready');
  const tap = await startTap(t, listen, target, ['--pcap', pcap]);
  const client = `
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
try:
    s.sendall(b'unread')
    print(s.recv(10))
except (ConnectionResetError, BrokenPipeError):
    print('reset')
`;
  const r1 = await runPython(py(client), [listen], { t });
  t.is(r1.code, 0, show(r1));
  await srv.waitStdout('closed');
  await tap.waitStderr((s) => / #1 close$/m.test(s));
  const r2 = await runPython(py(client), [listen], { t }); // the target is gone now
  t.is(r2.code, 0, show(r2));
  await tap.waitStderr((s) => / #2 close/m.test(s));
  const packets = fields(pcap, 'tcp.flags.reset==1 || tcp.flags.fin==1', 'tcp.stream', 'ip.src', 'tcp.flags.reset', 'tcp.flags.fin');
  t.deepEqual(
    packets.map((p) => p.join(' ')),
    ['0 127.0.0.2 1 0', '1 127.0.0.2 1 0'],
  );
  t.true(follow(pcap, 0).c2s.equals(Buffer.from('unread')));
  await stopBySignal(t, tap);
});

tsharkTest(
  'a client the access rules reject: a handshake (the kernel accepted it), then RST from the server; nothing reaches the target',
  async (t) => {
    const dir = tmpDir(t);
    const target = path.join(dir, 'target.sock');
    const listen = path.join(dir, 'tap.sock');
    const pcap = path.join(dir, 'tap.pcap');
    const srv = pythonFile('tap_target.py', [target, 'halfclose'], { t });
    await srv.waitStdout('ready');
    const tap = await startTap(t, listen, target, ['--pcap', pcap, '--allow-uid', String(process.getuid?.() + 4242)]);
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
    await tap.waitStderr('#1 reject');
    const packets = fields(pcap, '', 'ip.src', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.reset', 'tcp.len');
    t.deepEqual(
      packets.map((p) => p.join(' ')),
      ['127.0.0.1 1 0 0 0', '127.0.0.2 1 1 0 0', '127.0.0.1 0 1 0 0', '127.0.0.2 0 1 1 0'],
    );
    await stopBySignal(t, tap);
    t.false(srv.text().includes('eof'));
  },
);

tsharkTest('dgram and seqpacket: UDP flows, a datagram per message (one over 65,507 bytes split in two), a port per client', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'target.sock');
  const listen = path.join(dir, 'tap.sock');
  const pcap = path.join(dir, 'tap.pcap');
  const srv = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
while True:
    d, a = s.recvfrom(65536)
    s.sendto(b're:' + d, a)
`),
    [target],
    { t },
  );
  await srv.waitStdout('ready');
  const tap = await startTap(t, listen, target, ['--pcap', pcap, '--pcap-port', '53'], 'dgram');
  const r = await runPython(
    py(`
for i in range(2):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind('')
    s.settimeout(30)
    for m in [b'one %d' % i, b'two %d' % i]:
        s.sendto(m, sys.argv[1])
        print(s.recv(100).decode())
`),
    [listen],
    { t },
  );
  t.is(r.code, 0, show(r));
  await waitUntil(() => fields(pcap, 'udp', 'udp.srcport').length === 8, undefined, '8 datagrams in the pcap file');
  const udp = fields(pcap, 'udp', 'ip.src', 'udp.srcport', 'udp.dstport', 'udp.checksum.status', 'udp.payload');
  const text = (hex) => Buffer.from(hex.replace(/:/g, ''), 'hex').toString();
  const ports = new Set(udp.map(([src, sp, dp]) => (src === '127.0.0.1' ? sp : dp)));
  t.is(ports.size, 2, 'a client port per client address');
  t.true(udp.every(([src, sp, dp, sum]) => (src === '127.0.0.1' ? dp : sp) === '53' && sum === '1'));
  t.deepEqual(
    udp.filter(([src]) => src === '127.0.0.1').map((u) => text(u[4])),
    ['one 0', 'two 0', 'one 1', 'two 1'],
  );
  t.deepEqual(
    udp.filter(([src]) => src === '127.0.0.2').map((u) => text(u[4])),
    ['re:one 0', 're:two 0', 're:one 1', 're:two 1'],
  );
  await stopBySignal(t, tap);

  // seqpacket: the same, over a connection
  const seqTarget = path.join(dir, 'seq.sock');
  const seqListen = path.join(dir, 'seqtap.sock');
  const seqPcap = path.join(dir, 'seq.pcap');
  const echo = pythonFile('tap_target.py', [seqTarget, 'echo', 'seqpacket'], { t });
  await echo.waitStdout('ready');
  const tap2 = await startTap(t, seqListen, seqTarget, ['--pcap', seqPcap], 'seqpacket');
  const r2 = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
for m in [b'one', b'x' * 100000]:
    s.send(m)
    print(len(s.recv(1 << 20)))
s.shutdown(socket.SHUT_WR)
s.recv(10)
`),
    [seqListen],
    { t },
  );
  t.is(r2.stdout.toString(), '3\n100000\n', show(r2));
  await tap2.waitStderr((s) => / #1 close$/m.test(s));
  const seq = fields(seqPcap, '', 'ip.src', 'ip.proto', 'udp.length', 'udp.checksum.status');
  t.deepEqual(
    seq.map((p) => p.join(' ')),
    [
      '127.0.0.1 17 11 1',
      '127.0.0.2 17 11 1',
      '127.0.0.1 17 65515 1',
      '127.0.0.1 17 34501 1',
      '127.0.0.2 17 65515 1',
      '127.0.0.2 17 34501 1',
    ],
  );
  await stopBySignal(t, tap2);
});

test('usage and start-up errors: --pcap-port 0, x, 65536 or without --pcap (64); --pcap in a missing folder (73)', async (t) => {
  const dir = tmpDir(t);
  const listen = path.join(dir, 'tap.sock');
  const target = path.join(dir, 'target.sock');
  const pcap = path.join(dir, 'x.pcap');
  for (const port of ['0', 'x', '65536', '-1', '1.5']) {
    const r = await runUsock(['tap', '--pcap', pcap, '--pcap-port', port, listen, target]);
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr, new RegExp(`bad --pcap-port '${port.replace('.', '\\.')}'`));
  }
  const without = await runUsock(['tap', '--pcap-port', '80', listen, target]);
  t.is(without.code, 64, show(without));
  assertCleanError(t, without.stderr, /^usock: tap: --pcap-port does not apply without --pcap/);
  const missing = await runUsock(['tap', '--pcap', path.join(dir, 'no/such/x.pcap'), listen, target]);
  t.is(missing.code, 73, show(missing));
  assertCleanError(t, missing.stderr, /^usock: --pcap: open .*no\/such\/x\.pcap: No such file or directory/);
  t.false(fs.existsSync(listen));
  t.false(fs.existsSync(pcap));
});

test('--pcap in a folder usock may not write: 77', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const locked = path.join(dir, 'locked');
  fs.mkdirSync(locked, { mode: 0o500 });
  // root writes anywhere: it runs usock as nobody, with the listen address in a folder nobody may write
  const open = path.join(dir, 'open');
  fs.mkdirSync(open, { mode: 0o777 });
  fs.chmodSync(open, 0o777);
  const opts = IS_ROOT ? { uid: NOBODY_UID, gid: NOBODY_GID } : {};
  const r = await runUsock(
    ['tap', '--pcap', path.join(locked, 'x.pcap'), path.join(open, 'tap.sock'), path.join(open, 'target.sock')],
    opts,
  );
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr, /^usock: --pcap: open .*locked\/x\.pcap: Permission denied \(EACCES\)/);
});
