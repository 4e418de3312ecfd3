// Signals while data is on its way out: SIGTERM while len32 frames are being written to stdout finishes the frame
// in progress (a downstream reader never sees half a frame), then usock dies of the signal.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { usock, python, py, abstractName, endedBy, show } from '../helpers.mjs';

// A seqpacket server at argv[1] that sends 64 KiB messages to its client as fast as it can, forever.
const FLOODER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(addr(sys.argv[1]))
srv.listen(1)
print('ready', flush=True)
c, _ = srv.accept()
msg = b'm' * 65536
try:
    while True:
        c.send(msg)
except OSError:
    pass
`);

// Reads stdin to EOF, slowly (4 KiB at a time, 2 ms apart) for its first 4 MiB; says 'reading' on stderr once it
// has 256 KiB (frames are flowing; the pipe stays full behind it); prints how many bytes it read and whether they
// split into whole len32 frames.
const SLOW_READER = py(`
import struct
data = bytearray()
fd = sys.stdin.buffer.fileno()
while True:
    d = os.read(fd, 4096)
    if not d:
        break
    if len(data) < 256 << 10 <= len(data) + len(d):
        print('reading', file=sys.stderr, flush=True)
    data += d
    if len(data) < 4 << 20:
        time.sleep(0.002)
off = 0
frames = 0
while off + 4 <= len(data):
    n = struct.unpack('>I', data[off:off + 4])[0]
    if off + 4 + n > len(data):
        break
    off += 4 + n
    frames += 1
print(json.dumps({'bytes': len(data), 'frames': frames, 'whole': off == len(data)}), flush=True)
`);

test('SIGTERM while len32 frames are being written to stdout: the frame in progress is finished, then usock dies of SIGTERM', async (t) => {
  const name = '@' + abstractName();
  const srv = python(FLOODER, [name], { t });
  await srv.waitStdout('ready');
  const reader = python(SLOW_READER, [], { t });
  const u = usock(['connect', '-q', '-t', 'seqpacket', '--frame', 'len32', '--max-size', '65536', name], {
    t,
    stdio: ['pipe', reader.child.stdin, 'pipe'],
  });
  // frames are flowing and the slow reader keeps the pipe full: usock holds part-written blocks now
  await reader.waitStderr('reading');
  u.kill('SIGTERM');
  const r = await u.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  reader.child.stdin.end();
  const out = await reader.exited;
  const res = JSON.parse(out.stdout.toString());
  t.true(res.frames > 0, JSON.stringify(res));
  t.true(res.whole, `the output ends inside a frame: ${JSON.stringify(res)}`);
});
