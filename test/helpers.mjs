// Shared test helpers: run usock and Python peers as real processes, temp dirs, waiting for sockets and output.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const USOCK = fileURLToPath(new URL('../bin/usock', import.meta.url));
/** The system Python: readable by every user (the first python3 on PATH may not be, e.g. for `nobody`). */
export const SYSTEM_PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/**
 * The interpreter `python3` on PATH runs, by its real path: a version manager's shim (pyenv's is a bash script) costs
 * a second or more per peer on a loaded machine. Found once, when the helpers load.
 */
export const PYTHON = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim() || 'python3';
export const NOBODY_UID = 65534;
export const NOBODY_GID = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
/** True when the tests run as root: only root can run peers as nobody, drop privileges with --as, and so on. */
export const IS_ROOT = process.getuid?.() === 0;
/** Why rootTest skips a test when not run as root; ends its title. */
export const NEEDS_ROOT = `[skipped: needs root, runs as uid ${process.getuid?.()}]`;

/** @typedef {import('ava').ExecutionContext} Context */

/** What a process ended with: startProcess's `exited`, runUsock, runPython. */
/**
 * @typedef {object} ProcessResult
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {Buffer} stdout
 * @property {Buffer} stderr
 * @property {boolean} timedOut
 */

/**
 * How startProcess (and usock, python, ...) starts a process.
 * @typedef {object} StartOptions
 * @property {Context} [t] the test: the process is killed when it ends
 * @property {number} [timeout] ms before SIGKILL
 * @property {Record<string, string | undefined>} [env] added to the environment
 * @property {string} [cwd]
 * @property {number} [uid]
 * @property {number} [gid]
 * @property {import('node:child_process').StdioOptions} [stdio]
 * @property {string} [stdoutFile] a file opened for writing as the child's stdout
 * @property {string | Buffer | null} [input] what run* functions write to stdin before closing it
 * @property {string} [python] the Python interpreter
 */

/**
 * Declares a test that needs root (it acts as nobody or another uid, uses --as, ...): as another user it is declared
 * skipped (ava's test.skip, chosen at load time) with NEEDS_ROOT at the end of its title, so the reason is shown.
 */
/**
 * @param {string} title
 * @param {import('ava').ImplementationFn<[]>} fn
 */
export function rootTest(title, fn) {
  return IS_ROOT ? test(title, fn) : test.skip(`${title} ${NEEDS_ROOT}`, fn);
}

/** How long a child may run before it is killed, and how long a wait lasts: generous, for loaded CI machines. */
export const DEFAULT_TIMEOUT = 100_000;
export const WAIT_TIMEOUT = 60_000;

/**
 * Returns a fresh short temp dir under os.tmpdir(), removed when the test ends.
 * @param {Context} t
 */
