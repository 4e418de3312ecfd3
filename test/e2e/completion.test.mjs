// End-to-end tests of `usock completion`: the bash and zsh scripts (valid, chosen from $SHELL), and what they
// complete through the callback and through the scripts' own functions: commands, options, socket files, @names.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { abstractName, assertCleanError, hasCommand, python, runPython, runUsock, show, tmpDir, USOCK } from '../helpers.mjs';

const HAS_ZSH = hasCommand('zsh');
/** Declares a test that runs zsh, skipped (with the reason in its title) where zsh is not installed. */
const zshTest = HAS_ZSH ? test : (title, fn) => test.skip(`${title} [skipped: zsh is not installed]`, fn);
/** PATH with this node first: bin/usock starts with `#!/usr/bin/env node`. */
const ENV = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };

/** Returns the candidates the callback prints for the words after `usock` (the last one being completed). */
async function candidates(t, ...words) {
  const r = await runUsock(['completion', '--complete', '--', ...words], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => l !== '');
}

/** Returns what `shell -c script` prints (its stdout lines); fails the test when it does not exit 0. */
function runShell(t, shell, script, args = []) {
  const r = spawnSync(shell, ['-c', script, shell, ...args], { encoding: 'utf8', env: ENV, timeout: 30_000 });
  t.is(r.status, 0, `${shell} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** Returns a temp dir holding a socket file `app.sock`, a regular file `app.txt` and a sub-directory `apps`. */
async function socketDir(t) {
  const dir = tmpDir(t);
  const r = await runPython('import socket, sys\nsocket.socket(socket.AF_UNIX).bind(sys.argv[1])', [path.join(dir, 'app.sock')], { t });
  t.is(r.code, 0, show(r));
  fs.writeFileSync(path.join(dir, 'app.txt'), 'not a socket\n');
  fs.mkdirSync(path.join(dir, 'apps'));
  t.true(fs.statSync(path.join(dir, 'app.sock')).isSocket());
  return dir;
}

/** Runs bash with the bash script sourced, COMP_WORDS set to words (the first one bin/usock) and COMP_CWORD to their last; returns COMPREPLY. */
async function bashComplete(t, ...words) {
  const script = (await runUsock(['completion', 'bash'], { t })).stdout.toString();
  return runShell(t, 'bash', `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _usock_complete; printf '%s\\n' "\${COMPREPLY[@]}"`, [
    USOCK,
    ...words,
  ]);
}

test('completion bash prints a bash script that bash -n accepts', async (t) => {
  const r = await runUsock(['completion', 'bash'], { t });
  t.is(r.code, 0, show(r));
  const script = r.stdout.toString();
  t.regex(script, /^complete -F _usock_complete usock$/m);
  const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  t.is(check.status, 0, check.stderr);
});

zshTest('completion zsh prints a zsh script that zsh -n accepts', async (t) => {
  const r = await runUsock(['completion', 'zsh'], { t });
  t.is(r.code, 0, show(r));
  const script = r.stdout.toString();
  t.true(script.startsWith('#compdef usock\n'));
  const check = spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' });
  t.is(check.status, 0, check.stderr);
});

test('completion without a shell takes it from $SHELL; another shell is a usage error (64)', async (t) => {
  const zsh = await runUsock(['completion'], { t, env: { ...process.env, SHELL: '/usr/bin/zsh' } });
  t.is(zsh.code, 0, show(zsh));
  t.true(zsh.stdout.toString().startsWith('#compdef usock\n'));
  const bash = await runUsock(['completion'], { t, env: { ...process.env, SHELL: '/bin/bash' } });
  t.regex(bash.stdout.toString(), /complete -F _usock_complete usock/);
  const fish = await runUsock(['completion'], { t, env: { ...process.env, SHELL: '/usr/bin/fish' } });
  t.is(fish.code, 64, show(fish));
  assertCleanError(t, fish.stderr, /\$SHELL is '\/usr\/bin\/fish'/);
  const named = await runUsock(['completion', 'fish'], { t });
  t.is(named.code, 64, show(named));
  assertCleanError(t, named.stderr, /unknown shell 'fish': expected bash or zsh/);
});

test("the callback completes command names, a command's options and option choices", async (t) => {
  t.deepEqual(await candidates(t, 'con'), ['connect']);
  t.deepEqual(await candidates(t, 'help', 'echo'), ['echo-server']);
  t.deepEqual(await candidates(t, 'connect', '--re'), ['--retry']);
  t.deepEqual(await candidates(t, '-v', 'listen', '--allow-g'), ['--allow-gid', '--allow-group']);
  t.deepEqual(await candidates(t, 'connect', '-t', ''), ['stream', 'dgram', 'seqpacket', 'auto']);
  t.deepEqual(await candidates(t, 'pair', '--frame=l'), ['--frame=line', '--frame=len32']);
  t.deepEqual(await candidates(t, 'completion', ''), ['bash', 'zsh']);
  const options = await candidates(t, 'connect', '--');
  t.true(options.includes('--no-shutdown') && options.includes('--json') && options.includes('--help'), options.join(' '));
  t.false(options.includes('--keep-open'), "listen's option offered for connect");
  t.false((await candidates(t, 'completion', '--')).includes('--complete'), 'the hidden callback option offered');
  t.deepEqual(await candidates(t, 'nosuch', ''), []);
});

test('an address completes to socket files and directories, not other files', async (t) => {
  const dir = await socketDir(t);
  t.deepEqual(await candidates(t, 'connect', `${dir}/`), [`${dir}/app.sock`, `${dir}/apps/`]);
  t.deepEqual(await candidates(t, 'who-can', `${dir}/app.`), [`${dir}/app.sock`]);
  t.deepEqual(await candidates(t, 'connect', `--bind=${dir}/a`), [`--bind=${dir}/app.sock`, `--bind=${dir}/apps/`]);
  t.deepEqual(await candidates(t, 'tap', '--inplace', `${dir}/a`), [`${dir}/app.sock`, `${dir}/apps/`]);
  // send-fd's FILEs are any files
  t.deepEqual(await candidates(t, 'send-fd', `${dir}/app.sock`, `${dir}/app`), [`${dir}/app.sock`, `${dir}/app.txt`, `${dir}/apps/`]);
  t.deepEqual(await candidates(t, 'connect', `${dir}/nosuch/`), []);
});

test('an address after @ completes to the abstract names in /proc/net/unix', async (t) => {
  const name = abstractName();
  const peer = python(
    'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind("\\0" + sys.argv[1])\ns.listen()\nprint("ready")\nsys.stdin.read()',
    [name],
    { t },
  );
  await peer.waitStdout('ready');
  t.deepEqual(await candidates(t, 'connect', `@${name.slice(0, -3)}`), [`@${name}`]);
  t.true((await candidates(t, 'peercred', '@')).includes(`@${name}`));
  peer.end();
  await peer.exited;
});

test("bash: the script's function fills COMPREPLY (commands, options, sockets, --opt=VALUE split by readline)", async (t) => {
  const dir = await socketDir(t);
  t.deepEqual(await bashComplete(t, 'con'), ['connect']);
  t.deepEqual(await bashComplete(t, 'connect', '--re'), ['--retry']);
  // paths go to readline as file names (-o filenames): it adds the / after a directory itself
  t.deepEqual(await bashComplete(t, 'connect', `${dir}/`), [`${dir}/app.sock`, `${dir}/apps`]);
  fs.mkdirSync(path.join(dir, 'my dir'));
  const r = await runPython('import socket, sys\nsocket.socket(socket.AF_UNIX).bind(sys.argv[1])', [path.join(dir, 'my dir', 'x.sock')], {
    t,
  });
  t.is(r.code, 0, show(r));
  t.deepEqual(await bashComplete(t, 'connect', `${dir}/my\\ dir/`), [`${dir}/my dir/x.sock`]);
  t.deepEqual(await bashComplete(t, 'connect', `'${dir}/my dir/x`), [`${dir}/my dir/x.sock`]);
  // readline splits `--bind=DIR/` into `--bind`, `=`, `DIR/`: the candidates replace the last piece only
  t.deepEqual(await bashComplete(t, 'connect', '--bind', '=', `${dir}/app.`), [`${dir}/app.sock`]);
  t.deepEqual(await bashComplete(t, 'pair', '--frame', '=', 'l'), ['line', 'len32']);
  // the cursor right after `=`: readline's word is empty, COMP_WORDS ends with `=`
  t.deepEqual((await bashComplete(t, 'pair', '--frame', '=')).sort(), ['len32', 'line', 'nul', 'raw']);
});

zshTest("zsh: the script's function adds the candidates (compadd), directories without a suffix", async (t) => {
  const dir = await socketDir(t);
  const script = (await runUsock(['completion', 'zsh'], { t })).stdout.toString();
  // compdef and compadd stand in for the completion system: compadd prints what it is given, after a mark for -S ''
  const stubs =
    'compdef() { :; }\ncompadd() { local m=; [[ $1 == -S ]] && m="(no suffix) "; while [[ $1 != -- ]]; do shift; done; shift; for c in "$@"; do print -r -- "$m$c"; done; }';
  const complete = (...words) =>
    runShell(t, 'zsh', `${stubs}\n${script}\nwords=("$@"); CURRENT=$#; PREFIX=\${words[-1]}; _usock`, [USOCK, ...words]);
  t.deepEqual(complete('con'), ['connect']);
  t.deepEqual(complete('connect', '--re'), ['--retry']);
  t.deepEqual(complete('connect', `${dir}/`), [`(no suffix) ${dir}/apps/`, `${dir}/app.sock`]);
});
