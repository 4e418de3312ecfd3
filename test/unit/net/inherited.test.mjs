// Unit tests of src/net/inherited.ts and the fd:/sd: forms of src/net/address.ts: parsing, LISTEN_* as sd_listen_fds(3)
// reads them, and the checks of real sockets made in this process (domain, type, listening, bound, connected, flags).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { parseAddress, parseInherited } from '../../../src/net/address.ts';
import { activationSockets, adoptInherited, descriptorOf, inspectInherited } from '../../../src/net/inherited.ts';
import { close, fcntl } from '../../../src/sys/fd.ts';
import { bind, listen, netlinkSocket, socket, socketpair } from '../../../src/sys/socket.ts';
import { encodeAutobindAddress, encodePathAddress } from '../../../src/sys/sockaddr.ts';
import { tmpDir } from '../../helpers.mjs';

/** @param {number} n @returns {import('../../../src/net/address.ts').InheritedAddress} */
const fdAddress = (n) => inherited(`fd:${n}`);
/** @param {string} text @returns {import('../../../src/net/address.ts').InheritedAddress} */
const inherited = (text) => /** @type {import('../../../src/net/address.ts').InheritedAddress} */ (parseInherited(text));
/** Runs fn with fd, closed afterwards. */
function using(t, fd) {
  t.teardown(() => {
    try {
      close(fd);
    } catch {
      // closed by the test
    }
  });
  return fd;
}
/** Asserts that fn throws a usage error (64: kind USAGE; tsx may load errors.ts twice, so not by class) whose message matches re. */
const usage = (t, fn, re) => {
  const err = t.throws(fn);
  t.is(err?.kind, 'USAGE', String(err));
  t.regex(err?.message ?? '', re);
};

test('parse: fd:N, sd:NAME and sd: are inherited sockets; ./fd:3 and @fd:3 are not; a malformed fd: is a usage error', (t) => {
  t.like(parseAddress('fd:3'), { kind: 'fd', descriptor: 3, text: 'fd:3' });
  t.like(parseAddress('fd:42'), { kind: 'fd', descriptor: 42 });
  t.like(parseAddress('sd:web'), { kind: 'sd', name: 'web', text: 'sd:web' });
  t.like(parseAddress('sd:'), { kind: 'sd', name: null });
  t.like(parseAddress('./fd:3'), { kind: 'path', path: './fd:3' });
  t.like(parseAddress('@fd:3'), { kind: 'abstract' });
  t.is(parseInherited('/run/x.sock'), null);
  for (const bad of ['fd:', 'fd:x', 'fd:-1', 'fd:3.5', 'fd:9999999999']) usage(t, () => parseAddress(bad), /expected fd:N/);
  usage(t, () => parseAddress('sd:a:b'), /holds no ':'/);
});

