// Unit tests of the descriptor descriptions (fdinfo): openFlagNames and describeDescriptor on real descriptors.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { describeDescriptor, openFlagNames } from '../../../src/proc/fdinfo.ts';
import { tmpDir, openFds } from '../../helpers.mjs';

function closeAll(fds) {
  for (const fd of fds) closeQuietly(fd);
}

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
  const anon = openFds()
    .map((fd) => {
      try {
        return describeDescriptor(fd);
      } catch {
        return null;
      }
    })
    .filter((x) => x && x.target.startsWith('anon_inode:'));
  t.true(anon.length > 0);
  t.true(
    anon.some((x) => x.kind === 'epoll' || x.kind === 'eventfd'),
    JSON.stringify(anon),
  );
});
