// Helpers of the activate tests: the test daemon (test/fixtures/activated.py) as CMD, a client's request, usock's children.
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, PYTHON, py, runPython, show, usock } from '../helpers.mjs';

/** The command line of the test daemon in MODE (see test/fixtures/activated.py). */
export function daemon(...mode) {
  return [PYTHON, '-B', '-u', path.join(FIXTURES, 'activated.py'), ...mode.map(String)];
}

/** Returns the daemon's JSON line from a stdout text (the first line that parses), or null. */
export function daemonInfo(text) {
  for (const line of text.split('\n')) {
    if (line.startsWith('{')) return JSON.parse(line);
  }
  return null;
}

/**
 * Connects to address (a path or @name) with the socket type, sends msg, shuts the write side down and returns
 * the reply read to EOF (a string). Asserts that the client ran cleanly.
 */
export async function request(t, address, msg, type = 'stream') {
  const r = await runPython(
    py(`
s = connect_retry({'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}[sys.argv[2]], sys.argv[1])
s.sendall(sys.argv[3].encode())
s.shutdown(socket.SHUT_WR)
sys.stdout.write(recv_all(s).decode())
`),
    [address, type, msg],
    { t },
  );
  t.is(r.code, 0, show(r));
  return r.stdout.toString();
}

/** Returns the pids of the children of process pid (its main thread's, where Node forks). */
export function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** True while a process with that pid exists (and is not a zombie). */
export function alive(pid) {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Returns usock's JSON records (stderr lines that parse as objects). */
export function records(stderr) {
  return stderr
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** Starts `usock ARGS` as usock() does; on teardown the commands it started are killed too (a killed usock leaves them behind). */
export function usockActivate(args, opts = {}) {
  const u = usock(args, opts);
  // teardowns run newest first: this one before usock()'s own, while the commands are still usock's children
  opts.t?.teardown(() => {
    for (const pid of childrenOf(u.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
  return u;
}
