// Bundles src/ into dist/usock.mjs (the CLI) and dist/lib.mjs (pure modules for unit tests) with esbuild.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/**
 * string-width builds Unicode regular expressions and an Intl.Segmenter when its module loads, which
 * costs every usock run tens of milliseconds although only help output measures text. This plugin
 * hands the ES-module importers (yargs, cliui, wrap-ansi) a stand-in that loads the real module on
 * its first call; esbuild bundles a require()d ES module so that it initialises then.
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

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [lazyStringWidth],
  define: { __USOCK_VERSION__: JSON.stringify(pkg.version) },
  // yargs and chalk are ESM, cli-table3 is CommonJS: give the bundle a require() for the latter.
  banner: { js: "import { createRequire as __usockRequire } from 'node:module'; const require = __usockRequire(import.meta.url);" },
};

await build({ ...common, entryPoints: ['src/main.ts'], outfile: 'dist/usock.mjs' });
await build({ ...common, entryPoints: ['src/lib.ts'], outfile: 'dist/lib.mjs' });