test('activation: LISTEN_FDS from 3 with the names of LISTEN_FDNAMES (unknown without it), only for LISTEN_PID', (t) => {
  const env = (o) => ({ env: o, pid: 1234 });
  t.deepEqual(activationSockets('sd:', env({ LISTEN_PID: '1234', LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' })), [
    { fd: 3, name: 'web' },
    { fd: 4, name: 'admin' },
  ]);
  t.deepEqual(activationSockets('sd:', env({ LISTEN_PID: '1234', LISTEN_FDS: '1' })), [{ fd: 3, name: 'unknown' }]);
  usage(
    t,
    () => activationSockets('sd:', env({})),
    /^sd:: no socket was passed by socket activation \(LISTEN_PID and LISTEN_FDS are not set\)/,
  );
  usage(t, () => activationSockets('sd:', env({ LISTEN_PID: '99', LISTEN_FDS: '1' })), /LISTEN_PID is 99, not usock's pid 1234/);
  usage(t, () => activationSockets('sd:', env({ LISTEN_PID: 'x', LISTEN_FDS: '1' })), /LISTEN_PID is x/);
  usage(t, () => activationSockets('sd:', env({ LISTEN_PID: '1234', LISTEN_FDS: '0' })), /no socket was passed .*LISTEN_FDS is '0'/);
  usage(t, () => activationSockets('sd:', env({ LISTEN_PID: '1234', LISTEN_FDS: 'two' })), /LISTEN_FDS is 'two'/);
  usage(
    t,
    () => activationSockets('sd:', env({ LISTEN_PID: '1234', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a' })),
    /LISTEN_FDNAMES names 1 sockets, LISTEN_FDS passes 2/,
  );
});

test('descriptorOf: fd:N is N (3 or more); sd: the only one, sd:NAME the one of that name', (t) => {
  const activation = (names) => ({ env: { LISTEN_PID: '7', LISTEN_FDS: String(names.length), LISTEN_FDNAMES: names.join(':') }, pid: 7 });
  t.is(descriptorOf(fdAddress(9)), 9);
  usage(t, () => descriptorOf(fdAddress(2)), /descriptors 0, 1 and 2 are usock's standard/);
  t.is(descriptorOf(inherited('sd:'), activation(['x'])), 3);
  t.is(descriptorOf(inherited('sd:b'), activation(['a', 'b', 'c'])), 4);
  usage(t, () => descriptorOf(inherited('sd:'), activation(['a', 'b'])), /^sd:: 2 sockets were passed \(named a, b\): name one$/);
  usage(t, () => descriptorOf(inherited('sd:z'), activation(['a', 'b'])), /^sd:z: no socket named z was passed \(named a, b\)$/);
  usage(t, () => descriptorOf(inherited('sd:a'), activation(['a', 'b', 'a'])), /^sd:a: 2 sockets are named a \(descriptors 3, 5\)$/);
});

test('inspect to serve: a listening stream or seqpacket socket, a bound dgram socket, each with its type; -t must match', (t) => {
  const dir = tmpDir(t);
  for (const type of /** @type {const} */ (['stream', 'seqpacket'])) {
    const fd = using(t, socket(type));
    bind(fd, encodePathAddress(path.join(dir, `${type}.sock`)));
    usage(t, () => inspectInherited(fdAddress(fd), 'serve'), new RegExp(`descriptor ${fd} is a ${type} socket that does not listen`));
    listen(fd);
    t.deepEqual(inspectInherited(fdAddress(fd), 'serve'), { fd, type, name: path.join(dir, `${type}.sock`) });
    t.is(inspectInherited(fdAddress(fd), 'serve', type).type, type);
    usage(t, () => inspectInherited(fdAddress(fd), 'serve', 'dgram'), new RegExp(`is a ${type} socket: -t dgram does not match`));
  }
  const dgram = using(t, socket('dgram'));
  usage(t, () => inspectInherited(fdAddress(dgram), 'serve'), /is a dgram socket that is not bound/);
  bind(dgram, encodeAutobindAddress());
  const bound = inspectInherited(fdAddress(dgram), 'serve');
  t.is(bound.type, 'dgram');
  t.regex(bound.name, /^@/);
});

test('inspect to connect: a connected socket of any type; a listening or unconnected one is refused', (t) => {
  for (const type of /** @type {const} */ (['stream', 'seqpacket', 'dgram'])) {
    const [a, b] = socketpair(type);
    using(t, a);
    using(t, b);
    t.like(inspectInherited(fdAddress(a), 'connect'), { fd: a, type });
  }
  const lonely = using(t, socket('seqpacket'));
  usage(t, () => inspectInherited(fdAddress(lonely), 'connect'), /is a seqpacket socket that is not connected/);
  const listening = using(t, socket('stream'));
  bind(listening, encodeAutobindAddress());
  listen(listening);
  usage(t, () => inspectInherited(fdAddress(listening), 'connect'), /is a listening stream socket: connect needs a connected one/);
});

test('inspect: a closed descriptor, a regular file and a netlink socket are refused', (t) => {
  const closed = socket('stream');
  close(closed);
  usage(t, () => inspectInherited(fdAddress(closed), 'serve'), new RegExp(`^fd:${closed}: descriptor ${closed} is not open$`));
  const dir = tmpDir(t);
  const file = fs.openSync(path.join(dir, 'f'), 'w');
  t.teardown(() => fs.closeSync(file));
  usage(t, () => inspectInherited(fdAddress(file), 'serve'), /is not a socket \(regular file\)/);
  const netlink = using(t, netlinkSocket(4));
  usage(t, () => inspectInherited(fdAddress(netlink), 'serve'), /is not a Unix socket \(AF_NETLINK\)/);
});

test("adopt: the socket is made non-blocking and close-on-exec, as usock's own sockets are", (t) => {
  const [a, b] = socketpair('stream', { nonblock: false, cloexec: false });
  using(t, a);
  using(t, b);
  const F_GETFD = 1;
  const F_GETFL = 3;
  t.is(fcntl(a, F_GETFL) & 0o4000, 0);
  t.is(fcntl(a, F_GETFD) & 1, 0);
  t.like(adoptInherited(fdAddress(a), 'stream', 'connect'), { fd: a, type: 'stream' });
  t.is(fcntl(a, F_GETFL) & 0o4000, 0o4000);
  t.is(fcntl(a, F_GETFD) & 1, 1);
  usage(t, () => adoptInherited(fdAddress(b), 'dgram', 'connect'), /-t dgram does not match/);
});
