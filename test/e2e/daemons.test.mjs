// usock in front of real daemons from Debian's packages, started by the test on Unix sockets in its own temporary
// folder and stopped by pid: redis-server (a 10,000-command pipeline, PING with -w) and nginx (a 16 MiB file,
// and its close ending usock while stdin is still open). .ci/run installs both.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { usock, runUsock, show } from '../helpers.mjs';
import { HAS_NGINX, HAS_REDIS, httpBody, startNginx, startRedis } from '../daemons.mjs';

const REDIS = HAS_REDIS;
const NGINX = HAS_NGINX;

(REDIS ? test : test.skip)(
  `redis: a pipeline of 10,000 commands through connect --no-shutdown -w 2 gets every reply${REDIS ? '' : ' [skipped: redis-server is not installed]'}`,
  async (t) => {
    const sock = await startRedis(t);
    const commands = Array.from({ length: 10000 }, (_, i) => `SET key${i} ${'v'.repeat(100)}${i}\r\n`).join('');
    const r = await runUsock(['connect', '--no-shutdown', '-w', '2', sock], { t, input: commands });
    t.is(r.code, 0, show(r));
    t.is(
      r.stdout
        .toString()
        .split('\r\n')
        .filter((l) => l === '+OK').length,
      10000,
    );
  },
);

(REDIS ? test : test.skip)(
  `redis: echo PING | usock connect -w 1 prints +PONG and exits 0 (it ends, it does not hang)${REDIS ? '' : ' [skipped: redis-server is not installed]'}`,
  async (t) => {
    const sock = await startRedis(t);
    // Whether redis's close or -w 1 ends it, usock must end: a hang is killed at the timeout and fails here.
    const r = await runUsock(['connect', '-w', '1', sock], { t, input: 'PING\r\n', timeout: 60_000 });
    t.false(r.timedOut, `usock did not end: ${show(r)}`);
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), '+PONG\r\n');
  },
);

// At stdin's EOF usock half-closes by default; nginx takes that as the client gone and cuts the body short. --no-shutdown keeps it whole.
(NGINX ? test : test.skip)(
  `nginx: a 16 MiB file over HTTP arrives whole through connect --no-shutdown${NGINX ? '' : ' [skipped: nginx is not installed]'}`,
  async (t) => {
    const { sock, dir } = await startNginx(t);
    const data = crypto.randomBytes(16 * 1024 * 1024);
    fs.writeFileSync(path.join(dir, 'www', 'big'), data);
    const r = await runUsock(['connect', '--no-shutdown', sock], { t, input: 'GET /big HTTP/1.0\r\nHost: x\r\n\r\n' });
    t.is(r.code, 0, show(r));
    t.true(r.stdout.subarray(0, 15).toString().startsWith('HTTP/1.1 200'), r.stdout.subarray(0, 100).toString());
    t.true(httpBody(r.stdout).equals(data), `body of ${httpBody(r.stdout).length} bytes`);
  },
);

(NGINX ? test : test.skip)(
  `nginx: its answer and close end usock while usock's stdin is still open${NGINX ? '' : ' [skipped: nginx is not installed]'}`,
  async (t) => {
    const { sock, dir } = await startNginx(t);
    fs.writeFileSync(path.join(dir, 'www', 'hello'), 'hello\n');
    const c = usock(['connect', sock], { t });
    c.write('GET /hello HTTP/1.0\r\nHost: x\r\n\r\n'); // and stdin stays open, as in a terminal
    const r = await c.exited;
    t.is(r.code, 0, show(r));
    t.is(httpBody(r.stdout).toString(), 'hello\n');
  },
);
