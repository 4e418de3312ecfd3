// Unit tests of src/sys/libc.ts: every prototype of the table names a function libc exports and parses; each is
// declared on its first use only; errno is what the last call left; libuv's poll functions are found in the main thread.
import test from 'ava';
import { errno, lib, uv } from '../../../src/sys/libc.ts';

test.serial('a function is declared on its first use, and only then', (t) => {
  const c = lib();
  const before = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(c, 'getgrouplist'));
  t.is(typeof before.get, 'function');
  t.is(before.value, undefined);
  t.is(typeof c.getgrouplist, 'function');
  const after = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(c, 'getgrouplist'));
  t.is(after.get, undefined);
  t.is(typeof after.value, 'function');
  t.is(c.getgrouplist, after.value); // declared once
});

test.serial('every prototype of the table names a function libc exports, and parses', (t) => {
  const c = lib();
  const names = Object.keys(c).filter((name) => name !== 'koffi');
  t.true(names.length >= 40);
  for (const name of ['getpwnam_r', 'getgrouplist', 'getpwent_r', 'lgetxattr']) t.true(names.includes(name), `${name} is not in the table`);
  const failed = [];
  for (const name of names) {
    try {
      if (typeof c[name] !== 'function') failed.push(`${name}: ${typeof c[name]}`);
    } catch (err) {
      failed.push(`${name}: ${String(err)}`);
    }
  }
  t.deepEqual(failed, []);
});

test('errno is what the last failing call left', (t) => {
  t.is(lib().close(-1), -1);
  t.is(errno(), 9); // EBADF
  t.is(lib().fcntl(-1, 1, 0), -1);
  t.is(errno(), 9);
});

test('the calls work as their prototypes say: a pointer out (socketpair), a string in (open), a size back (write)', (t) => {
  const c = lib();
  const sv = new Int32Array(2);
  t.is(c.socketpair(1, 1, 0, sv), 0); // AF_UNIX, SOCK_STREAM
  t.teardown(() => {
    for (const fd of sv) c.close(fd);
  });
  t.true(sv[0] > 2 && sv[1] > 2);
  t.is(c.write(sv[0], Buffer.from('abc'), 3), 3);
  const buf = Buffer.alloc(8);
  t.is(c.read(sv[1], buf, 8), 3);
  t.is(c.open('/nonexistent-usock/x', 0, 0), -1);
  t.is(errno(), 2); // ENOENT
  t.is(c.gettid(), process.pid); // the main thread
});

test("libuv's poll functions are found in the main thread, with the size of a poll handle", (t) => {
  const u = uv();
  if (!u) return t.fail('uv() is null in the main thread');
  t.true(u.pollSize >= 64 && u.pollSize <= 4096);
  t.is(uv(), u); // looked up once
});