export function tmpDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'us-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Returns a unique abstract name (without the '@'). */
export function abstractName() {
  return `us-t-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a process and collects its output. Returns a handle:
 *   child, pid, stdout()/stderr() (Buffers so far), text()/errText(), write(data), end(data), kill(sig),
 *   exited: Promise<{code, signal, stdout, stderr, timedOut}> (killed with SIGKILL after `timeout` ms),
 *   waitStdout(pred|string, ms), waitStderr(pred|string, ms).
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {StartOptions} [opts]
 */
export function startProcess(cmd, args, opts = {}) {
  const { timeout = DEFAULT_TIMEOUT, env, cwd, uid, gid, t } = opts;
  let { stdio } = opts;
  // stdoutFile: the child's stdout is that file (e.g. /dev/full), opened for writing here.
  if (opts.stdoutFile) {
    const outFd = fs.openSync(opts.stdoutFile, 'w');
    stdio = ['pipe', outFd, 'pipe'];
    setImmediate(() => fs.closeSync(outFd));
  }
  // ava may force colour in its workers: children see a plain environment unless a test sets these.
  const base = { ...process.env };
  delete base.FORCE_COLOR;
  delete base.NO_COLOR;
  const child = spawn(cmd, args, {
    cwd,
    env: { ...base, ...(env ?? {}) },
    stdio: stdio ?? ['pipe', 'pipe', 'pipe'],
    uid,
    gid,
  });
  /** @type {Buffer[]} */
  const out = [];
  /** @type {Buffer[]} */
  const err = [];
  /** @type {Set<() => void>} */
  const watchers = new Set();
  const notify = () => {
    for (const w of watchers) w();
  };
  child.stdout?.on('data', (d) => {
    out.push(d);
    notify();
  });
  child.stderr?.on('data', (d) => {
    err.push(d);
    notify();
  });
  child.stdin?.on('error', () => {}); // the child may exit before reading all of its stdin
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeout);
  /** @type {Promise<ProcessResult>} */
  const exited = new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      notify();
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut });
    });
  });
  let done = false;
  exited.then(
    () => (done = true),
    () => (done = true),
  );
  const handle = {
    child,
    pid: child.pid,
    exited,
    get done() {
      return done;
    },
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
    text: () => Buffer.concat(out).toString(),
    errText: () => Buffer.concat(err).toString(),
    /** @param {string | Buffer | Uint8Array} data */
    write: (data) => /** @type {import('node:stream').Writable} */ (child.stdin).write(data),
    /** @param {string | Buffer | Uint8Array} [data] */
    end: (data) => /** @type {import('node:stream').Writable} */ (child.stdin).end(data),
    /** @param {string | number} [sig] */
    kill: (sig = 'SIGTERM') => {
      if (!done) child.kill(/** @type {NodeJS.Signals | number} */ (sig));
    },
    /**
     * Resolves when pred(stdoutText) is true (a string: stdout includes it); rejects on exit or timeout.
     * @param {string | ((text: string) => boolean)} pred
     */
    waitStdout: (pred, ms = WAIT_TIMEOUT) => waitOutput(() => handle.text(), pred, ms, 'stdout'),
    /** @param {string | ((text: string) => boolean)} pred */
    waitStderr: (pred, ms = WAIT_TIMEOUT) => waitOutput(() => handle.errText(), pred, ms, 'stderr'),
  };
  /**
   * @param {() => string} get
   * @param {string | ((text: string) => boolean)} pred
   * @param {number} ms
   * @param {string} which
   * @returns {Promise<string>}
   */
  function waitOutput(get, pred, ms, which) {
    const test = typeof pred === 'string' ? (/** @type {string} */ s) => s.includes(pred) : pred;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test(get())) {
          cleanup();
          resolve(get());
        } else if (done) {
          cleanup();
          reject(
            new Error(
              `${cmd} exited before its ${which} matched; stdout=${JSON.stringify(handle.text())} stderr=${JSON.stringify(handle.errText())}`,
            ),
          );
        }
      };
      const timer2 = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for ${which} of ${cmd}; stdout=${JSON.stringify(handle.text())} stderr=${JSON.stringify(handle.errText())}`,
          ),
        );
      }, ms);
      const cleanup = () => {
        clearTimeout(timer2);
        watchers.delete(check);
      };
      watchers.add(check);
      exited.then(check, check);
      check();
    });
  }
  // Never leave a process behind when a test fails half-way.
  t?.teardown(() => {
    if (!done) child.kill('SIGKILL');
  });
  return handle;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** @type {string | undefined} */
let publicRoot;

/**
 * True when opts make a child run as another user (uid: a uid other than ours).
 * @param {StartOptions} opts
 */
function asOtherUser(opts) {
  return opts.uid !== undefined && opts.uid !== process.getuid?.();
}

/**
 * Returns a folder every user can read holding what a run as another user needs: bin/usock, dist/usock.cjs and
 * dist/yargs.cjs (and their code caches), package.json, node_modules/koffi with its native module (the bundle's one run-time dependency) and
 * test/fixtures. The
 * checkout itself may sit in a folder only its owner can enter (a home, a `mktemp -d` folder). Made once per test
 * process, removed when it exits.
 */
export function publicCopy() {
  if (publicRoot) return publicRoot;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usock-pub-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  // koffi loads its native module from the platform package among its optional dependencies (@koromix/koffi-OS-ARCH).
  const koffiPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/koffi/package.json'), 'utf8'));
  const koffiNative = Object.keys(koffiPkg.optionalDependencies ?? {}).map((name) => `node_modules/${name}`);
  for (const rel of [
    'bin/usock',
    'dist/usock.cjs',
    'dist/usock.cjs.cache',
    'dist/yargs.cjs',
    'dist/yargs.cjs.cache',
    'package.json',
    'node_modules/koffi',
    ...koffiNative,
    'test/fixtures',
  ]) {
    const from = path.join(ROOT, rel);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(dir, rel), { recursive: true, dereference: true });
  }
  /** @param {string} p */
  const open = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      fs.chmodSync(p, 0o755);
      for (const e of fs.readdirSync(p)) open(path.join(p, e));
    } else {
      fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
    }
  };
  open(dir);
  publicRoot = dir;
  return dir;
}

