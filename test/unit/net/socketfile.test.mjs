// Unit tests of src/net/socketfile.ts: the remover of a created socket file unlinks it only while the path is still that
// file, and leaves nothing behind (it renames the file aside to check it, so that a file put there meanwhile is never deleted).
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { guardSocketFile } from '../../../src/net/socketfile.ts';
import { tmpDir } from '../../helpers.mjs';

/** Creates a socket file at p (a listener closed at once, the file left behind) and returns its identity. */
async function socketFile(p) {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(p, () => resolve(undefined)));
  const st = fs.lstatSync(p);
  server.unref();
  return { dev: st.dev, ino: st.ino };
}

test('remove: the socket file usock created is unlinked, nothing left beside it', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 's');
  const guard = guardSocketFile(p, await socketFile(p));
  guard.remove();
  guard.unregister();
  t.deepEqual(fs.readdirSync(dir), []);
});

test('remove: a file that replaced it (another socket, a regular file) stays, nothing left beside it', async (t) => {
  const dir = tmpDir(t);
  const p = path.join(dir, 's');
  const id = await socketFile(p);
  fs.rmSync(p);
  await socketFile(p); // another socket at the same path
  const theirs = fs.lstatSync(p).ino;
  const guard = guardSocketFile(p, id);
  guard.remove();
  t.is(fs.lstatSync(p).ino, theirs);
  fs.rmSync(p);
  fs.writeFileSync(p, 'replacement\n');
  guard.remove();
  guard.unregister();
  t.is(fs.readFileSync(p, 'utf8'), 'replacement\n');
  t.deepEqual(fs.readdirSync(dir), ['s']);
});
