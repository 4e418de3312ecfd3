// Bundles src/ into dist/usock.cjs (the CLI) and dist/yargs.cjs (yargs, which the CLI loads where it needs it), each with its V8 code cache, with esbuild.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assembleWat } from './wat.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// src/sys/libc.ts loads this version's koffi.node directly, and require('koffi') for any other.
const koffiVersion = JSON.parse(readFileSync(new URL('../node_modules/koffi/package.json', import.meta.url), 'utf8')).version;

/**
 * string-width builds Unicode regular expressions and an Intl.Segmenter when its module loads, which
 * costs every run that yargs parses tens of milliseconds (CONTRIBUTING.md, start-up tricks) although only
 * help output measures text. This plugin hands the ES-module importers (yargs, cliui, wrap-ansi) a stand-in
 * that loads the real module on its first call; esbuild bundles a require()d ES module so that it initialises then.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.kind !== 'import-statement' || args.pluginData?.real) return undefined;
      const real = await b.resolve('string-width', { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: { real: true } });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: path.relative(process.cwd(), real.path), namespace: 'lazy-string-width', pluginData: { file: real.path } };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents: `let real;\nexport default function stringWidth(text, options) {\n  real ??= require(${JSON.stringify(args.pluginData.file)}).default;\n  return real(text, options);\n}\n`,
      resolveDir: path.dirname(args.pluginData.file),
      loader: 'js',
    }));
  },
};

/**
 * yargs imports node:assert for two sanity checks (strictEqual, notStrictEqual); loading assert and its
 * internals costs every run that yargs parses some milliseconds (CONTRIBUTING.md, start-up tricks). This
 * plugin hands yargs a module with just those two checks.
 */
