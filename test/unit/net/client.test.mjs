// Unit tests of src/net/client.ts against real listeners: connectTo (every type, --bind, dgram autobind, a full backlog
// waited out, --retry, what each failure throws), detectType, unreachable and connectAndRelease.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { parseNamedAddress } from '../../../src/net/address.ts';
import { connectAndRelease, connectTo, detectType, unreachable } from '../../../src/net/client.ts';
import { closeQuietly, read, WOULD_BLOCK, write } from '../../../src/sys/fd.ts';
import { accept, bind, connect, getpeername, getsockname, listen, recvfrom, socket } from '../../../src/sys/socket.ts';
import { encodePathAddress } from '../../../src/sys/sockaddr.ts';
import { abstractName, longDir, tmpDir, waitUntil } from '../../helpers.mjs';

/** @typedef {Error & { kind?: string; hint?: string; code?: string }} Failure an error as usock throws it */

/** @typedef {import('ava').ExecutionContext} Context */
/** @typedef {import('../../../src/sys/socket.ts').SocketType} SocketType */

/**
 * Returns a socket of type bound at file (listening unless dgram; backlog as given), closed when t ends.
 * @param {Context} t
 * @param {string} file
 * @param {SocketType} [type]
 * @param {number} [backlog]
 */
function server(t, file, type = 'stream', backlog = 16) {
  const fd = socket(type);
  t.teardown(() => closeQuietly(fd));
  const address = parseNamedAddress(file);
  try {
    bind(fd, address.sockaddr, address.text);
  } finally {
    address.release();
  }
  if (type !== 'dgram') listen(fd, backlog);
  return fd;
}

/**
 * Closes fd when t ends; returns it.
 * @param {Context} t
 * @param {number} fd
 */
function owned(t, fd) {
  t.teardown(() => closeQuietly(fd));
  return fd;
}

/** Returns the next connection waiting on the listener fd, closed when t ends. */
async function accepted(t, fd) {
  /** @type {number | undefined} */
  let conn;
  await waitUntil(
    () => {
      const r = accept(fd);
      if (r !== WOULD_BLOCK) conn = r;
      return conn !== undefined;
    },
    10_000,
    'a connection',
  );
  return owned(t, /** @type {number} */ (conn));
}

/** Returns what fd reads next (waiting for it), as text. */
async function readText(fd) {
  const buf = Buffer.alloc(1024);
  const { n } = await waitUntil(
    () => {
      const got = read(fd, buf);
      return got === WOULD_BLOCK ? null : { n: got };
    },
    10_000,
    'data',
  );
  return buf.toString('utf8', 0, n);
}

/** The number of descriptors this process has open. */
const openCount = () => fs.readdirSync('/proc/self/fd').length;

for (const type of /** @type {SocketType[]} */ (['stream', 'seqpacket'])) {
  test(`connectTo (${type}): the descriptor reaches the listener, and data flows both ways`, async (t) => {
    const file = path.join(tmpDir(t), 's.sock');
    const srv = server(t, file, type);
    const { fd, bound } = await connectTo(parseNamedAddress(file), type);
    owned(t, fd);
    t.is(bound, undefined);
    const conn = await accepted(t, srv);
    write(fd, Buffer.from('ping'));
    t.is(await readText(conn), 'ping');
    write(conn, Buffer.from('pong'));
    t.is(await readText(fd), 'pong');
  });
}

test('connectTo (dgram) autobinds, so that the server sees an address to reply to', async (t) => {
  const file = path.join(tmpDir(t), 'd.sock');
  const srv = server(t, file, 'dgram');
  const { fd } = await connectTo(parseNamedAddress(file), 'dgram');
  owned(t, fd);
  const name = getsockname(fd);
  t.regex(name, /^@[0-9a-f]{5}$/, 'Linux autobind: an abstract name of five hex digits');
  write(fd, Buffer.from('hello'));
  const buf = Buffer.alloc(64);
  const from = Buffer.alloc(110);
  const fromLen = new Uint32Array([from.length]);
  const { n } = await waitUntil(
    () => {
      const got = recvfrom(srv, buf, 0, from, fromLen);
      return got === WOULD_BLOCK ? null : { n: got };
    },
    10_000,
    'a datagram',
  );
  t.is(buf.toString('utf8', 0, n), 'hello');
  t.is(from.toString('latin1', 3, fromLen[0]), name.slice(1), 'the sender address is the autobound name');
});

