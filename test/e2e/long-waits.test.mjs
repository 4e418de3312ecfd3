// Waits longer than one Node timer holds (2^31 ms, about 24.8 days): `--wait 3000000` (35 days) must wait, not end after 1 ms.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { usock, abstractName, waitListening, endedBy, show, sleep } from '../helpers.mjs';

test('connect -t dgram --wait 3000000 (35 days) keeps waiting for replies; a signal still ends it', async (t) => {
  const name = '@' + abstractName();
  usock(['echo-server', '-q', '-t', 'dgram', name], { t });
  await waitListening(name, 'dgram');
  const c = usock(['connect', '-t', 'dgram', '--wait', '3000000', name], { t });
  c.end('ping\n');
  await c.waitStdout('ping\n');
  await sleep(1000); // the overflowed timer fired after 1 ms: a second is plenty (a loaded machine can only hide it)
  t.false(c.done, `usock ended within a second of a 35-day wait: stderr=${JSON.stringify(c.errText())}`);
  c.kill('SIGTERM');
  const r = await c.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.is(r.stderr.toString(), '', 'no TimeoutOverflowWarning or other noise');
});
