// Unit tests of src/net/procnet.ts on the real /proc: names that span lines in /proc/net/unix, and the one pass over /proc/*/fd.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProcNetUnix, readProcNetUnix, socketHolders } from '../../../src/net/procnet.ts';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { bind, listen, socket, socketpair } from '../../../src/sys/socket.ts';
import { encodeAbstractAddress, encodePathAddress } from '../../../src/sys/sockaddr.ts';
import { abstractName } from '../../helpers.mjs';

const inodeOf = (fd) => fs.statSync(`/proc/self/fd/${fd}`).ino;

test('/proc/net/unix: a path holding newlines (and a line that looks like nothing) is one entry with its bytes; an abstract name gets its 0 byte', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'us-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const name = Buffer.concat([Buffer.from(`${dir}/a\n\nb c  \xff`, 'latin1'), Buffer.from('\nend')]);
  const s = socket('dgram');
  const l = socket('stream');
  const abs = abstractName();
  t.teardown(() => [s, l].forEach(closeQuietly));
  bind(s, encodePathAddress(name));
  bind(l, encodeAbstractAddress(abs));
  listen(l, 1);
  const text = fs.readFileSync('/proc/net/unix', 'latin1');
  const entries = parseProcNetUnix(text);
  const e = entries.find((x) => x.inode === inodeOf(s));
  t.like(e, { type: 'dgram', state: 'unconnected', listening: false });
  t.deepEqual(e.name, name);
  const el = entries.find((x) => x.inode === inodeOf(l));
  t.like(el, { type: 'stream', listening: true });
  t.deepEqual(el.name, Buffer.concat([Buffer.from([0]), Buffer.from(abs)]));
  // Every line of the text is an entry's own or part of a name: as many entries as inodes.
  t.is(entries.length, new Set(entries.map((x) => x.inode)).size);
  t.true(readProcNetUnix().some((x) => x.inode === inodeOf(s)));
});

test('socketHolders: our own sockets are held by our pid, in one map', (t) => {
  const [a, b] = socketpair('stream');
  t.teardown(() => [a, b].forEach(closeQuietly));
  const { holders } = socketHolders();
  t.deepEqual(holders.get(inodeOf(a)), [process.pid]);
  t.deepEqual(holders.get(inodeOf(b)), [process.pid]);
});
