// Unit tests of src/sys/cmsg.ts: the control-buffer layout (checked against Python's CMSG_*), encodeRights, parseControl.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cmsgLen, cmsgSpace, controlSpace, encodeRights, parseControl } from '../../../src/sys/cmsg.ts';

test("CMSG_LEN and CMSG_SPACE agree with Python's socket.CMSG_LEN / CMSG_SPACE (64-bit layout)", (t) => {
  const ns = [0, 1, 2, 3, 7, 64, 253];
  const r = spawnSync(
    'python3',
    [
      '-c',
      `import socket; print(' '.join(f'{socket.CMSG_LEN(4*n)},{socket.CMSG_SPACE(4*n)}' for n in [${ns}])); print(socket.CMSG_SPACE(12))`,
    ],
    { encoding: 'utf8' },
  );
  t.is(r.status, 0, r.stderr);
  const [pairs, ucred] = r.stdout.trim().split('\n');
  t.deepEqual(
    pairs.split(' '),
    ns.map((n) => `${cmsgLen(4 * n)},${cmsgSpace(4 * n)}`),
  );
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
