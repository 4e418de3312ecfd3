// bin/usock's compile caches: Node's own from Node 22.1; on Node 20 its own, written when missing, foreign or rejected by V8, used when they belong to the build; dist/yargs.cjs loaded only where yargs parses.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodeModule from 'node:module';
import { startProcess, tmpDir, usock, waitForSocketFile } from '../helpers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Node 22.1+ has a compile cache of its own, which bin/usock turns on; Node 20 gets bin/usock's. */
const nodeHasCompileCache = typeof (/** @type {{ enableCompileCache?: unknown }} */ (nodeModule).enableCompileCache) === 'function';
/** The tests of bin/usock's own code cache (Node 20). */
const ownCacheTest = nodeHasCompileCache ? test.skip : test;

/** Returns the bin/usock path of a copy of the built package in dir (node_modules linked, no code cache). */
function copyPackage(dir) {
  for (const sub of ['bin', 'dist']) fs.mkdirSync(path.join(dir, sub));
  fs.copyFileSync(path.join(ROOT, 'bin/usock'), path.join(dir, 'bin/usock'));
  for (const bundle of ['usock.cjs', 'yargs.cjs']) fs.copyFileSync(path.join(ROOT, 'dist', bundle), path.join(dir, 'dist', bundle));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return path.join(dir, 'bin/usock');
}

/** Runs `usock connect --probe` (-zq: parsed by yargs) at a missing path: the run goes through parsing, a command and an error. */
async function probeMissing(t, bin, dir, flags = ['--probe'], env = {}) {
  const r = await startProcess(process.execPath, [bin, 'connect', ...flags, path.join(dir, 'none.sock')], { t, env }).exited;
  t.is(r.code, 69, r.stderr.toString());
  t.regex(r.stderr.toString(), /^usock: connect .*none\.sock: No such file or directory \(ENOENT\)\n/);
}

function firstLine(file) {
  const text = fs.readFileSync(file, 'latin1');
  return text.slice(0, text.indexOf('\n') + 1);
}

ownCacheTest('a missing code cache is written at exit, begins with the build line, and is then used as it is', async (t) => {
  const dir = tmpDir(t);
  const bin = copyPackage(dir);
  const cache = path.join(dir, 'dist/usock.cjs.cache');
  await probeMissing(t, bin, dir);
  t.true(fs.existsSync(cache));
  t.regex(firstLine(cache), /^\/\/ usock build [0-9a-f]{64}\n$/);
  t.is(firstLine(cache), firstLine(path.join(dir, 'dist/usock.cjs')));
  const { ino } = fs.statSync(cache);
  await probeMissing(t, bin, dir);
  t.is(fs.statSync(cache).ino, ino, 'an accepted cache is not written again');
  t.deepEqual(
    fs.readdirSync(path.join(dir, 'dist')).sort(),
    ['usock.cjs', 'usock.cjs.cache', 'yargs.cjs'],
    'a run of the quick parse does not load yargs',
  );
});

ownCacheTest('a run that yargs parses loads dist/yargs.cjs and writes its code cache, which the next such run uses', async (t) => {
  const dir = tmpDir(t);
  const bin = copyPackage(dir);
  const cache = path.join(dir, 'dist/yargs.cjs.cache');
  await probeMissing(t, bin, dir, ['-zq']);
  t.is(firstLine(cache), firstLine(path.join(dir, 'dist/yargs.cjs')));
  t.not(firstLine(cache), firstLine(path.join(dir, 'dist/usock.cjs')), 'each bundle names its own build');
  const { ino } = fs.statSync(cache);
  await probeMissing(t, bin, dir, ['-zq']);
  t.is(fs.statSync(cache).ino, ino, 'an accepted cache is not written again');
  t.deepEqual(fs.readdirSync(path.join(dir, 'dist')).sort(), ['usock.cjs', 'usock.cjs.cache', 'yargs.cjs', 'yargs.cjs.cache']);
});

ownCacheTest('a code cache of another build is not used and is replaced', async (t) => {
  const dir = tmpDir(t);
  const bin = copyPackage(dir);
  const cache = path.join(dir, 'dist/usock.cjs.cache');
  await probeMissing(t, bin, dir);
  const good = fs.readFileSync(cache);
  fs.writeFileSync(cache, Buffer.concat([Buffer.from(`// usock build ${'0'.repeat(64)}\n`), good.subarray(firstLine(cache).length)]));
  await probeMissing(t, bin, dir);
  t.is(firstLine(cache), firstLine(path.join(dir, 'dist/usock.cjs')));
});

