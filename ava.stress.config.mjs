// ava configuration of the stress tests (npm run test:stress, also run by .ci/run): bounded load runs against bin/usock
// (bursts of 1,000 clients, floods), one file at a time so that their measurements do not disturb each other.
export default {
  files: ['test/stress/**/*.test.mjs'],
  workerThreads: false,
  concurrency: 1,
  serial: true,
  timeout: '5m',
};