for (const type of /** @type {SocketType[]} */ (['stream', 'seqpacket', 'dgram'])) {
  test(`connectTo (${type}) with bindTo: the peer sees that address; closing the bound socket removes its file`, async (t) => {
    const dir = tmpDir(t);
    const file = path.join(dir, 's.sock');
    const mine = path.join(dir, 'client.sock');
    const srv = server(t, file, type);
    const { fd, bound } = await connectTo(parseNamedAddress(file), type, parseNamedAddress(mine));
    t.truthy(bound);
    t.is(bound?.fd, fd);
    t.true(fs.lstatSync(mine).isSocket());
    if (type === 'dgram') {
      t.is(getpeername(fd), file);
      t.is(getsockname(fd), mine);
    } else {
      t.is(getpeername(await accepted(t, srv)), mine);
    }
    bound?.close();
    t.false(fs.existsSync(mine));
  });
}

test.serial('connectTo to a path where nothing is: ENOENT (69), and no descriptor left open', async (t) => {
  const missing = path.join(tmpDir(t), 'missing.sock');
  const before = openCount();
  const err = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(missing), 'stream')));
  t.is(err.code, 'ENOENT');
  t.is(err.message, `connect ${missing}: No such file or directory (ENOENT)`);
  t.is(openCount(), before);
});

test.serial('connectTo with bindTo that fails to connect closes the bound socket and removes its file', async (t) => {
  const dir = tmpDir(t);
  const mine = path.join(dir, 'client.sock');
  const before = openCount();
  await t.throwsAsync(connectTo(parseNamedAddress(path.join(dir, 'missing.sock')), 'stream', parseNamedAddress(mine)), { code: 'ENOENT' });
  t.false(fs.existsSync(mine));
  t.is(openCount(), before);
});

test('connectTo a stale socket file (nothing listens): ECONNREFUSED', async (t) => {
  const file = path.join(tmpDir(t), 'stale.sock');
  const gone = socket('stream');
  bind(gone, encodePathAddress(file), file);
  listen(gone);
  closeQuietly(gone);
  t.true(fs.lstatSync(file).isSocket());
  const err = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream')));
  t.is(err.code, 'ECONNREFUSED');
});

test('connectTo a file that is not a socket: UNAVAILABLE (69) naming its kind, never the stale-socket refusal', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, 'x');
  const err = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream')));
  t.is(err.kind, 'UNAVAILABLE');
  t.is(err.message, `connect ${file}: not a socket (regular file)`);
  const dirErr = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(dir), 'stream')));
  t.is(dirErr.message, `connect ${dir}: not a socket (directory)`);
});

test('connectTo a socket of another type: EPROTOTYPE', async (t) => {
  const file = path.join(tmpDir(t), 'sp.sock');
  server(t, file, 'seqpacket');
  const err = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream')));
  t.is(err.code, 'EPROTOTYPE');
});

test('--retry: an address that appears after the first attempt is connected to', async (t) => {
  const file = path.join(tmpDir(t), 'later.sock');
  const connecting = connectTo(parseNamedAddress(file), 'stream', undefined, { retry: true, seconds: 60 });
  // connectTo's first attempt (ENOENT) is made before it returns; the listener comes after it
  t.false(fs.existsSync(file));
  const srv = server(t, file);
  const { fd } = await connecting;
  owned(t, fd);
  t.true(fs.lstatSync(file).isSocket());
  await accepted(t, srv);
});

test('--retry: a stale socket that comes alive is connected to (ECONNREFUSED is tried again)', async (t) => {
  const file = path.join(tmpDir(t), 'revived.sock');
  const stale = socket('stream');
  bind(stale, encodePathAddress(file), file);
  t.teardown(() => closeQuietly(stale));
  const connecting = connectTo(parseNamedAddress(file), 'stream', undefined, { retry: true, seconds: 60 });
  listen(stale);
  const { fd } = await connecting;
  owned(t, fd);
  t.is(getpeername(await accepted(t, stale)), '', 'an unbound client');
});

test('--retry: once the time is up, TEMPFAIL (75) with the last reason', async (t) => {
  const file = path.join(tmpDir(t), 'never.sock');
  const err = /** @type {Failure} */ (
    await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream', undefined, { retry: true, seconds: 0.05 }))
  );
  t.is(err.kind, 'TEMPFAIL');
  t.is(err.message, `connect ${file}: timed out after 0.05 s (last: No such file or directory)`);
});

