// Unit tests of src/sys/msg.ts on real socketpairs (src/sys/socket.ts): sendWithDescriptors / receiveMessage pass
// descriptors, cut long messages, close extras, report MSG_CTRUNC and SCM_CREDENTIALS, refuse bad descriptors;
// MessageReader, the reusable recvmsg, passes data and descriptors alike.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { MessageReader, receiveMessage, sendWithDescriptors } from '../../../src/sys/msg.ts';
import { closeQuietly, write, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair, send } from '../../../src/sys/socket.ts';
import { MSG_TRUNC } from '../../../src/sys/platform/linux.ts';
import { passCredentials } from '../../../src/net/credentials.ts';
import { assessMessage } from '../../../src/commands/recv-fd/run.ts';
import { EXIT } from '../../../src/errors.ts';
import { tmpDir, openFds, fdsPointingAt } from '../../helpers.mjs';

/** @type {import('../../../src/sys/socket.ts').SocketType[]} */
const TYPES = ['stream', 'seqpacket', 'dgram'];

/** @type {import('../../../src/sys/socket.ts').SocketType[]} */
const MESSAGE_TYPES = ['seqpacket', 'dgram'];

/** Returns the message receiveMessage returned; throws where it found none (WOULD_BLOCK). */
function received(m) {
  if (m === WOULD_BLOCK) throw new Error('no message was queued');
  return m;
}

function closeAll(fds) {
  for (const fd of fds) closeQuietly(fd);
}

for (const type of TYPES) {
  test(`${type}: sendWithDescriptors / receiveMessage pass descriptors that point at the same files, close-on-exec`, (t) => {
    const dir = tmpDir(t);
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'payload');
    const [a, b] = socketpair(type);
    const f = fs.openSync(file, 'r');
    t.teardown(() => closeAll([a, b, f]));
    t.is(sendWithDescriptors(a, Buffer.from('hello'), [f, f]), 5);
    const m = received(receiveMessage(b, 100, 64));
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
  for (const type of MESSAGE_TYPES) {
    const [a, b] = socketpair(type);
    sendWithDescriptors(a, Buffer.from('0123456789'), [0]);
    const m = received(receiveMessage(b, 4, 8));
    t.is(m.length, 10, type);
    t.is(m.data.toString(), '0123', type);
    t.true(m.truncated, type);
    closeAll([a, b, ...m.fds]);
  }
});

