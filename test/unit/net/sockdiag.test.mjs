// Unit tests of src/net/sockdiag.ts: the request's bytes, and a real dump of the kernel (sockets this test opens) decoded.
import test from 'ava';
import fs from 'node:fs';
import { decodeUnixDiagReplies, dumpUnixDiag, encodeUnixDiagRequest } from '../../../src/net/sockdiag.ts';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { bind, listen, socket, socketpair } from '../../../src/sys/socket.ts';
import { encodeAbstractAddress } from '../../../src/sys/sockaddr.ts';
import { abstractName } from '../../helpers.mjs';

/** Returns the inode of the socket behind our own descriptor fd. */
const inodeOf = (fd) => fs.statSync(`/proc/self/fd/${fd}`).ino;

test('the request: nlmsghdr (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP) and unix_diag_req (AF_UNIX, all states, name and peer)', (t) => {
  const req = encodeUnixDiagRequest(0x01020304);
  t.is(req.length, 40);
  t.deepEqual([...req.subarray(0, 16)], [40, 0, 0, 0, 20, 0, 0x01, 0x03, 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0]);
  t.deepEqual(
    [...req.subarray(16)],
    [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  );
});

test('a real dump: both ends of a socketpair have each other as peer; a listener has its abstract name and no peer', (t) => {
  const [a, b] = socketpair('stream');
  const name = abstractName();
  const l = socket('seqpacket');
  t.teardown(() => [a, b, l].forEach(closeQuietly));
  bind(l, encodeAbstractAddress(name));
  listen(l, 4);
  const dump = dumpUnixDiag();
  const ea = dump.get(inodeOf(a));
  const eb = dump.get(inodeOf(b));
  t.truthy(ea);
  t.truthy(eb);
  t.like(ea, { type: 'stream', state: 'established', name: null, peer: inodeOf(b) });
  t.like(eb, { type: 'stream', state: 'established', name: null, peer: inodeOf(a) });
  const el = dump.get(inodeOf(l));
  t.like(el, { type: 'seqpacket', state: 'listen', peer: null });
  t.deepEqual(el.name, Buffer.concat([Buffer.from([0]), Buffer.from(name)]));
});

/** Returns one netlink message: header (type, seq) and body, padded to 4 bytes. */
function nlmsg(type, seq, body) {
  const len = 16 + body.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt32LE(seq, 8);
  body.copy(buf, 16);
  return buf;
}

test('decoding: a name attribute with odd length is padded, other sequence numbers are skipped, NLMSG_DONE ends, NLMSG_ERROR throws', (t) => {
  const msg = Buffer.alloc(16);
  msg.writeUInt8(1, 0); // family
  msg.writeUInt8(2, 1); // dgram
  msg.writeUInt8(7, 2); // close
  msg.writeUInt32LE(4242, 4);
  const nameAttr = Buffer.alloc(12);
  nameAttr.writeUInt16LE(4 + 5, 0); // "/a\nb\xff": 5 bytes, padded to 8
  nameAttr.writeUInt16LE(0, 2);
  Buffer.from([0x2f, 0x61, 0x0a, 0x62, 0xff]).copy(nameAttr, 4);
  const peerAttr = Buffer.alloc(8);
  peerAttr.writeUInt16LE(8, 0);
  peerAttr.writeUInt16LE(2, 2);
  peerAttr.writeUInt32LE(77, 4);
  const body = Buffer.concat([msg, nameAttr, peerAttr]);
  const chunk = decodeUnixDiagReplies(Buffer.concat([nlmsg(20, 9, body), nlmsg(20, 8, body), nlmsg(3, 9, Buffer.alloc(4))]), 9);
  t.true(chunk.done);
  t.is(chunk.entries.length, 1);
  t.deepEqual(chunk.entries[0], {
    inode: 4242,
    type: 'dgram',
    state: 'close',
    name: Buffer.from([0x2f, 0x61, 0x0a, 0x62, 0xff]),
    peer: 77,
  });
  const err = Buffer.alloc(20);
  err.writeInt32LE(-13, 0); // EACCES
  t.throws(() => decodeUnixDiagReplies(nlmsg(2, 9, err), 9), { message: /sock_diag: Permission denied \(EACCES\)/ });
  t.throws(() => decodeUnixDiagReplies(Buffer.from([99, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), { message: /malformed/ });
});
