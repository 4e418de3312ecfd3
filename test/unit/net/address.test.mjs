// Unit tests of src/net/address.ts: parseNamedAddress's abstract names, short and long paths (long ones through
// /proc/self/fd/N/BASENAME), byte names, and the usage errors, each address bound by a real socket.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseAddress, parseNamedAddress } from '../../../src/net/address.ts';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { SUN_PATH_MAX } from '../../../src/sys/platform/linux.ts';
import { bind, listen, socket } from '../../../src/sys/socket.ts';
import { abstractName, longDir, tmpDir, unixSockets } from '../../helpers.mjs';

/** @typedef {Error & { kind?: string; hint?: string; code?: string }} Failure an error as usock throws it */

/**
 * Binds a listening stream socket to address (released afterwards) and returns its descriptor, closed when t ends.
 * @param {import('ava').ExecutionContext} t
 * @param {import('../../../src/net/address.ts').NamedAddress} address
 */
function listenAt(t, address) {
  const fd = socket('stream');
  t.teardown(() => closeQuietly(fd));
  try {
    bind(fd, address.sockaddr, address.text);
    listen(fd);
  } finally {
    address.release();
  }
  return fd;
}

/**
 * Resolves when a Node client connects to where (a path, or '\0name' for an abstract name); rejects on its error.
 * @param {string} where
 */
function nodeConnects(where) {
  return new Promise((resolve, reject) => {
    const client = net.connect(where, () => {
      client.destroy();
      resolve(true);
    });
    client.on('error', reject);
  });
}

/**
 * True when the kernel lists a listening socket bound at name (a path, or @name for an abstract one) in /proc/net/unix.
 * @param {string} name
 */
function listedAt(name) {
  return unixSockets().some((s) => s.path === name && (s.flags & 0x10000) !== 0);
}