test('without --retry a missing address fails at once, whatever the time allowed', async (t) => {
  const file = path.join(tmpDir(t), 'never.sock');
  await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream', undefined, { seconds: 60 }), { code: 'ENOENT' });
});

/**
 * Returns a listener at file (backlog 0, never accepting) whose backlog is full, and the clients that fill it.
 * @param {Context} t
 * @param {string} file
 */
function fullBacklog(t, file) {
  const srv = server(t, file, 'stream', 0);
  for (let i = 0; i < 64; i++) {
    const c = owned(t, socket('stream'));
    if (connect(c, encodePathAddress(file), file) === WOULD_BLOCK) return srv;
  }
  throw new Error('the backlog never filled');
}

test('a full backlog is waited out until the time allowed: TEMPFAIL naming it', async (t) => {
  const file = path.join(tmpDir(t), 'busy.sock');
  fullBacklog(t, file);
  const err = /** @type {Failure} */ (await t.throwsAsync(connectTo(parseNamedAddress(file), 'stream', undefined, { seconds: 0.05 })));
  t.is(err.kind, 'TEMPFAIL');
  t.is(err.message, `connect ${file}: timed out after 0.05 s (last: the listener's backlog is full)`);
});

test('a full backlog is waited out: once the listener accepts, the connect completes', async (t) => {
  const file = path.join(tmpDir(t), 'busy.sock');
  const srv = fullBacklog(t, file);
  let done = false;
  const connecting = connectTo(parseNamedAddress(file), 'stream').then((c) => {
    done = true;
    return c;
  });
  t.false(done);
  // accept every queued client until ours gets through
  await waitUntil(
    () => {
      const conn = accept(srv);
      if (conn !== WOULD_BLOCK) closeQuietly(conn);
      return done;
    },
    30_000,
    'the waiting connect',
  );
  owned(t, (await connecting).fd);
});

test('detectType finds the type of the socket at an address', async (t) => {
  const dir = tmpDir(t);
  for (const type of /** @type {SocketType[]} */ (['stream', 'seqpacket', 'dgram'])) {
    const file = path.join(dir, `${type}.sock`);
    server(t, file, type);
    t.is(await detectType(parseNamedAddress(file)), type);
  }
});

test('detectType throws the stream error when nothing is there', async (t) => {
  await t.throwsAsync(detectType(parseNamedAddress(path.join(tmpDir(t), 'none.sock'))), { code: 'ENOENT' });
});

test('unreachable: what a look tells without connecting', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, '');
  const sock = path.join(dir, 'live.sock');
  server(t, sock);
  t.is(unreachable(parseNamedAddress(path.join(dir, 'missing'))), 'does not exist');
  t.is(unreachable(parseNamedAddress(path.join(file, 'below'))), 'does not exist', 'ENOTDIR');
  t.is(unreachable(parseNamedAddress(file)), 'not a socket (regular file)');
  t.is(unreachable(parseNamedAddress(dir)), 'not a socket (directory)');
  t.is(unreachable(parseNamedAddress('/dev/null')), 'not a socket (character device)');
  t.is(unreachable(parseNamedAddress(sock)), null);
  fs.symlinkSync(sock, path.join(dir, 'link'));
  t.is(unreachable(parseNamedAddress(path.join(dir, 'link'))), null, 'a symbolic link is followed');
});

test('unreachable: an abstract name is looked up in /proc/net/unix', (t) => {
  const name = abstractName();
  t.is(unreachable(parseNamedAddress(`@${name}`)), 'does not exist');
  const fd = owned(t, socket('stream'));
  const address = parseNamedAddress(`@${name}`);
  bind(fd, address.sockaddr, address.text);
  listen(fd);
  t.is(unreachable(parseNamedAddress(`@${name}`)), null);
});

test.serial('connectAndRelease returns the connected descriptor and releases the address (a long path its directory)', async (t) => {
  const dir = longDir(tmpDir(t), 200);
  const srv = server(t, path.join(dir, 'long.sock'));
  const before = openCount();
  owned(t, await connectAndRelease(parseNamedAddress(path.join(dir, 'long.sock')), 'stream'));
  t.is(openCount(), before + 1, 'only the connection itself');
  await t.throwsAsync(connectAndRelease(parseNamedAddress(path.join(dir, 'none.sock')), 'stream'), { code: 'ENOENT' });
  t.is(openCount(), before + 1, 'a failure releases it too');
  await accepted(t, srv);
});
