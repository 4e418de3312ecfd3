// Unit tests of src/sys/socket.ts on real sockets: new sockets non-blocking and close-on-exec, bind/listen/accept/connect
// and their failures, WOULD_BLOCK for a full backlog and an empty queue, datagrams with addresses, options, names,
// credentials, the size of the next message, the end of a seqpacket stream, socket type names.
import test from 'ava';
import { closeQuietly, fcntl, write, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import {
  accept,
  bind,
  bytesQueued,
  connect,
  getpeername,
  getsockname,
  getsockoptBytes,
  getsockoptInt,
  listen,
  netlinkSocket,
  peerCredentials,
  recv,
  recvfrom,
  send,
  sendto,
  seqpacketEnded,
  setsockoptInt,
  shutdown,
  socket,
  socketpair,
  socketTypeName,
} from '../../../src/sys/socket.ts';
import { encodeAbstractAddress } from '../../../src/sys/sockaddr.ts';
import {
  F_GETFD,
  F_GETFL,
  FD_CLOEXEC,
  MSG_TRUNC,
  NETLINK_SOCK_DIAG,
  O_NONBLOCK,
  SHUT_WR,
  SO_PEERCRED,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOL_SOCKET,
  UCRED_SIZE,
} from '../../../src/sys/platform/linux.ts';
import { abstractName } from '../../helpers.mjs';

/** @type {Array<[import('../../../src/sys/socket.ts').SocketType, number]>} */
const TYPES = [
  ['stream', SOCK_STREAM],
  ['dgram', SOCK_DGRAM],
  ['seqpacket', SOCK_SEQPACKET],
];

/** Returns n; throws when a call gave WOULD_BLOCK instead. */
function count(n) {
  if (n === WOULD_BLOCK) throw new Error('WOULD_BLOCK where a result was expected');
  return n;
}

/** Returns fds, closed when the test ends. */
function owned(t, ...fds) {
  t.teardown(() => fds.forEach(closeQuietly));
  return fds;
}

for (const [type, number] of TYPES) {
  test(`socket('${type}') is an AF_UNIX ${type} socket, non-blocking and close-on-exec`, (t) => {
    const [fd] = owned(t, socket(type));
    t.is(getsockoptInt(fd, SOL_SOCKET, SO_TYPE), number);
    t.is(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    t.is(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  });
}

test('socketpair: non-blocking and close-on-exec unless asked otherwise', (t) => {
  const [a, b] = owned(t, ...socketpair('seqpacket'));
  const [c, d] = owned(t, ...socketpair('stream', { nonblock: false, cloexec: false }));
  for (const fd of [a, b]) {
    t.is(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    t.is(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  }
  for (const fd of [c, d]) {
    t.is(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    t.is(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  }
  t.is(getsockoptInt(a, SOL_SOCKET, SO_TYPE), SOCK_SEQPACKET);
});

test('listen, connect and accept: WOULD_BLOCK while no client waits; names on both ends; the accepted socket non-blocking and close-on-exec', (t) => {
  const name = abstractName();
  const [server, client] = owned(t, socket('stream'), socket('stream'));
  bind(server, encodeAbstractAddress(name));
  listen(server);
  t.is(accept(server), WOULD_BLOCK);
  t.is(connect(client, encodeAbstractAddress(name)), 0);
  const conn = count(accept(server));
  owned(t, conn);
  t.is(fcntl(conn, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  t.is(fcntl(conn, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  t.is(getsockname(server), `@${name}`);
  t.is(getpeername(client), `@${name}`);
  t.is(getsockname(conn), `@${name}`);
  t.is(getpeername(conn), ''); // the client is unnamed
  t.is(send(client, Buffer.from('hi')), 2);
  const buf = Buffer.alloc(8);
  t.is(recv(conn, buf), 2);
  t.is(recv(conn, buf), WOULD_BLOCK);
});

test("connect returns WOULD_BLOCK once the listener's backlog is full", (t) => {
  const name = abstractName();
  const [server] = owned(t, socket('stream'));
  bind(server, encodeAbstractAddress(name));
  listen(server, 1);
  /** @type {0 | typeof WOULD_BLOCK} */
  let result = 0;
  for (let i = 0; i < 64 && result === 0; i++) {
    const [client] = owned(t, socket('stream'));
    result = connect(client, encodeAbstractAddress(name));
  }
  t.is(result, WOULD_BLOCK);
});

test('connect and bind throw SysError naming the call, the errno and the label', (t) => {
  const name = abstractName();
  const [a, b, c] = owned(t, socket('stream'), socket('stream'), socket('stream'));
  t.like(
    t.throws(() => connect(a, encodeAbstractAddress(name), `@${name}`), { name: 'SysError' }),
    { syscall: 'connect', code: 'ECONNREFUSED', path: `@${name}` },
  );
  bind(b, encodeAbstractAddress(name));
  t.like(
    t.throws(() => bind(c, encodeAbstractAddress(name), `@${name}`), { name: 'SysError' }),
    { syscall: 'bind', code: 'EADDRINUSE', path: `@${name}` },
  );
  t.like(
    t.throws(() => listen(-1), { name: 'SysError' }),
    { syscall: 'listen', code: 'EBADF' },
  );
});

test('datagrams: sendto an address, recvfrom tells the sender; MSG_TRUNC gives the real length', (t) => {
  const [nameA, nameB] = [abstractName(), abstractName()];
  const [a, b] = owned(t, socket('dgram'), socket('dgram'));
  bind(a, encodeAbstractAddress(nameA));
  bind(b, encodeAbstractAddress(nameB));
  t.is(sendto(a, Buffer.from('0123456789'), encodeAbstractAddress(nameB)), 10);
  const from = Buffer.alloc(110);
  const fromLength = new Uint32Array(1);
  const small = Buffer.alloc(4);
  t.is(recvfrom(b, small, MSG_TRUNC, from, fromLength), 10);
  t.is(small.toString(), '0123');
  t.is(from.toString('utf8', 3, fromLength[0]), nameA);
  t.is(recvfrom(b, small, 0, from, fromLength), WOULD_BLOCK);
});

test('socket options: an int set and read back (SO_SNDBUF, doubled by the kernel, socket(7)); raw bytes trimmed to their length', (t) => {
  const [a, b] = owned(t, ...socketpair('stream'));
  setsockoptInt(a, SOL_SOCKET, SO_SNDBUF, 65536);
  t.is(getsockoptInt(a, SOL_SOCKET, SO_SNDBUF), 2 * 65536);
  const raw = getsockoptBytes(b, SOL_SOCKET, SO_PEERCRED, 64);
  t.is(raw.length, UCRED_SIZE);
  t.like(
    t.throws(() => setsockoptInt(a, SOL_SOCKET, -1, 1), { name: 'SysError' }),
    { syscall: 'setsockopt' },
  );
});

test("peerCredentials: the peer's pid, uid and gid", (t) => {
  const [a] = owned(t, ...socketpair('stream'));
  t.deepEqual(peerCredentials(a), { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
});

test("bytesQueued: a dgram socket's next datagram, every byte queued on a seqpacket one (unix(7))", (t) => {
  const [a, b] = owned(t, ...socketpair('dgram'));
  const [c, d] = owned(t, ...socketpair('seqpacket'));
  for (const [from, to] of [
    [a, b],
    [c, d],
  ]) {
    t.is(bytesQueued(to), 0);
    send(from, Buffer.from('hello'));
    send(from, Buffer.from('hi'));
  }
  t.is(bytesQueued(b), 5);
  t.is(bytesQueued(d), 7);
  t.like(
    t.throws(() => bytesQueued(-1), { name: 'SysError' }),
    { syscall: 'ioctl', code: 'EBADF' },
  );
});

test('seqpacketEnded: true only once the peer shut down and nothing is left', (t) => {
  const [a, b] = owned(t, ...socketpair('seqpacket'));
  send(a, Buffer.from('hello'));
  send(a, Buffer.from('hi'));
  t.false(seqpacketEnded(b));
  const buf = Buffer.alloc(16);
  t.is(recv(b, buf), 5);
  shutdown(a, SHUT_WR);
  t.false(seqpacketEnded(b)); // a message is still queued
  t.is(recv(b, buf), 2);
  t.true(seqpacketEnded(b));
  t.is(recv(b, buf), 0);
});

test('shutdown(SHUT_WR): the peer reads the end, the other way still works', (t) => {
  const [a, b] = owned(t, ...socketpair('stream'));
  shutdown(a, SHUT_WR);
  const buf = Buffer.alloc(4);
  t.is(recv(b, buf), 0);
  t.is(write(b, Buffer.from('ok')), 2);
  t.is(recv(a, buf), 2);
  t.like(
    t.throws(() => send(a, Buffer.from('x')), { name: 'SysError' }),
    { syscall: 'send', code: 'EPIPE' },
  );
});

test('netlinkSocket: a datagram netlink socket, non-blocking and close-on-exec', (t) => {
  const [fd] = owned(t, netlinkSocket(NETLINK_SOCK_DIAG));
  t.is(getsockoptInt(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
  t.is(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  t.is(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
});

test("socketTypeName names the kernel's type numbers usock handles, and no other", (t) => {
  for (const [type, number] of TYPES) t.is(socketTypeName(number), type);
  t.is(socketTypeName(3), 'unknown'); // SOCK_RAW
  t.is(socketTypeName(Number.NaN), 'unknown');
});
