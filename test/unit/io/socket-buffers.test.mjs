// Unit tests of src/io/socket-buffers.ts on real sockets: the buffer sizes a caller asks for.
import test from 'ava';
import { setSocketBuffers, STREAM_SOCKET_BUFFER } from '../../../src/io/socket-buffers.ts';
import { SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../../../src/sys/platform/linux.ts';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { socketpair, getsockoptInt } from '../../../src/sys/socket.ts';

const sizes = (fd) => [getsockoptInt(fd, SOL_SOCKET, SO_SNDBUF), getsockoptInt(fd, SOL_SOCKET, SO_RCVBUF)];

test('setSocketBuffers asks for both sizes (the kernel doubles the value, socket(7))', (t) => {
  const [a, b] = socketpair('stream');
  t.teardown(() => {
    closeQuietly(a);
    closeQuietly(b);
  });
  setSocketBuffers(a, 16384);
  t.deepEqual(sizes(a), [32768, 32768]);
});

test('by default it asks for STREAM_SOCKET_BUFFER (the kernel may cap it): larger than a small size asked before', (t) => {
  const [a, b] = socketpair('stream');
  t.teardown(() => {
    closeQuietly(a);
    closeQuietly(b);
  });
  setSocketBuffers(a, 4096);
  const small = sizes(a);
  setSocketBuffers(a);
  const [snd, rcv] = sizes(a);
  t.true(snd > small[0] && rcv > small[1]);
  t.true(snd <= 2 * STREAM_SOCKET_BUFFER && rcv <= 2 * STREAM_SOCKET_BUFFER);
});

test('a descriptor that is not a socket: nothing is set, nothing thrown', (t) => {
  t.notThrows(() => setSocketBuffers(0));
  t.notThrows(() => setSocketBuffers(-1));
});
