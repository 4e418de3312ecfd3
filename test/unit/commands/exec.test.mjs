// Unit tests of src/commands/exec.ts's ExecQueue on real sockets and a real shortage: a command that cannot start for
// lack of descriptors (EMFILE) keeps its connection, holds the accept loop, and starts once descriptors are free.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { ExecQueue } from '../../../src/commands/exec.ts';
import { closeQuietly, read, write, WOULD_BLOCK } from '../../../src/sys/fd.ts';
import { socketpair } from '../../../src/sys/socket.ts';
import { waitUntil } from '../../helpers.mjs';

/** Returns a reporter that keeps every warning and info event. */
function recorder() {
  const warnings = [];
  const infos = [];
  const fake = {
    warnings,
    infos,
    info(event, text) {
      infos.push({ event, text });
    },
    warn(event, text) {
      warnings.push({ event, text });
    },
  };
  return /** @type {import('../../../src/report/reporter.ts').Reporter & typeof fake} */ (/** @type {unknown} */ (fake));
}

/** Returns this process's open-files limits, [soft, hard], as /proc/self/limits writes them. */
function fileLimits() {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return line.slice('Max open files'.length).trim().split(/\s+/).slice(0, 2);
}

test.serial(
  'a command that cannot start (EMFILE) keeps its client and holds accepting; it starts once descriptors are free, then accepting resumes',
  async (t) => {
    const [conn, peer] = socketpair('stream');
    let peerOpen = true;
    t.teardown(() => peerOpen && closeQuietly(peer));
    const calls = [];
    const loop = { hold: () => calls.push('hold'), resume: () => calls.push('resume'), released: () => calls.push('released') };
    const reporter = recorder();
    const queue = new ExecQueue({ cmd: 'read -r x; echo "got $x"', framing: null, drainSeconds: 5, reporter }, loop);
    const [soft, hard] = fileLimits();
    const highest = Math.max(...fs.readdirSync('/proc/self/fd').map(Number));
    t.is(spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${highest + 17}:${hard}`], { stdio: 'ignore' }).status, 0, 'prlimit');
    const fillers = [];
    try {
      try {
        for (;;) fillers.push(fs.openSync('/dev/null', 'r'));
      } catch (err) {
        if (err.code !== 'EMFILE') throw err;
      }
      queue.add(conn, null);
      await waitUntil(() => calls.includes('hold'), 30_000, 'hold()');
      // hold comes first; a retry may already have found a descriptor freed by the failed start (then resume follows).
      t.is(calls[0], 'hold');
      t.is(reporter.warnings.length, 1);
      t.regex(reporter.warnings[0].text, /^--exec: cannot run \/bin\/sh: Too many open files \(EMFILE\): the client waits/);
    } finally {
      for (const f of fillers) fs.closeSync(f);
      spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
    }
    await waitUntil(() => calls.includes('resume'), 30_000, 'resume() once the command started');
    write(peer, Buffer.from('hi\n'));
    const buf = Buffer.alloc(64);
    let got = '';
    await waitUntil(
      () => {
        const n = read(peer, buf);
        if (n === WOULD_BLOCK) return false;
        if (n === 0) return true;
        got += buf.subarray(0, n).toString();
        return false;
      },
      30_000,
      'the reply and EOF',
    );
    t.is(got, 'got hi\n', 'the client kept through the shortage is served');
    closeQuietly(peer);
    peerOpen = false;
    await waitUntil(() => calls.includes('released'), 30_000, 'released() once the connection closed');
    t.deepEqual(calls, ['hold', 'resume', 'released']);
    t.is(reporter.warnings.length, 1, 'one warning for the episode');
  },
);