/**
 * Starts `usock ARGS...`; opts as for startProcess (t: the ava test, to kill it on teardown). As another user
 * (opts.uid), it runs the copy in publicCopy().
 * @param {readonly string[]} args
 * @param {StartOptions} [opts]
 */
export function usock(args, opts = {}) {
  const bin = asOtherUser(opts) ? path.join(publicCopy(), 'bin/usock') : USOCK;
  return startProcess(process.execPath, [bin, ...args], opts);
}

/**
 * Runs usock to completion with `input` (string/Buffer, or null for /dev/null-like EOF) and returns its result.
 * @param {readonly string[]} args
 * @param {StartOptions} [opts]
 * @returns {Promise<ProcessResult>}
 */
export async function runUsock(args, opts = {}) {
  const p = usock(args, opts);
  if (p.child.stdin) p.end(opts.input ?? '');
  return p.exited;
}

/**
 * Starts `python3 -c SCRIPT ARGS...` (opts.python selects the interpreter).
 * @param {string} script
 * @param {ReadonlyArray<string | number>} [args]
 * @param {StartOptions} [opts]
 */
export function python(script, args = [], opts = {}) {
  return startProcess(opts.python ?? PYTHON, ['-u', '-c', script, ...args.map(String)], opts);
}

/**
 * Runs a Python script to completion and returns its result.
 * @param {string} script
 * @param {ReadonlyArray<string | number>} [args]
 * @param {StartOptions} [opts]
 * @returns {Promise<ProcessResult>}
 */
export async function runPython(script, args = [], opts = {}) {
  const p = python(script, args, opts);
  if (p.child.stdin) p.end(opts.input ?? '');
  return p.exited;
}

/**
 * Resolves when pred() is truthy (with its value), polling; rejects after ms.
 * @template T
 * @param {() => T | Promise<T>} pred
 * @param {number} [ms]
 * @param {string} [what]
 * @returns {Promise<T>}
 */
export async function waitUntil(pred, ms = WAIT_TIMEOUT, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Resolves when a socket file exists at p.
 * @param {string} p
 * @param {number} [ms]
 */
export function waitForSocketFile(p, ms = WAIT_TIMEOUT) {
  return waitUntil(
    () => {
      try {
        return fs.statSync(p).isSocket();
      } catch {
        return false;
      }
    },
    ms,
    `socket file ${p}`,
  );
}

/** @type {Record<string, number>} */
const TYPE_CODES = { stream: 1, dgram: 2, seqpacket: 5 };

/**
 * Returns the entries of /proc/net/unix: {flags, type, state, inode, path}.
 * @returns {Array<{ flags: number; type: number; state: number; inode: number; path: string }>}
 */
export function unixSockets() {
  const lines = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
  const out = [];
  for (const line of lines) {
    const m = /^\s*\S+:\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?: (.*))?$/.exec(line);
    if (!m) continue;
    const [, flags = '', type = '', state = '', inode = '', name = ''] = m;
    out.push({ flags: parseInt(flags, 16), type: parseInt(type, 16), state: parseInt(state, 16), inode: Number(inode), path: name });
  }
  return out;
}

/**
 * @param {string} entryPath
 * @param {string} address
 */
function addressMatches(entryPath, address) {
  if (entryPath === address) return true;
  // long paths are bound through /proc/self/fd/N/BASENAME
  if (!address.startsWith('@') && /^\/proc\/(self|\d+)\/fd\/\d+\//.test(entryPath)) {
    return entryPath.endsWith('/' + path.basename(address));
  }
  return false;
}

/**
 * Resolves when some socket of `type` is bound at address (path or '@name') and, for stream and seqpacket,
 * listening. Relative paths are resolved against cwd.
 * @param {string} address
 * @param {string} [type]
 * @param {number} [ms]
 * @param {string} [cwd]
 */
