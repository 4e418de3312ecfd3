// ava configuration of the unit tests (npm run test:unit): they import the TypeScript sources in src/ directly, through
// tsx's loader. The end-to-end tests (package.json's "ava", npm run test:e2e) run bin/usock and need no loader.
export default {
  files: ['test/unit/**/*.test.mjs'],
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '2m',
};