const liteAssert = {
  name: 'lite-assert',
  setup(b) {
    b.onResolve({ filter: /^(node:)?assert$/ }, (args) =>
      /[\\/]yargs[\\/]/.test(args.importer) ? { path: 'assert', namespace: 'lite-assert' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lite-assert' }, () => ({
      contents: [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript text for esbuild, a template literal in it
        'const fail = (a, b, m, op) => { const e = new Error(m instanceof Error ? m.message : m ?? `${String(a)} ${op} ${String(b)}`); e.code = "ERR_ASSERTION"; throw e; };',
        'export function strictEqual(a, b, m) { if (!Object.is(a, b)) fail(a, b, m, "!=="); }',
        'export function notStrictEqual(a, b, m) { if (Object.is(a, b)) fail(a, b, m, "==="); }',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/**
 * yargs's platform shim reads process.stdout.columns when it loads, which makes Node build the stdout
 * stream (net or tty and stream: some milliseconds, CONTRIBUTING.md, start-up tricks) and changes stdout's
 * flags behind usock's back. usock gives yargs the width itself (.wrap), so the shim gets null there. If
 * yargs changes that line, nothing is replaced and nothing breaks.
 */
const noStdoutColumns = {
  name: 'no-stdout-columns',
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, async (args) => ({
      contents: (await readFile(args.path, 'utf8')).replace(
        "typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null",
        'null',
      ),
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * y18n, yargs's translator, reads a locale file (locales/C.json, de_DE.json, de.json, ...) at the first
 * message yargs builds. Bundled, the directory it looks in is one above the package (say
 * /usr/lib/node_modules/locales/): the bundle ships no locale files, so it finds nothing, or a stranger's
 * file, whose strings would replace the English messages that usock reads (usageMessage) and whose syntax
 * error would end usock. This plugin gives y18n a file system without files: it keeps the built-in English
 * strings. (Not a start-up trick: the stat and open it saves are not worth 1 ms.)
 */
const noLocaleFiles = {
  name: 'no-locale-files',
  setup(b) {
    b.onLoad({ filter: /[\\/]y18n[\\/]build[\\/]lib[\\/]platform-shims[\\/]node\.js$/ }, () => ({
      contents: [
        "import { format } from 'util';",
        "import { resolve } from 'path';",
        'export default { fs: { readFileSync: undefined, writeFile: () => {} }, format, resolve, exists: () => false };',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  // Names as written: readable stacks (USOCK_DEBUG) without keepNames, whose 1200 Object.defineProperty
  // calls (many in functions yargs runs at every start) cost each run about 2 ms and a scavenge; the
  // longer names cost about 0.3 ms to read and deserialize.
  minifyIdentifiers: false,
  plugins: [lazyStringWidth, liteAssert, noStdoutColumns, noLocaleFiles],
  loader: { '.bash': 'text', '.zsh': 'text' }, // the completion scripts, src/commands/completion/
  define: {
    __USOCK_VERSION__: JSON.stringify(pkg.version),
    __KOFFI_VERSION__: JSON.stringify(koffiVersion),
    // tap's WebAssembly SIMD module (src/report/simd.ts), assembled here so that the package needs no assembler
    __SIMD_WASM__: JSON.stringify((await assembleWat('src/report/simd.wat')).toString('base64')),
  },
};

/**
 * The main bundle leaves yargs to a bundle of its own, dist/yargs.cjs (yargs with cliui, y18n, its
 * parser): most runs never load it (the quick parse, src/cli/quickparse.ts, reads their words), and a
 * run reads and compiles what it loads. main.ts's `import('yargs')` becomes require('./yargs.cjs'),
 * which bin/usock answers with that bundle and its own code cache.
 */
const yargsApart = {
  name: 'yargs-apart',
  setup(b) {
    b.onResolve({ filter: /^yargs$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './yargs.cjs', external: true } : undefined));
  },
};

// USOCK_SOURCEMAP=1 (npm run coverage): the CLI bundle unminified with a source map beside it, so that coverage counts lines of src/.
const sourceMapped = process.env.USOCK_SOURCEMAP === '1' ? { sourcemap: 'external', minifyWhitespace: false, minifySyntax: false } : {};

// Each bundle is a CommonJS module that exports its own module wrapper function: bin/usock requires it (Node's compile
// cache, 22.1+) or compiles it with vm.Script and a code cache of its own (Node 20), then calls the function.
const bundles = [
  {
    file: 'dist/usock.cjs',
    entryPoints: ['src/cli/main.ts'],
    plugins: [yargsApart],
    supported: { 'dynamic-import': false },
    ...sourceMapped,
  },
  {
    file: 'dist/yargs.cjs',
    stdin: { contents: "export { default } from 'yargs';", resolveDir: process.cwd(), sourcefile: 'yargs-bundle.js' },
  },
];
mkdirSync('dist', { recursive: true });
for (const { file, plugins = [], ...options } of bundles) {
  const { outputFiles } = await build({
    ...common,
    ...options,
    plugins: [...common.plugins, ...plugins],
    write: false,
    format: 'cjs',
    define: { ...common.define, 'import.meta.url': '__usockUrl' },
    banner: { js: "const __usockUrl = require('node:url').pathToFileURL(__filename).href;" },
    outfile: file,
  });
  // The first line names this build: bin/usock uses a code cache of its own only if it was written for the same line.
  // The rest is one expression: the bundle as a wrapper function, which vm.Script (Node 20) compiles as it is (were
  // bin/usock to add the wrapper, V8 would copy the whole text once more), and which require (Node 22.1+) exports.
  const bundle = outputFiles.find((f) => !f.path.endsWith('.map')).text;
  const map = outputFiles.find((f) => f.path.endsWith('.map'));
  const mapLine = map ? `\n//# sourceMappingURL=${path.basename(file)}.map` : '';
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${bundle}\n})`;
  writeFileSync(
    file,
    `// usock build ${createHash('sha256').update(bundle).digest('hex')}\n(typeof module === 'object' ? module : {}).exports = ${wrapper}${mapLine}`,
  );
  rmSync(`${file}.cache`, { force: true });
  rmSync(`${file}.map`, { force: true });
  if (map) {
    // The map's lines move down by one: the build line stands above the bundle (whose first line, the banner, maps
    // nothing). Sources by full path, as coverage tools match them.
    const { sources, mappings, ...rest } = JSON.parse(map.text);
    const full = sources.map((source) => path.resolve(path.dirname(file), source));
    writeFileSync(`${file}.map`, JSON.stringify({ ...rest, sources: full, mappings: `;${mappings}` }));
  }
}
rmSync('dist/lib.mjs', { force: true }); // the unit tests' bundle of earlier builds: they run against src/ now
rmSync('dist/usock.mjs', { force: true }); // the ES-module CLI of earlier builds

// Two runs through argument parsing, a command and the error path write the code caches (bin/usock's own at exit on
// Node 20, Node's own from 22.1): one that the quick parse reads, one (-zq) that yargs parses.
for (const flags of [['--probe'], ['-zq']]) {
  const training = spawnSync(process.execPath, ['bin/usock', 'connect', ...flags, path.join(tmpdir(), `usock-build-${process.pid}.none`)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (training.status !== 69) {
    // 69: nothing to talk to
    process.stderr.write(`build: the run that writes the code cache ended with ${training.status ?? training.signal}: ${training.stderr}`);
    process.exitCode = 1;
  }
}
