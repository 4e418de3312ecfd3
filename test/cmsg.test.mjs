// Tests of the descriptor-passing layer in dist/lib.mjs: control-buffer layout (checked against Python's CMSG_*), sendmsg/recvmsg on real sockets, extras, MSG_CTRUNC, credentials, descriptor descriptions.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  cmsgLen,
  cmsgSpace,
  controlSpace,
  encodeRights,
  parseControl,
  receiveMessage,
  sendWithDescriptors,
  socketpair,
  closeQuietly,
  passCredentials,
  describeDescriptor,
  openFlagNames,
  assessMessage,
  EXIT,
  WOULD_BLOCK,
  exitCodeFor,
} from '../dist/lib.mjs';
import { tmpDir } from './helpers.mjs';

const TYPES = ['stream', 'seqpacket', 'dgram'];

/** Returns the descriptors this process has open. */
function openFds() {
  return fs.readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);
}

/** Returns how many of this process's descriptors point at file. */
function fdsPointingAt(file) {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return n;
}

function closeAll(fds) {
  for (const fd of fds) closeQuietly(fd);
}

// ---- layout -------------------------------------------------------------------------------------------------

test('CMSG_LEN and CMSG_SPACE agree with Python\'s socket.CMSG_LEN / CMSG_SPACE (64-bit layout)', (t) => {
  const ns = [0, 1, 2, 3, 7, 64, 253];
  const r = spawnSync('python3', ['-c', `import socket; print(' '.join(f'{socket.CMSG_LEN(4*n)},{socket.CMSG_SPACE(4*n)}' for n in [${ns}])); print(socket.CMSG_SPACE(12))`], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const [pairs, ucred] = r.stdout.trim().split('\n');
  t.deepEqual(pairs.split(' '), ns.map((n) => `${cmsgLen(4 * n)},${cmsgSpace(4 * n)}`));
  t.is(controlSpace(0), Number(ucred));
  t.is(controlSpace(3), cmsgSpace(12) + cmsgSpace(12));
  t.is(controlSpace(3, false), 32);
});

test('encodeRights: cmsghdr {size_t len; int level; int type} then the fds, padded to 8 bytes', (t) => {
  const b = encodeRights([5, 6, 7]);
  t.is(b.length, 32);
  t.is(Number(b.readBigUInt64LE(0)), 16 + 12);
  t.is(b.readInt32LE(8), 1); // SOL_SOCKET
  t.is(b.readInt32LE(12), 1); // SCM_RIGHTS
  t.deepEqual([b.readInt32LE(16), b.readInt32LE(20), b.readInt32LE(24)], [5, 6, 7]);
  t.is(b.readInt32LE(28), 0);
  t.is(encodeRights([]).length, 0);
  t.throws(() => encodeRights(Array(254).fill(0)), { instanceOf: RangeError, message: /at most|max 253/ });
  t.throws(() => encodeRights([-1]), { instanceOf: RangeError });
});

test('parseControl: SCM_RIGHTS and SCM_CREDENTIALS in one buffer, in either order; a cut-off header stops the walk', (t) => {
  const rights = encodeRights([9, 10]);
  const cred = Buffer.alloc(32);
  cred.writeBigUInt64LE(28n, 0);
  cred.writeInt32LE(1, 8);
  cred.writeInt32LE(2, 12); // SCM_CREDENTIALS
  cred.writeInt32LE(1234, 16);
  cred.writeUInt32LE(1000, 20);
  cred.writeUInt32LE(4294967294, 24);
  const expected = { fds: [9, 10], cred: { pid: 1234, uid: 1000, gid: 4294967294 } };
  t.deepEqual(parseControl(Buffer.concat([cred, rights])), expected);
  t.deepEqual(parseControl(Buffer.concat([rights, cred])), expected);
  // msg_controllen shorter than the buffer: only what the kernel filled counts.
  t.deepEqual(parseControl(Buffer.concat([rights, cred]), rights.length), { fds: [9, 10], cred: null });
  t.deepEqual(parseControl(Buffer.alloc(64)), { fds: [], cred: null });
  // A header claiming more than the buffer holds: the whole descriptors in it are still returned (to be closed).
  const cut = encodeRights([3, 4, 5]);
  t.deepEqual(parseControl(cut, 24).fds, [3, 4]);
});

// ---- sendmsg / recvmsg on real sockets ----------------------------------------------------------------------

for (const type of TYPES) {
  test(`${type}: sendWithDescriptors / receiveMessage pass descriptors that point at the same files, close-on-exec`, (t) => {
    const dir = tmpDir(t);
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'payload');
    const [a, b] = socketpair(type);
    const f = fs.openSync(file, 'r');
    t.teardown(() => closeAll([a, b, f]));
    t.is(sendWithDescriptors(a, Buffer.from('hello'), [f, f]), 5);
    const m = receiveMessage(b, 100, 64);
    t.not(m, WOULD_BLOCK);
    t.is(m.data.toString(), 'hello');
    t.is(m.length, 5);
    t.false(m.truncated);
    t.false(m.controlTruncated);
    t.is(m.extraClosed, 0);
    t.is(m.fds.length, 2);
    t.is(m.from, '');
    t.is(m.fromAddress, null);
    for (const fd of m.fds) {
      t.not(fd, f);
      t.is(fs.readlinkSync(`/proc/self/fd/${fd}`), file);
      t.regex(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'), /^flags:\s*0*2[0-7]{6}$/m, 'O_CLOEXEC (02000000) set');
    }
    t.is(fs.readFileSync(m.fds[0], 'utf8'), 'payload');
    closeAll(m.fds);
    t.is(receiveMessage(b, 100, 64), WOULD_BLOCK);
  });
}

test('seqpacket and dgram: a message longer than maxData is cut, with its real length and truncated set', (t) => {
  for (const type of ['seqpacket', 'dgram']) {
    const [a, b] = socketpair(type);
    sendWithDescriptors(a, Buffer.from('0123456789'), [0]);
    const m = receiveMessage(b, 4, 8);
    t.is(m.length, 10, type);
    t.is(m.data.toString(), '0123', type);
    t.true(m.truncated, type);
    closeAll([a, b, ...m.fds]);
  }
});

test('an empty message with descriptors passes over seqpacket and dgram (not over stream)', (t) => {
  for (const type of ['seqpacket', 'dgram']) {
    const [a, b] = socketpair(type);
    sendWithDescriptors(a, Buffer.alloc(0), [0, 1]);
    const m = receiveMessage(b, 10, 8);
    t.is(m.length, 0, type);
    t.is(m.fds.length, 2, type);
    closeAll([a, b, ...m.fds]);
  }
});

test('descriptors beyond maxFds are closed at once and counted; none is left open', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'marker');
  fs.writeFileSync(file, '');
  const f = fs.openSync(file, 'r');
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b, f]));
  const before = fdsPointingAt(file);
  t.is(before, 1);
  sendWithDescriptors(a, Buffer.from('x'), Array(253).fill(f));
  const m = receiveMessage(b, 10, 64);
  t.false(m.controlTruncated);
  t.is(m.fds.length, 64);
  t.is(m.extraClosed, 253 - 64);
  t.is(fdsPointingAt(file), 1 + 64);
  closeAll(m.fds);
  t.is(fdsPointingAt(file), 1);
});

