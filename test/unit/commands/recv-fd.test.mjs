// Unit tests of recv-fd's verdict on a received message (assessMessage): no descriptors, extras beyond --max-fds.
import test from 'ava';
import { receiveMessage, sendWithDescriptors } from '../../../src/sys/msg.ts';
import { closeQuietly } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { assessMessage } from '../../../src/commands/recv-fd/run.ts';
import { EXIT, exitCodeFor } from '../../../src/cli/exit.ts';

function closeAll(fds) {
  for (const fd of fds) closeQuietly(fd);
}

test('assessMessage: no descriptors is EX_DATAERR (65); extras beyond --max-fds are a warning, not a failure', (t) => {
  const [a, b] = socketpair('seqpacket');
  t.teardown(() => closeAll([a, b]));
  sendWithDescriptors(a, Buffer.from('plain'), []); // plain data, no descriptors
  const plain = /** @type {import('../../../src/sys/msg.ts').ReceivedMessage} */ (receiveMessage(b, 10, 4));
  const v = assessMessage(plain, 4);
  t.is(exitCodeFor(v.error), 65);
  t.regex(v.error.message, /received a message of 5 bytes without descriptors/);
  t.is(EXIT.DATAERR, 65);
  sendWithDescriptors(a, Buffer.from('x'), [0, 0, 0]);
  const many = /** @type {import('../../../src/sys/msg.ts').ReceivedMessage} */ (receiveMessage(b, 10, 1));
  const w = assessMessage(many, 1);
  t.is(w.error, null);
  t.is(w.status, EXIT.OK);
  t.deepEqual(
    w.warnings.map((x) => x.text),
    ['closed 2 descriptors beyond --max-fds 1'],
  );
  closeAll(many.fds);
});