ownCacheTest('a damaged code cache is rejected: usock still runs and writes a good one', async (t) => {
  const dir = tmpDir(t);
  const bin = copyPackage(dir);
  const cache = path.join(dir, 'dist/usock.cjs.cache');
  const header = firstLine(path.join(dir, 'dist/usock.cjs'));
  fs.writeFileSync(cache, Buffer.concat([Buffer.from(header), Buffer.alloc(4096, 0xa5)]));
  await probeMissing(t, bin, dir);
  const rewritten = fs.readFileSync(cache);
  t.true(rewritten.length > 10000, `cache of ${rewritten.length} bytes`);
  t.false(rewritten.subarray(header.length, header.length + 64).equals(Buffer.alloc(64, 0xa5)));
});

(nodeHasCompileCache ? test : test.skip)(
  "Node 22.1+: bin/usock turns on Node's compile cache (in TMPDIR) and writes no cache of its own; yargs.cjs is compiled only where yargs parses",
  async (t) => {
    const dir = tmpDir(t);
    const bin = copyPackage(dir);
    const temp = path.join(dir, 'tmp');
    fs.mkdirSync(temp);
    const cached = () =>
      fs.readdirSync(path.join(temp, 'node-compile-cache'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    await probeMissing(t, bin, dir, ['--probe'], { TMPDIR: temp });
    t.is(cached(), 1, 'usock.cjs');
    await probeMissing(t, bin, dir, ['-zq'], { TMPDIR: temp });
    t.is(cached(), 2, 'usock.cjs and yargs.cjs');
    t.deepEqual(fs.readdirSync(path.join(dir, 'dist')).sort(), ['usock.cjs', 'yargs.cjs']);
    fs.rmSync(path.join(temp, 'node-compile-cache'), { recursive: true });
    await probeMissing(t, bin, dir, ['--probe'], { TMPDIR: temp, NODE_DISABLE_COMPILE_CACHE: '1' });
    t.false(fs.existsSync(path.join(temp, 'node-compile-cache')), 'NODE_DISABLE_COMPILE_CACHE=1 turns it off');
  },
);

test('connect -z, and a connect that relays data, load no node:worker_threads (2 ms at each start)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'echo.sock');
  usock(['echo-server', sock], { t });
  await waitForSocketFile(sock);
  // A preload writes at exit whether the run loaded worker_threads (and with it internal/worker).
  const preload = path.join(dir, 'modules.cjs');
  fs.writeFileSync(
    preload,
    `process.on('exit', () => require('fs').writeSync(3, JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (worker_threads|internal\\/worker)$/.test(m)))));`,
  );
  for (const args of [
    ['connect', '-z', sock],
    ['connect', sock],
  ]) {
    const out = path.join(dir, 'loaded.json');
    const fd = fs.openSync(out, 'w');
    const p = startProcess(process.execPath, ['--require', preload, path.join(ROOT, 'bin/usock'), ...args], {
      t,
      stdio: ['pipe', 'pipe', 'pipe', fd],
    });
    p.end('hello\n');
    const r = await p.exited;
    fs.closeSync(fd);
    t.is(r.code, 0, r.stderr.toString());
    if (args.length === 2) t.is(r.stdout.toString(), 'hello\n');
    t.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), [], args.join(' '));
  }
});

test('a locale file beside the installed package (node_modules/locales/de.json) is not read: yargs keeps its English messages', async (t) => {
  // Bundled, yargs's translator would look for its locale files one directory above the package.
  const dir = tmpDir(t);
  fs.mkdirSync(path.join(dir, 'usock'));
  const bin = copyPackage(path.join(dir, 'usock'));
  fs.mkdirSync(path.join(dir, 'locales'));
  const env = { LANG: 'de_DE.UTF-8', LC_ALL: '', LC_MESSAGES: '', LANGUAGE: '' };
  fs.writeFileSync(path.join(dir, 'locales/de.json'), '{ "Not enough non-option arguments: got %s, need at least %s": ');
  await probeMissing(t, bin, dir, ['-zq'], env);
  fs.writeFileSync(
    path.join(dir, 'locales/de.json'),
    JSON.stringify({ 'Not enough non-option arguments: got %s, need at least %s': { one: 'zu wenig', other: 'zu wenig' } }),
  );
  const r = await startProcess(process.execPath, [bin, 'connect', '-zq'], { t, env }).exited;
  t.is(r.code, 64);
  t.is(r.stderr.toString(), 'usock: connect: missing ADDRESS\nhint: see `usock help connect`\n');
});
