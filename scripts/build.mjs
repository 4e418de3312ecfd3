// Bundles src/ into dist/usock.mjs (the CLI) and dist/lib.mjs (pure modules for unit tests) with esbuild.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
  legalComments: 'none',
  define: { __USOCK_VERSION__: JSON.stringify(pkg.version) },
  // yargs and chalk are ESM, cli-table3 is CommonJS: give the bundle a require() for the latter.
  banner: { js: "import { createRequire as __usockRequire } from 'node:module'; const require = __usockRequire(import.meta.url);" },
};

await build({ ...common, entryPoints: ['src/main.ts'], outfile: 'dist/usock.mjs' });
await build({ ...common, entryPoints: ['src/lib.ts'], outfile: 'dist/lib.mjs' });
