// npm run coverage: runs the unit and end-to-end tests with V8 coverage (every child process too: bin/usock, ava's
// workers) against a bundle with a source map, then prints c8's line and statement figures per file of src/ and in total.
//   node scripts/coverage.mjs [--lines N] [TEST_FILE...]
// --lines N fails the run when the total line coverage is below N percent (CI's floor). TEST_FILEs (test/unit/... or
// test/e2e/...) run instead of the two suites. The normal bundle is built again at the end.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => path.join(ROOT, 'node_modules', '.bin', name);

const args = process.argv.slice(2);
const linesAt = args.indexOf('--lines');
const floor = linesAt >= 0 ? args.splice(linesAt, 2)[1] : undefined;
if (linesAt >= 0 && !/^\d+(\.\d+)?$/.test(floor ?? '')) {
  console.error('coverage: --lines needs a percentage');
  process.exit(64);
}
const files = args;

/** Runs a command in the repository with env added; returns its exit status (1 when it died of a signal). */
function run(cmd, cmdArgs, env = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

// Every user writes here: tests run usock as nobody (--as, uid), and a process that cannot write its coverage says so on stderr.
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'usock-coverage-'));
fs.chmodSync(temp, 0o1777);
let status = 0;
try {
  status = run(process.execPath, ['scripts/build.mjs'], { USOCK_SOURCEMAP: '1' });
  if (status === 0) {
    const coverage = { NODE_V8_COVERAGE: temp };
    const unit = files.filter((f) => f.startsWith('test/unit/'));
    const other = files.filter((f) => !f.startsWith('test/unit/'));
    if (files.length === 0 || unit.length > 0) status ||= run(bin('ava'), ['--config', 'ava.unit.config.mjs', ...unit], coverage);
    if (files.length === 0 || other.length > 0) status = run(bin('ava'), other, coverage) || status;
    prepareReports(temp);
    const check = floor === undefined ? [] : ['--check-coverage', '--lines', floor];
    const reported = run(bin('c8'), ['report', '--temp-directory', temp, ...check]);
    status ||= reported;
  }
} finally {
  fs.rmSync(temp, { recursive: true, force: true });
  // back to the bundle every other run uses
  const rebuilt = run(process.execPath, ['scripts/build.mjs']);
  status ||= rebuilt;
}
process.exitCode = status;

/**
 * Makes the V8 reports fit for c8:
 * - tests run copies of the bundle (publicCopy() for other users, start-up tests), gone by the time c8 reads them:
 *   their counts are counted for dist/usock.cjs, the same build, whose source map c8 reads;
 * - esbuild wraps each module's start-up code in a function named after the module (__esm), whose range in the bundle
 *   maps to lines spanning the whole module in src/, functions included: were it applied whole, a module that any run
 *   loaded would count all its lines as run, its uncalled functions too. So the wrapper of a module that some run
 *   loaded is cut to its first character (its blocks stay); that of a module no run loaded marks the module unrun;
 * - tsx hands a unit test the module it imports as a data: URL (with a source map to the .ts file), which c8 cannot
 *   read: it gets a file name of its own, the same for the same code;
 * - Node's own modules (node:...), which c8 leaves out anyway, are dropped to keep the files small.
 */
function prepareReports(dir) {
  const bundle = pathToFileURL(path.join(ROOT, 'dist/usock.cjs')).href;
  const isBundle = (s) => s.url.endsWith('/dist/usock.cjs');
  const moduleWrapper = (f) => /^[\w@./-]+\.[cm]?[jt]s$/.test(f.functionName);
  const named = (url) => (url.startsWith('data:') ? `file:///usock-coverage/${createHash('sha1').update(url).digest('hex')}.js` : url);
  const files = fs.readdirSync(dir).map((name) => path.join(dir, name));
  const loaded = new Set(); // the wrappers (by start offset) that some run called
  for (const file of files) {
    for (const s of JSON.parse(fs.readFileSync(file, 'utf8')).result.filter(isBundle)) {
      for (const f of s.functions) if (moduleWrapper(f) && f.ranges[0].count > 0) loaded.add(f.ranges[0].startOffset);
    }
  }
  for (const file of files) {
    const report = JSON.parse(fs.readFileSync(file, 'utf8'));
    const maps = report['source-map-cache'] ?? {};
    report.result = report.result
      .filter((s) => s.url.startsWith('file:') || (s.url.startsWith('data:') && maps[s.url]?.data))
      .map((s) => {
        if (!isBundle(s)) return { ...s, url: named(s.url) };
        const functions = s.functions.map((f) => {
          if (!moduleWrapper(f) || !loaded.has(f.ranges[0].startOffset)) return f;
          const [whole, ...blocks] = f.ranges;
          return { ...f, ranges: [{ ...whole, endOffset: whole.startOffset + 1 }, ...blocks] };
        });
        return { ...s, url: bundle, functions };
      });
    const fileMaps = Object.entries(maps).filter(([url]) => url.startsWith('file:') || url.startsWith('data:'));
    report['source-map-cache'] = Object.fromEntries(fileMaps.map(([url, v]) => [named(url), v]));
    fs.writeFileSync(file, JSON.stringify(report));
  }
}