test('MSG_CTRUNC: a control buffer too small for the message is reported; the kernel closes what did not fit', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'marker');
  fs.writeFileSync(file, '');
  const f = fs.openSync(file, 'r');
  const [a, b] = socketpair('dgram');
  t.teardown(() => closeAll([a, b, f]));
  sendWithDescriptors(a, Buffer.from('x'), Array(40).fill(f));
  // Room for one descriptor (plus the ucred slot, which an SO_PASSCRED-less socket leaves to SCM_RIGHTS).
  const m = receiveMessage(b, 10, 1, 1);
  t.true(m.controlTruncated);
  t.is(m.fds.length, 1);
  t.is(fdsPointingAt(file), 2, 'the one kept; the kernel closed the descriptors that did not fit, usock the extras');
  const verdict = assessMessage(m, 1);
  t.is(verdict.status, EXIT.IOERR);
  t.is(verdict.error, null);
  t.true(verdict.warnings.some((w) => w.event === 'ctrunc' && /MSG_CTRUNC/.test(w.text)));
  closeAll(m.fds);
  t.is(fdsPointingAt(file), 1);
});

test('assessMessage: no descriptors is EX_DATAERR (65); extras beyond --max-fds are a warning, not a failure', (t) => {
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b]));
  sendWithDescriptors(a, Buffer.from('plain'), []); // plain data, no descriptors
  const plain = receiveMessage(b, 10, 4);
  const v = assessMessage(plain, 4);
  t.is(exitCodeFor(v.error), 65);
  t.regex(v.error.message, /received a message of 5 bytes without descriptors/);
  t.is(EXIT.DATAERR, 65);
  sendWithDescriptors(a, Buffer.from('x'), [0, 0, 0]);
  const many = receiveMessage(b, 10, 1);
  const w = assessMessage(many, 1);
  t.is(w.error, null);
  t.is(w.status, EXIT.OK);
  t.deepEqual(w.warnings.map((x) => x.text), ['closed 2 descriptors beyond --max-fds 1']);
  closeAll(many.fds);
});