export function waitListening(address, type = 'stream', ms = WAIT_TIMEOUT, cwd = process.cwd()) {
  const want = address.startsWith('@') ? address : path.resolve(cwd, address);
  return waitUntil(
    () =>
      unixSockets().some(
        (e) =>
          e.type === TYPE_CODES[type] &&
          (type === 'dgram' || (e.flags & 0x10000) !== 0) &&
          (addressMatches(e.path, want) || addressMatches(e.path, address)),
      ),
    ms,
    `${type} socket at ${address}`,
  );
}

/**
 * True when a command is found on PATH.
 * @param {string} name
 */
export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Asserts that stderr is one `usock: ...` line (at most followed by one `hint: ...` line) and no stack trace.
 * @param {Context} t
 * @param {string | Buffer} stderr
 * @param {RegExp} [re]
 */
export function assertCleanError(t, stderr, re) {
  const text = Buffer.isBuffer(stderr) ? stderr.toString() : stderr;
  const lines = text.split('\n').filter((l) => l !== '');
  t.true(lines.length >= 1 && lines.length <= 2, `expected 1 or 2 stderr lines, got: ${JSON.stringify(text)}`);
  t.true(text.startsWith('usock: '), `stderr must start with 'usock: ': ${JSON.stringify(text)}`);
  if (lines.length === 2) t.true((lines[1] ?? '').startsWith('hint: '), `second line must be a hint: ${JSON.stringify(text)}`);
  t.false(/^\s+at /m.test(text), `stack trace in stderr: ${JSON.stringify(text)}`);
  t.false(/\x1b\[/.test(text), `colour escape in non-TTY stderr: ${JSON.stringify(text)}`);
  if (re) t.regex(lines[0] ?? '', re);
}

/**
 * Returns the hex sha256 of a file.
 * @param {string} file
 * @returns {Promise<string>}
 */
export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/**
 * Writes `size` random bytes to file.
 * @param {string} file
 * @param {number} size
 */
export function writeRandomFile(file, size) {
  const fd = fs.openSync(file, 'w');
  try {
    const chunk = 1 << 20;
    for (let done = 0; done < size; done += chunk) fs.writeSync(fd, randomBytes(Math.min(chunk, size - done)));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes each of `contents` to its own file (f0, f1, ...) in a fresh temp dir; returns their paths.
 * @param {Context} t
 * @param {ReadonlyArray<string | Buffer>} contents
 */
export function tmpFiles(t, contents) {
  const dir = tmpDir(t);
  return contents.map((c, i) => {
    const f = path.join(dir, `f${i}`);
    fs.writeFileSync(f, c);
    return f;
  });
}

/**
 * Returns the messages framed as len32: each one preceded by its length as a 4-byte big-endian number.
 * @param {...(string | Buffer)} msgs
 */
export function len32(...msgs) {
  return Buffer.concat(
    msgs.flatMap((m) => {
      const b = Buffer.from(m);
      const h = Buffer.alloc(4);
      h.writeUInt32BE(b.length);
      return [h, b];
    }),
  );
}

/**
 * Number of the signal (for the 128+N exit status a shell would show).
 * @type {Record<string, number>}
 */
export const SIGNUM = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * True when a process result says it ended by sig (killed by it, or exit status 128+N).
 * @param {ProcessResult} result
 * @param {string} sig
 */
export function endedBy(result, sig) {
  return result.signal === sig || result.code === 128 + SIGNUM[sig];
}

/**
 * Returns a readable summary of a process result for assertion messages.
 * @param {ProcessResult} r
 */
export function show(r) {
  return JSON.stringify({
    code: r.code,
    signal: r.signal,
    timedOut: r.timedOut,
    stdout: r.stdout.toString().slice(0, 500),
    stderr: r.stderr.toString().slice(0, 1000),
  });
}

/**
 * Asserts that stderr holds no stack trace.
 * @param {Context} t
 * @param {string | Buffer} stderr
 */
export function assertNoStack(t, stderr) {
  t.false(/^\s+at /m.test(stderr.toString()), stderr.toString());
}

/**
 * Creates and returns a directory under base whose path is at least minBytes long (30-byte components).
 * @param {string} base
 * @param {number} minBytes
 */
export function longDir(base, minBytes) {
  let dir = base;
  while (Buffer.byteLength(dir) < minBytes) dir = path.join(dir, 'd'.repeat(30));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Returns the descriptors this process has open. */
export function openFds() {
  return fs
    .readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Returns how many of this process's descriptors point at file.
 * @param {string} file
 */
export function fdsPointingAt(file) {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return n;
}

// ---- Python peers -------------------------------------------------------------------------------------------

/** Folder of the Python peers run as files (python3 FILE ARGS); its peer.py is the prelude they import. */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/**
 * Python prelude of inline scripts: test/fixtures/peer.py (imports, addr, connect_retry, recv_all, send_then_read)
 * without its leading comment lines, so that an inline script's command line starts with '\nimport socket'.
 */
export const PY_PRELUDE = '\n' + fs.readFileSync(path.join(FIXTURES, 'peer.py'), 'utf8').replace(/^(#.*\n)+/, '');

/**
 * Returns the Python script text with the prelude.
 * @param {string} body
 */
export function py(body) {
  return PY_PRELUDE + '\n' + body;
}

/**
 * Starts `python3 -B -u test/fixtures/NAME ARGS...` (opts.python selects the interpreter; as another user, the copy).
 * @param {string} name
 * @param {ReadonlyArray<string | number>} [args]
 * @param {StartOptions} [opts]
 */
export function pythonFile(name, args = [], opts = {}) {
  const dir = asOtherUser(opts) ? path.join(publicCopy(), 'test/fixtures') : FIXTURES;
  return startProcess(opts.python ?? PYTHON, ['-B', '-u', path.join(dir, name), ...args.map(String)], opts);
}

/**
 * Runs a fixture script to completion and returns its result.
 * @param {string} name
 * @param {ReadonlyArray<string | number>} [args]
 * @param {StartOptions} [opts]
 * @returns {Promise<ProcessResult>}
 */
export async function runPythonFile(name, args = [], opts = {}) {
  const p = pythonFile(name, args, opts);
  if (p.child.stdin) p.end(opts.input ?? '');
  return p.exited;
}

/**
 * Sends each of msgs (latin1 strings) as one datagram to target from an unbound (unnamed) Python socket.
 * @param {Context} t
 * @param {string} target
 * @param {...string} msgs
 */
export async function sendDatagrams(t, target, ...msgs) {
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in sys.argv[2:]:
    s.sendto(bytes.fromhex(m), addr(sys.argv[1]))
`),
    [target, ...msgs.map((m) => Buffer.from(m, 'latin1').toString('hex'))],
    { t },
  );
  t.is(r.code, 0, show(r));
}

/**
 * Starts a Python stream server listening at sock (file mode opts.mode if given) that never accepts; resolves once it is ready.
 * @param {Context} t
 * @param {string} sock
 * @param {StartOptions & { mode?: string }} [opts]
 */
export async function idleStreamServer(t, sock, opts = {}) {
  const { mode, ...rest } = opts;
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
if len(sys.argv) > 2:
    os.chmod(sys.argv[1], int(sys.argv[2], 8))
srv.listen(8)
print('ready', flush=True)
time.sleep(60)
`),
    mode === undefined ? [sock] : [sock, mode],
    { t, ...rest },
  );
  await srv.waitStdout('ready');
  return srv;
}

/**
 * Starts `usock tap -t type [extra] LISTEN TARGET` and resolves once it listens (its stdin closed).
 * @param {Context} t
 * @param {string} listen
 * @param {string} target
 * @param {readonly string[]} [extra]
 * @param {string} [type]
 */
export async function startTap(t, listen, target, extra = [], type = 'stream') {
  const tap = usock(['tap', '-t', type, ...extra, listen, target], { t });
  tap.end();
  await waitListening(listen, type);
  return tap;
}

/**
 * Ends tap (or any usock server) with SIGTERM, asserts it died of the signal, and returns its result.
 * @param {Context} t
 * @param {ReturnType<typeof startProcess>} tap
 */
export async function stopBySignal(t, tap) {
  tap.kill('SIGTERM');
  const r = await tap.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  return r;
}

/**
 * Counts the lines of text matching re.
 * @param {string} text
 * @param {RegExp} re
 */
export function countLines(text, re) {
  return text.split('\n').filter((l) => re.test(l)).length;
}
