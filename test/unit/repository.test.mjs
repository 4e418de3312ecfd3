// The repository's layout rules, checked on every file under src/: size, the one koffi importer, what io/ and sys/ may import, a first line that says what the file holds.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.join(import.meta.dirname, '../../src');
const MAX_LINES = 350;

/** Returns every .ts file under dir, as paths relative to src/. */
function sources(dir = SRC) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [path.relative(SRC, p)] : [];
  });
}

/** Returns the modules a source imports (static and dynamic), resolved relative to src/ when relative. */
function importsOf(file) {
  const text = fs.readFileSync(path.join(SRC, file), 'utf8');
  const specs = [...text.matchAll(/(?:^(?:import|export)\s[^;'"]*?\bfrom\s*|^import\s*|\bimport\(\s*)'([^']+)'/gm)].map((m) => m[1]);
  return specs.map((s) => (s.startsWith('.') ? path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), s)) : s));
}

const files = sources();

test('there are sources to check', (t) => {
  t.true(files.length > 50, String(files.length));
  t.true(files.includes('sys/libc.ts'));
});

test(`no file under src/ is over ${MAX_LINES} lines`, (t) => {
  const long = files.map((f) => [f, fs.readFileSync(path.join(SRC, f), 'utf8').split('\n').length - 1]).filter(([, n]) => n > MAX_LINES);
  t.deepEqual(long, []);
});

test('only src/sys/ imports koffi', (t) => {
  t.deepEqual(
    files.filter((f) => !f.startsWith('sys/') && importsOf(f).includes('koffi')),
    [],
  );
  t.true(importsOf('sys/libc.ts').includes('koffi') || fs.readFileSync(path.join(SRC, 'sys/libc.ts'), 'utf8').includes("'koffi'"));
});

test('src/io/ imports only io/, sys/ and node: modules', (t) => {
  const wrong = files
    .filter((f) => f.startsWith('io/'))
    .flatMap((f) =>
      importsOf(f)
        .filter((m) => !m.startsWith('io/') && !m.startsWith('sys/') && !m.startsWith('node:'))
        .map((m) => `${f} -> ${m}`),
    );
  t.deepEqual(wrong, []);
});

test('src/sys/ imports only sys/ and node: modules (and koffi)', (t) => {
  const wrong = files
    .filter((f) => f.startsWith('sys/'))
    .flatMap((f) =>
      importsOf(f)
        .filter((m) => !m.startsWith('sys/') && !m.startsWith('node:') && m !== 'koffi')
        .map((m) => `${f} -> ${m}`),
    );
  t.deepEqual(wrong, []);
});

test('every file under src/ starts with a line comment that says what it holds', (t) => {
  const bare = files.filter((f) => !/^\/\/ \S.{10,}/.test(fs.readFileSync(path.join(SRC, f), 'utf8')));
  t.deepEqual(bare, []);
});