/** Returns what descriptor fd of this process points at, or null when it is not open. */
function fdTarget(fd) {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

test('@name is an abstract address: no file, the kernel lists the socket under the name', (t) => {
  const name = abstractName();
  const address = parseNamedAddress(`@${name}`);
  t.is(address.kind, 'abstract');
  t.is(address.text, `@${name}`);
  t.is(address.path, undefined);
  listenAt(t, address);
  t.true(listedAt(`@${name}`));
});

test('an abstract name of up to sun_path less its leading NUL fits; one byte more is a usage error (64)', (t) => {
  const name = abstractName();
  const longest = name + 'n'.repeat(SUN_PATH_MAX - name.length);
  listenAt(t, parseNamedAddress(`@${longest}`));
  t.true(listedAt(`@${longest}`));
  const err = /** @type {Failure} */ (t.throws(() => parseNamedAddress(`@${longest}n`)));
  t.is(err.kind, 'USAGE');
  t.is(err.message, `abstract name too long (${SUN_PATH_MAX + 1} bytes, max ${SUN_PATH_MAX})`);
});

test('a path is bound where it says: the socket file appears there and a client connects', async (t) => {
  const file = path.join(tmpDir(t), 'app.sock');
  const address = parseNamedAddress(file);
  t.is(address.kind, 'path');
  t.is(address.text, file);
  t.is(address.path, file);
  listenAt(t, address);
  t.true(fs.lstatSync(file).isSocket());
  t.true(await nodeConnects(file));
});

test('an empty address is a usage error', (t) => {
  const err = /** @type {Failure} */ (t.throws(() => parseNamedAddress('')));
  t.is(err.kind, 'USAGE');
  t.is(err.message, 'empty address');
  t.throws(() => parseNamedAddress(Buffer.alloc(0)), { message: 'empty address' });
});

test('a path of exactly sun_path bytes is bound directly; one byte longer goes through its directory', (t) => {
  const base = tmpDir(t);
  const dir = path.join(base, 'd'.repeat(SUN_PATH_MAX - base.length - '/a.sock'.length - 1));
  fs.mkdirSync(dir);
  const exact = path.join(dir, 'a.sock');
  t.is(Buffer.byteLength(exact), SUN_PATH_MAX);
  const direct = parseNamedAddress(exact);
  t.false(direct.sockaddr.includes('/proc/self/fd/'));
  listenAt(t, direct);
  t.true(fs.lstatSync(exact).isSocket());

  const longer = `${exact}y`;
  const via = parseNamedAddress(longer);
  t.is(via.path, longer);
  t.true(via.sockaddr.includes('/proc/self/fd/'));
  listenAt(t, via);
  t.true(fs.lstatSync(longer).isSocket(), 'the file is at the long path itself');
});

test.serial('a long path holds a descriptor of its directory until release, which is safe to call twice', (t) => {
  const dir = longDir(tmpDir(t), 300);
  const file = path.join(dir, 'long.sock');
  const address = parseNamedAddress(file);
  t.is(address.kind, 'path');
  t.is(address.text, file);
  const [, fd] = /\/proc\/self\/fd\/(\d+)\//.exec(address.sockaddr.toString('latin1')) ?? [];
  t.truthy(fd);
  t.is(fdTarget(Number(fd)), dir, 'the descriptor is the directory');
  const sock = socket('stream');
  t.teardown(() => closeQuietly(sock));
  bind(sock, address.sockaddr, address.text);
  listen(sock);
  address.release();
  t.not(fdTarget(Number(fd)), dir, 'released');
  address.release();
  t.true(fs.lstatSync(file).isSocket());
});

test('a relative long path is taken from the current directory', (t) => {
  const dir = longDir(tmpDir(t), 200);
  const relative = path.relative(process.cwd(), path.join(dir, 'rel.sock'));
  t.true(Buffer.byteLength(relative) > SUN_PATH_MAX);
  const address = parseNamedAddress(relative);
  t.is(address.text, relative);
  listenAt(t, address);
  t.true(fs.lstatSync(path.join(dir, 'rel.sock')).isSocket());
});

test.serial('a long path whose last component alone cannot fit is a usage error with a hint, and opens nothing', (t) => {
  const dir = tmpDir(t);
  const before = fs.readdirSync('/proc/self/fd').length;
  const err = /** @type {Failure} */ (t.throws(() => parseNamedAddress(path.join(dir, 'n'.repeat(100)))));
  t.is(err.kind, 'USAGE');
  t.regex(err.message, /^socket path too long \(\d+ bytes, max 107\)$/);
  t.is(err.hint, 'even its last component does not fit sun_path through /proc/self/fd/N/');
  t.is(fs.readdirSync('/proc/self/fd').length, before);
});

test('a long path in a directory that does not exist fails with the errno of opening it', (t) => {
  const missing = path.join(tmpDir(t), 'no-such-dir'.repeat(12), 'x.sock');
  const err = /** @type {Failure} */ (t.throws(() => parseNamedAddress(missing)));
  t.is(err.code, 'ENOENT');
});

test('a name given as bytes that are not UTF-8 is bound byte for byte and shown with \\xNN escapes', (t) => {
  const dir = tmpDir(t);
  const bytes = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.sock')]);
  const address = parseNamedAddress(bytes);
  t.is(address.text, `${dir}/caf\\xe9.sock`);
  t.true(Buffer.isBuffer(address.path) && address.path.equals(bytes));
  listenAt(t, address);
  const names = fs.readdirSync(dir, { encoding: 'buffer' });
  t.deepEqual(
    names.map((n) => n.toString('hex')),
    [Buffer.from([0x63, 0x61, 0x66, 0xe9, ...Buffer.from('.sock')]).toString('hex')],
  );
});

test('bytes that are not UTF-8 must fit sun_path: a longer name is a usage error saying so', (t) => {
  const bytes = Buffer.concat([Buffer.from(`${tmpDir(t)}/`), Buffer.alloc(SUN_PATH_MAX, 0xe9)]);
  const err = /** @type {Failure} */ (t.throws(() => parseNamedAddress(bytes)));
  t.is(err.kind, 'USAGE');
  t.is(err.hint, 'a path that is not UTF-8 must fit sun_path');
});

test('an abstract name given as bytes keeps them: @ then the raw name', (t) => {
  const name = abstractName();
  const address = parseNamedAddress(Buffer.from(`@${name}`));
  t.is(address.kind, 'abstract');
  listenAt(t, address);
  t.true(listedAt(`@${name}`));
});

test('parseAddress: a path or an @name is the named address parseNamedAddress gives; fd:N names an inherited socket', (t) => {
  const file = path.join(tmpDir(t), 'p.sock');
  t.like(parseAddress(file), { kind: 'path', text: file, path: file });
  t.like(parseAddress('@x'), { kind: 'abstract', text: '@x' });
  t.like(parseAddress('fd:3'), { kind: 'fd', descriptor: 3 });
  t.like(parseNamedAddress('fd:3'), { kind: 'path', path: 'fd:3' }, 'never an inherited socket');
});
