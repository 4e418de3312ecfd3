// Real daemons from Debian's packages for the end-to-end tests: redis-server and nginx, each started on a Unix socket in
// the test's own temporary folder and stopped by pid at the test's end.
import fs from 'node:fs';
import path from 'node:path';
import { hasCommand, startProcess, tmpDir, waitForSocketFile } from './helpers.mjs';

export const HAS_REDIS = hasCommand('redis-server');
export const HAS_NGINX = fs.existsSync('/usr/sbin/nginx') || hasCommand('nginx');

/** Starts redis-server on DIR/redis.sock only (no TCP port, nothing saved); resolves with its socket path. */
export async function startRedis(t) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'redis.sock');
  const srv = startProcess(
    'redis-server',
    ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    { stdio: 'ignore' },
  );
  t.teardown(async () => {
    srv.kill('SIGTERM');
    await srv.exited;
  });
  await waitForSocketFile(sock);
  return sock;
}

/** Starts nginx serving DIR/www on DIR/nginx.sock (HTTP; its config, pid file, logs and temp paths in DIR), as root's own worker; resolves with the socket and the folder. */
export async function startNginx(t) {
  const dir = tmpDir(t);
  fs.mkdirSync(path.join(dir, 'www'));
  const sock = path.join(dir, 'nginx.sock');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `
${process.getuid?.() === 0 ? 'user root;' : ''}
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
`,
  );
  // stdio not piped: an nginx worker outliving its master would hold the test's pipes open
  const srv = startProcess(fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  t.teardown(async () => {
    srv.kill('SIGTERM'); // the master stops its workers, then exits
    await srv.exited;
  });
  await waitForSocketFile(sock);
  return { sock, dir };
}

/** Returns the body of an HTTP response (after the blank line). */
export function httpBody(buf) {
  const at = buf.indexOf('\r\n\r\n');
  return at < 0 ? Buffer.alloc(0) : buf.subarray(at + 4);
}