test('dgram: receiveMessage reports the sender\'s SCM_CREDENTIALS (SO_PASSCRED)', (t) => {
  // A socketpair end with SO_PASSCRED gets the sending process's credentials.
  const [a, b] = socketpair('dgram');
  t.teardown(() => closeAll([a, b]));
  passCredentials(b);
  sendWithDescriptors(a, Buffer.from('c'), []);
  const m = receiveMessage(b, 10, 0);
  t.deepEqual(m.cred, { pid: process.pid, uid: process.getuid(), gid: process.getgid() });
  t.deepEqual(m.fds, []);
});

test('receiveMessage(fd, 0, 0): no data buffer and no descriptors kept, as peercred uses it; descriptors sent anyway are closed', (t) => {
  const [a, b] = socketpair('dgram');
  t.teardown(() => closeAll([a, b]));
  const before = openFds().length;
  sendWithDescriptors(a, Buffer.from('abc'), [0, 1, 2]);
  const m = receiveMessage(b, 0, 0);
  t.is(m.length, 3);
  t.is(m.data.length, 0);
  t.true(m.truncated);
  t.deepEqual(m.fds, []);
  t.is(m.extraClosed, 3);
  t.is(openFds().length, before);
});

test('sendWithDescriptors throws SysError EBADF for a closed descriptor and EINVAL past SCM_MAX_FD', (t) => {
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b]));
  t.throws(() => sendWithDescriptors(a, Buffer.from('x'), [987]), { code: 'EBADF' });
  t.throws(() => sendWithDescriptors(a, Buffer.from('x'), Array(254).fill(0)), { code: 'EINVAL' });
});

// ---- descriptor descriptions ----------------------------------------------------------------------------------

test('openFlagNames: access mode first, then the other flags; O_CLOEXEC and O_LARGEFILE left out', (t) => {
  t.deepEqual(openFlagNames(0o2100002), ['O_RDWR']);
  t.deepEqual(openFlagNames(0o102001), ['O_WRONLY', 'O_APPEND']);
  t.deepEqual(openFlagNames(0o4000), ['O_RDONLY', 'O_NONBLOCK']);
  t.deepEqual(openFlagNames(0o10000000), ['O_PATH']);
  t.deepEqual(openFlagNames(0o4010001), ['O_WRONLY', 'O_SYNC']);
  t.deepEqual(openFlagNames(0o200000), ['O_RDONLY', 'O_DIRECTORY']);
});

test('describeDescriptor: a file (its flags and offset), a directory, a socket, the anon inodes Node holds', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'abcdef');
  const f = fs.openSync(file, 'a+');
  fs.readSync(f, Buffer.alloc(2), 0, 2, null);
  const d = fs.openSync(dir, 'r');
  const [s1, s2] = socketpair('stream');
  t.teardown(() => closeAll([f, d, s1, s2]));
  const fi = describeDescriptor(f);
  t.like(fi, { fd: f, kind: 'file', target: file, flags: ['O_RDWR', 'O_APPEND'], pos: 2 });
  t.like(describeDescriptor(d), { kind: 'directory', target: dir });
  const si = describeDescriptor(s1);
  t.is(si.kind, 'socket');
  t.regex(si.target, /^socket:\[\d+\]$/);
  t.deepEqual(si.flags, ['O_RDWR', 'O_NONBLOCK']);
  // An anonymous inode Node itself holds (its epoll and eventfd descriptors).
  const anon = openFds().map((fd) => { try { return describeDescriptor(fd); } catch { return null; } })
    .filter((x) => x && x.target.startsWith('anon_inode:'));
  t.true(anon.length > 0);
  t.true(anon.some((x) => x.kind === 'epoll' || x.kind === 'eventfd'), JSON.stringify(anon));
});
