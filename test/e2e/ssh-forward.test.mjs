// A socket on another machine through OpenSSH's stream-local forwarding, as the README shows it: `ssh -L LOCAL:REMOTE`
// to a local sshd this file starts (its own port, host key and client key), then `usock connect` and `usock tap` on the
// forwarded socket; `ssh -W REMOTE` where the installed ssh takes a path there (OpenSSH 9.4 and later).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  usock,
  runUsock,
  startProcess,
  tmpDir,
  waitListening,
  hasCommand,
  show,
  startTap,
  stopBySignal,
  countLines,
  IS_ROOT,
} from '../helpers.mjs';

const SSHD = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'].find((p) => fs.existsSync(p)) ?? (hasCommand('sshd') ? 'sshd' : null);
const SSH = hasCommand('ssh') && hasCommand('ssh-keygen');
const READY = SSHD && SSH;
const SKIP = READY ? '' : ` [skipped: ${SSHD ? 'ssh or ssh-keygen' : 'sshd'} is not installed (Debian: openssh-server)]`;
const sshTest = READY ? test : test.skip;

/** Returns a TCP port on 127.0.0.1 that nothing listens on now. @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `sshd -D` in dir on a port of its own, with a host key and an authorized client key generated there, letting in
 * the current user (root too, by key only). Resolves once sshd says it listens; returns {sshd, args}: the ssh arguments
 * that reach it (no user config, no agent, no known_hosts outside dir, never a prompt).
 */
async function startSshd(t, dir) {
  for (const name of ['host_key', 'client_key']) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(dir, name)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  }
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'ListenAddress 127.0.0.1',
      'PidFile none',
      'AllowStreamLocalForwarding yes',
      'StreamLocalBindUnlink yes',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  // As root, sshd wants its privilege-separation directory (Debian's service creates it at boot).
  if (IS_ROOT) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  // The port is free when chosen; if something takes it before sshd binds it, try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const sshd = startProcess(SSHD, ['-D', '-e', '-f', config, '-p', String(port)], { t });
    sshd.end();
    const up = await Promise.race([
      sshd.waitStderr('Server listening on').then(
        () => true,
        () => false,
      ),
      sshd.exited.then(() => false),
    ]);
    if (up) {
      const args = [
        '-F',
        '/dev/null',
        '-p',
        String(port),
        '-i',
        path.join(dir, 'client_key'),
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
        '-o',
        'LogLevel=ERROR',
      ];
      return { sshd, args, host: `${os.userInfo().username}@127.0.0.1` };
    }
    sshd.kill('SIGKILL');
    const r = await sshd.exited;
    if (attempt === 5 || !/Address already in use/.test(r.stderr.toString())) throw new Error(`sshd did not start: ${show(r)}`);
  }
}

/**
 * Starts `ssh -N -L local:remote` and resolves once the forwarded socket listens at local: seen in /proc/net/unix, or,
 * with probe, as the README waits for it (`usock connect -z --retry`, which must exit 0).
 */
async function forward(t, ssh, local, remote, probe = false) {
  const p = startProcess(
    'ssh',
    [...ssh.args, '-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'StreamLocalBindUnlink=yes', '-L', `${local}:${remote}`, ssh.host],
    { t },
  );
  p.end();
  const listening = probe
    ? runUsock(['connect', '-z', '--retry', '60', local], { t }).then((r) => t.is(r.code, 0, show(r)))
    : waitListening(local);
  await Promise.race([
    listening,
    p.exited.then((r) => {
      throw new Error(`ssh -L ended: ${show(r)}`);
    }),
  ]);
  return p;
}

/** Starts `usock echo-server ADDRESS`, the daemon on the "other machine", and resolves once it listens. */
async function echoServer(t, address) {
  const srv = usock(['echo-server', address], { t });
  srv.end();
  await waitListening(address);
  return srv;
}

sshTest(`ssh -L LOCAL.sock:REMOTE.sock: usock connect on the forwarded socket reaches the remote daemon, both ways${SKIP}`, async (t) => {
  const dir = tmpDir(t);
  const ssh = await startSshd(t, dir);
  const remote = path.join(dir, 'remote.sock');
  const local = path.join(dir, 'local.sock');
  await echoServer(t, remote);
  const fwd = await forward(t, ssh, local, remote, true);
  const r = await runUsock(['connect', local], { input: 'hello over ssh\nsecond line\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hello over ssh\nsecond line\n');
  fwd.kill();
  await fwd.exited;
});

sshTest(`ssh -L to a remote socket that does not exist: ssh accepts, then closes; usock connect exits 69${SKIP}`, async (t) => {
  const dir = tmpDir(t);
  const ssh = await startSshd(t, dir);
  const local = path.join(dir, 'local.sock');
  const fwd = await forward(t, ssh, local, path.join(dir, 'missing.sock'));
  const r = await runUsock(['connect', local], { input: 'anyone?\n', t });
  t.is(r.code, 69, show(r));
  t.is(r.stdout.length, 0);
  fwd.kill();
  await fwd.exited;
});

sshTest(
  `usock tap in front of the forwarded socket records both directions of a client's conversation with the remote daemon${SKIP}`,
  async (t) => {
    const dir = tmpDir(t);
    const ssh = await startSshd(t, dir);
    const remote = path.join(dir, 'remote.sock');
    const local = path.join(dir, 'local.sock');
    const tapSock = path.join(dir, 'tap.sock');
    const log = path.join(dir, 'tap.log');
    await echoServer(t, remote);
    const fwd = await forward(t, ssh, local, remote);
    const tap = await startTap(t, tapSock, local, ['--log', log]);
    const r = await runUsock(['connect', tapSock], { input: 'PING\n', t });
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), 'PING\n');
    await stopBySignal(t, tap);
    const text = fs.readFileSync(log, 'utf8');
    t.is(countLines(text, / #1 open pid \d+ /), 1, text);
    t.is(countLines(text, / #1 > 5: PING\\n$/), 1, text);
    t.is(countLines(text, / #1 < 5: PING\\n$/), 1, text);
    t.is(countLines(text, / #1 close$/), 1, text);
    fwd.kill();
    await fwd.exited;
  },
);

/** True when the installed ssh takes a socket path for -W (OpenSSH 9.4 and later): then -W sets up a stdio forward,
 * which clears other forwardings, as `ssh -G` shows. OpenSSH 9.2 accepts the path and forwards nothing. */
const W_TAKES_PATH =
  SSH &&
  /^clearallforwardings yes$/m.test(
    spawnSync('ssh', ['-G', '-F', '/dev/null', '-W', '/nonexistent/x.sock', 'localhost'], { encoding: 'utf8' }).stdout ?? '',
  );
const SSH_VERSION = SSH ? spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim().split(',')[0] : '';
const wTest = READY && W_TAKES_PATH ? test : test.skip;
const W_SKIP = SKIP || (W_TAKES_PATH ? '' : ` [skipped: ${SSH_VERSION} takes no socket path for -W (OpenSSH 9.4 does)]`);

wTest(`ssh -W REMOTE.sock: stdin and stdout relayed to the remote socket${W_SKIP}`, async (t) => {
  const dir = tmpDir(t);
  const ssh = await startSshd(t, dir);
  const remote = path.join(dir, 'remote.sock');
  await echoServer(t, remote);
  const p = startProcess('ssh', [...ssh.args, '-W', remote, ssh.host], { t });
  p.end('through -W\n');
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'through -W\n');
});
