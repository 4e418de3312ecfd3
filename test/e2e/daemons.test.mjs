// usock in front of real daemons from Debian's packages, started by the test on Unix sockets in its own temporary
// folder and stopped by pid: redis-server (a 10,000-command pipeline, PING with -w) and nginx (a 16 MiB file,
// and its close ending usock while stdin is still open). .ci/run installs both.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { usock, runUsock, startProcess, tmpDir, waitForSocketFile, hasCommand, show } from '../helpers.mjs';

const REDIS = hasCommand('redis-server');
const NGINX = fs.existsSync('/usr/sbin/nginx') || hasCommand('nginx');

/** Starts redis-server on DIR/redis.sock only (no TCP port, nothing saved); resolves with its socket path. */
async function startRedis(t) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'redis.sock');
  const srv = startProcess('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], { stdio: 'ignore' });
  t.teardown(async () => {
    srv.kill('SIGTERM');
    await srv.exited;
  });
  await waitForSocketFile(sock);
  return sock;
}

(REDIS ? test : test.skip)(`redis: a pipeline of 10,000 commands through connect --no-shutdown -w 2 gets every reply${REDIS ? '' : ' [skipped: redis-server is not installed]'}`, async (t) => {
  const sock = await startRedis(t);
  const commands = Array.from({ length: 10000 }, (_, i) => `SET key${i} ${'v'.repeat(100)}${i}\r\n`).join('');
  const r = await runUsock(['connect', '--no-shutdown', '-w', '2', sock], { t, input: commands });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString().split('\r\n').filter((l) => l === '+OK').length, 10000);
});

(REDIS ? test : test.skip)(`redis: echo PING | usock connect -w 1 prints +PONG and exits 0 (it ends, it does not hang)${REDIS ? '' : ' [skipped: redis-server is not installed]'}`, async (t) => {
  const sock = await startRedis(t);
  // Whether redis's close or -w 1 ends it, usock must end: a hang is killed at the timeout and fails here.
  const r = await runUsock(['connect', '-w', '1', sock], { t, input: 'PING\r\n', timeout: 60_000 });
  t.false(r.timedOut, `usock did not end: ${show(r)}`);
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), '+PONG\r\n');
});

/** Starts nginx serving DIR/www on DIR/nginx.sock (HTTP), as root's own worker; resolves with the socket and the folder. */
async function startNginx(t) {
  const dir = tmpDir(t);
  fs.mkdirSync(path.join(dir, 'www'));
  const sock = path.join(dir, 'nginx.sock');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
${process.getuid() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen unix:${sock};
    root ${dir}/www;
  }
}
`);
  // stdio not piped: an nginx worker outliving its master would hold the test's pipes open
  const srv = startProcess('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  t.teardown(async () => {
    srv.kill('SIGTERM'); // the master stops its workers, then exits
    await srv.exited;
  });
  await waitForSocketFile(sock);
  return { sock, dir };
}

/** Returns the body of an HTTP response (after the blank line). */
function body(buf) {
  const at = buf.indexOf('\r\n\r\n');
  return at < 0 ? Buffer.alloc(0) : buf.subarray(at + 4);
}

// At stdin's EOF usock half-closes by default; nginx takes that as the client gone and cuts the body short. --no-shutdown keeps it whole.
(NGINX ? test : test.skip)(`nginx: a 16 MiB file over HTTP arrives whole through connect --no-shutdown${NGINX ? '' : ' [skipped: nginx is not installed]'}`, async (t) => {
  const { sock, dir } = await startNginx(t);
  const data = crypto.randomBytes(16 * 1024 * 1024);
  fs.writeFileSync(path.join(dir, 'www', 'big'), data);
  const r = await runUsock(['connect', '--no-shutdown', sock], { t, input: 'GET /big HTTP/1.0\r\nHost: x\r\n\r\n' });
  t.is(r.code, 0, show(r));
  t.true(r.stdout.subarray(0, 15).toString().startsWith('HTTP/1.1 200'), r.stdout.subarray(0, 100).toString());
  t.true(body(r.stdout).equals(data), `body of ${body(r.stdout).length} bytes`);
});

(NGINX ? test : test.skip)(`nginx: its answer and close end usock while usock's stdin is still open${NGINX ? '' : ' [skipped: nginx is not installed]'}`, async (t) => {
  const { sock, dir } = await startNginx(t);
  fs.writeFileSync(path.join(dir, 'www', 'hello'), 'hello\n');
  const c = usock(['connect', sock], { t });
  c.write('GET /hello HTTP/1.0\r\nHost: x\r\n\r\n'); // and stdin stays open, as in a terminal
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(body(r.stdout).toString(), 'hello\n');
});