test('an empty message with descriptors passes over seqpacket and dgram (not over stream)', (t) => {
  for (const type of MESSAGE_TYPES) {
    const [a, b] = socketpair(type);
    sendWithDescriptors(a, Buffer.alloc(0), [0, 1]);
    const m = received(receiveMessage(b, 10, 8));
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
  const m = received(receiveMessage(b, 10, 64));
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
  const m = received(receiveMessage(b, 10, 1, 1));
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

test("dgram: receiveMessage reports the sender's SCM_CREDENTIALS (SO_PASSCRED)", (t) => {
  // A socketpair end with SO_PASSCRED gets the sending process's credentials.
  const [a, b] = socketpair('dgram');
  t.teardown(() => closeAll([a, b]));
  passCredentials(b);
  sendWithDescriptors(a, Buffer.from('c'), []);
  const m = received(receiveMessage(b, 10, 0));
  t.deepEqual(m.cred, { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
  t.deepEqual(m.fds, []);
});

test('receiveMessage(fd, 0, 0): no data buffer and no descriptors kept, as peercred uses it; descriptors sent anyway are closed', (t) => {
  const [a, b] = socketpair('dgram');
  t.teardown(() => closeAll([a, b]));
  const before = openFds().length;
  sendWithDescriptors(a, Buffer.from('abc'), [0, 1, 2]);
  const m = received(receiveMessage(b, 0, 0));
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

/** Returns a file in a fresh folder holding text, and a read-only descriptor of it (closed at the test's end). */
function openedFile(t, text) {
  const file = path.join(tmpDir(t), 'data');
  fs.writeFileSync(file, text);
  const fd = fs.openSync(file, 'r');
  t.teardown(() => closeQuietly(fd));
  return { file, fd };
}

test('MessageReader, stream: plain data with no descriptors, then data with descriptors (close-on-exec, same file), reused call after call', (t) => {
  const { file, fd: f } = openedFile(t, 'through the descriptor');
  const [a, b] = socketpair('stream');
  t.teardown(() => closeAll([a, b]));
  const reader = new MessageReader(Buffer.alloc(64));
  t.is(reader.receive(b), WOULD_BLOCK);
  t.deepEqual(reader.fds, []);
  write(a, Buffer.from('plain'));
  t.is(reader.receive(b), 5);
  t.is(reader.data.subarray(0, 5).toString(), 'plain');
  t.deepEqual(reader.fds, []);
  t.false(reader.controlTruncated);
  t.is(sendWithDescriptors(a, Buffer.from('with'), [f, f]), 4);
  t.is(reader.receive(b), 4);
  t.is(reader.data.subarray(0, 4).toString(), 'with');
  const got = [...reader.fds];
  t.is(got.length, 2);
  for (const fd of got) {
    t.is(fs.readlinkSync(`/proc/self/fd/${fd}`), file);
    t.regex(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'), /^flags:\s*0*2[0-7]{6}$/m, 'O_CLOEXEC (02000000)');
  }
  t.is(fs.readFileSync(`/proc/self/fd/${got[0]}`, 'utf8'), 'through the descriptor');
  closeAll(got);
  write(a, Buffer.from('again'));
  t.is(reader.receive(b), 5);
  t.deepEqual(reader.fds, [], 'the next receive brings none');
  t.is(fdsPointingAt(file), 1);
});

test('MessageReader, stream: every byte arrives around a message with descriptors, the descriptors once', (t) => {
  const { file, fd: f } = openedFile(t, '');
  const [a, b] = socketpair('stream');
  t.teardown(() => closeAll([a, b]));
  write(a, Buffer.from('aaa'));
  sendWithDescriptors(a, Buffer.from('bbb'), [f]);
  write(a, Buffer.from('ccc'));
  const reader = new MessageReader(Buffer.alloc(64));
  let text = '';
  const fds = [];
  for (let n; (n = reader.receive(b)) !== WOULD_BLOCK; ) {
    text += reader.data.subarray(0, n).toString();
    fds.push(...reader.fds);
    if (reader.fds.length) t.true(text.endsWith('bbb'), 'a read with descriptors ends with their message');
  }
  t.is(text, 'aaabbbccc');
  t.is(fds.length, 1);
  t.is(fs.readlinkSync(`/proc/self/fd/${fds[0]}`), file);
  closeAll(fds);
});

test('MessageReader, seqpacket: MSG_TRUNC gives the real length; a message of 0 bytes may carry descriptors', (t) => {
  const { file, fd: f } = openedFile(t, '');
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b]));
  const reader = new MessageReader(Buffer.alloc(8));
  send(a, Buffer.alloc(100, 0x61));
  t.is(reader.receive(b, MSG_TRUNC), 100);
  t.is(sendWithDescriptors(a, Buffer.alloc(0), [f]), 0);
  t.is(reader.receive(b, MSG_TRUNC), 0);
  t.is(reader.fds.length, 1);
  t.is(fs.readlinkSync(`/proc/self/fd/${reader.fds[0]}`), file);
  closeAll(reader.fds);
});

test("MessageReader: MSG_CTRUNC when its room is too small; the kernel closed what did not fit, the rest is the caller's", (t) => {
  const { file, fd: f } = openedFile(t, '');
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b]));
  sendWithDescriptors(a, Buffer.from('x'), Array(40).fill(f));
  const reader = new MessageReader(Buffer.alloc(8), 1);
  t.is(reader.receive(b), 1);
  t.true(reader.controlTruncated);
  t.true(reader.fds.length >= 1 && reader.fds.length < 40, `kept ${reader.fds.length}`);
  t.is(fdsPointingAt(file), 1 + reader.fds.length);
  closeAll(reader.fds);
  // the default room (SCM_MAX_FD) takes the most one message can carry
  sendWithDescriptors(a, Buffer.from('y'), Array(253).fill(f));
  const big = new MessageReader(Buffer.alloc(8));
  t.is(big.receive(b), 1);
  t.false(big.controlTruncated);
  t.is(big.fds.length, 253);
  closeAll(big.fds);
  t.is(fdsPointingAt(file), 1);
});
