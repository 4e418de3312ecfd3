#!/usr/bin/env node
// Benchmark of usock against socat and nc: stream throughput, datagram rate, echo conn/s, round trip, startup.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USOCK = process.env.USOCK_BIN || path.join(ROOT, 'bin', 'usock');
const CLIENTS = path.join(ROOT, 'bench', 'clients.py');
const SECTIONS = ['stream', 'dgram', 'echo', 'rtt', 'startup', 'tap'];
const MiB = 1024 * 1024;

const USAGE = `usage: node bench/run.mjs [--json] [--only ${SECTIONS.join(',')}]

Measures usock side by side with socat and nc (each skipped when missing) and
prints every figure, usock's ratio to the others and the target it should meet.
Not a test: it exits 0 whatever the figures are.

  --json        print the results as one JSON object on stdout (progress on stderr)
  --only LIST   run only these sections (comma-separated)

Environment (sizes):
  USOCK_BENCH_BYTES          stream transfer size, bytes (default 2147483648; K/M/G suffixes allowed)
  USOCK_BENCH_STREAM_RUNS    stream transfers per tool, taken in turn; the median counts (default 3)
  USOCK_BENCH_DGRAMS         datagrams sent (default 500000)
  USOCK_BENCH_CONNS          sequential echo connections (default 2000)
  USOCK_BENCH_ROUNDTRIPS     ping-pongs on one connection (default 20000)
  USOCK_BENCH_RTT_ROUNDS     round-trip runs per server and CPU placement, taken in turn (default 3)
  USOCK_BENCH_STARTUP_RUNS   runs of each startup command (default 30)
  USOCK_BENCH_TAP_BYTES      text sent through each relay of the tap section (default 1073741824)
  USOCK_BENCH_TAP_RUNS       transfers per relay, taken in turn; the median counts (default 3)
  USOCK_BENCH_SOCAT_V_BYTES  text sent through socat -v, which records about 1 MB/s (default 4194304)
  USOCK_BIN                  usock executable (default bin/usock of this checkout)
`;

/** Returns the parsed command line; exits 64 on a bad option. */
function parseArgs(argv) {
  const options = { json: false, only: new Set(SECTIONS) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      const names = (list ?? '').split(',').filter(Boolean);
      const unknown = names.filter((name) => !SECTIONS.includes(name));
      if (names.length === 0 || unknown.length > 0) usageError(`--only: expected some of ${SECTIONS.join(',')}`);
      options.only = new Set(names);
    } else usageError(`unknown argument: ${arg}`);
  }
  return options;
}

function usageError(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}`);
  process.exit(64);
}

/** Returns the positive integer in environment variable NAME (K/M/G suffixes are powers of 1024), or fallback. */
function envCount(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(raw.trim());
  if (!match || Number(match[1]) <= 0) usageError(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  const scale = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[match[2].toLowerCase()];
  return Number(match[1]) * scale;
}

const options = parseArgs(process.argv.slice(2));
const config = {
  streamBytes: envCount('USOCK_BENCH_BYTES', 2 * 1024 * MiB),
  streamRuns: envCount('USOCK_BENCH_STREAM_RUNS', 3),
  checkBytes: 16 * MiB,
  dgrams: envCount('USOCK_BENCH_DGRAMS', 500000),
  dgramSize: 32,
  conns: envCount('USOCK_BENCH_CONNS', 2000),
  roundtrips: envCount('USOCK_BENCH_ROUNDTRIPS', 20000),
  rttRounds: envCount('USOCK_BENCH_RTT_ROUNDS', 3),
  startupRuns: envCount('USOCK_BENCH_STARTUP_RUNS', 30),
  tapBytes: envCount('USOCK_BENCH_TAP_BYTES', 1024 * MiB),
  tapRuns: envCount('USOCK_BENCH_TAP_RUNS', 3),
  socatVBytes: envCount('USOCK_BENCH_SOCAT_V_BYTES', 4 * MiB),
};
config.checkBytes = Math.min(config.checkBytes, config.streamBytes);

// ---------------------------------------------------------------- output

/** Progress goes to stdout, or to stderr when stdout carries the JSON object. */
function say(line = '') {
  (options.json ? process.stderr : process.stdout).write(`${line}\n`);
}

function fmt(value, digits = 1) {
  if (value === undefined || value === null || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function firstLine(text) {
  const line = (text ?? '').trim().split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}

// ---------------------------------------------------------------- processes

const live = new Set();
let tmpDir;
let socketCount = 0;
const devNull = fs.openSync('/dev/null', 'w');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Returns promise's value, or rejects with "WHAT did not finish within N s" after ms. */
async function within(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${fmt(ms / 1000, 0)} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Returns a started child in its own process group (so a pipeline under `sh -c` dies as one), with
 * `exited` (resolves {code, signal, time}), `stderrText` and, for stdout 'pipe', `stdoutText` / `stdoutBytes`.
 */
function start(command, args, { stdin = 'ignore', stdout = devNull, keepStdout = true } = {}) {
  const child = spawn(command, args, { stdio: [stdin, stdout, 'pipe'], detached: true });
  live.add(child);
  child.stderrText = '';
  child.stdoutText = '';
  child.stdoutBytes = 0;
  child.stderr.on('data', (data) => {
    if (child.stderrText.length < 8000) child.stderrText += data;
  });
  if (child.stdout) {
    child.stdout.on('data', (data) => {
      child.stdoutBytes += data.length;
      if (keepStdout && child.stdoutText.length < 64000) child.stdoutText += data;
    });
  }
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, time: performance.now() });
    });
    child.on('error', (error) => {
      live.delete(child);
      child.stderrText += `${error.message}\n`;
      resolve({ code: 127, signal: null, time: performance.now(), error });
    });
  });
  child.done = false;
  child.exited.then(() => {
    child.done = true;
  });
  child.stdin?.on('error', () => {});
  return child;
}

function describeExit(result) {
  return result.signal ? `signal ${result.signal}` : `status ${result.code}`;
}

function failure(what, child, result) {
  const detail = firstLine(child.stderrText);
  return new Error(`${what} exited with ${describeExit(result)}${detail ? `: ${detail}` : ''}`);
}

/** Stops child's process group: SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
async function stop(child, graceMs = 1000) {
  if (!child || child.done || child.pid === undefined) return;
  const signal = (name) => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  try {
    await within(child.exited, graceMs, 'stop');
  } catch {
    signal('SIGKILL');
    await within(child.exited, 5000, 'kill').catch(() => {});
  }
}

function killAllNow() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function cleanUp() {
  killAllNow();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}

process.on('exit', cleanUp);
for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(name, () => {
    cleanUp();
    process.kill(process.pid, name);
    process.exit(128 + os.constants.signals[name]);
  });
}

function newSocketPath() {
  return path.join(tmpDir, `s${++socketCount}`);
}

/** Resolves once a socket file exists at socketPath; rejects if child exits first or after timeoutMs. */
async function waitForSocket(socketPath, child, what, timeoutMs = 10000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.done) throw failure(what, child, await child.exited);
    try {
      if (fs.statSync(socketPath).isSocket()) return;
    } catch {
      // not there yet
    }
    if (performance.now() > deadline) throw new Error(`${what}: no socket at ${socketPath} after ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

/** Resolves once child's stdout contains text; rejects if it exits first or after timeoutMs. */
async function waitForOutput(child, text, what, timeoutMs = 10000) {
  const deadline = performance.now() + timeoutMs;
  while (!child.stdoutText.includes(text)) {
    if (child.done) throw failure(what, child, await child.exited);
    if (performance.now() > deadline) throw new Error(`${what}: no "${text}" after ${timeoutMs / 1000} s`);
    await sleep(2);
  }
}

/** Returns the JSON object on the last line a python client printed. */
async function clientResult(child, what, timeoutMs) {
  const result = await within(child.exited, timeoutMs, what);
  if (result.code !== 0) throw failure(what, child, result);
  const lines = child.stdoutText.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

// ---------------------------------------------------------------- tools

function has(command) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

function versionOf(command, args, pattern) {
  const out = spawnSync(command, args, { encoding: 'utf8', timeout: 10000 });
  const text = `${out.stdout ?? ''}\n${out.stderr ?? ''}`;
  const match = pattern.exec(text);
  return match ? match[0].trim() : firstLine(text);
}

function detectTools() {
  const tools = { node: process.version, usock: null, socat: null, nc: null, hyperfine: null, python3: null };
  const usock = spawnSync(USOCK, ['--version'], { encoding: 'utf8', timeout: 10000 });
  tools.usock = usock.status === 0 ? firstLine(usock.stdout) : null;
  if (has('socat')) tools.socat = versionOf('socat', ['-V'], /socat version \S+/);
  if (has('nc')) {
    const help = spawnSync('nc', ['-h'], { encoding: 'utf8', timeout: 10000 });
    const text = `${help.stdout ?? ''}${help.stderr ?? ''}`;
    // -N and -U as used here are netcat-openbsd's; other netcats are skipped
    if (/OpenBSD netcat/.test(text)) tools.nc = firstLine(text);
  }
  tools.taskset = has('taskset');
  tools.tapPcap = /--pcap\b/.test(spawnSync(USOCK, ['tap', '--help'], { encoding: 'utf8', timeout: 10000 }).stdout ?? '');
  if (has('hyperfine')) tools.hyperfine = versionOf('hyperfine', ['--version'], /hyperfine \S+/);
  if (has('python3')) tools.python3 = versionOf('python3', ['--version'], /Python \S+/);
  return tools;
}

// ---------------------------------------------------------------- 1. stream throughput

// $1: byte count; the rest: the sending command, fed from /dev/zero
const SEND_ZEROS = 'n=$1; shift; head -c "$n" /dev/zero | "$@"';

function streamPeers(tools) {
  const peers = [
    {
      name: 'usock',
      listen: (s) => [USOCK, ['listen', s]],
      connect: (s) => [USOCK, ['connect', s]],
    },
  ];
  if (tools.socat) {
    peers.push({
      name: 'socat -b 262144',
      listen: (s) => ['socat', ['-b', '262144', `UNIX-LISTEN:${s}`, '-']],
      connect: (s) => ['socat', ['-b', '262144', '-', `UNIX-CONNECT:${s}`]],
    });
    peers.push({
      name: 'socat',
      listen: (s) => ['socat', [`UNIX-LISTEN:${s}`, '-']],
      connect: (s) => ['socat', ['-', `UNIX-CONNECT:${s}`]],
    });
  }
  if (tools.nc) {
    peers.push({
      name: 'nc',
      listen: (s) => ['nc', ['-lU', s]],
      connect: (s) => ['nc', ['-U', '-N', s]],
      senderMayLinger: true, // netcat-openbsd may not exit by itself: killed once the listener is done
    });
  }
  return peers;
}

/**
 * Returns {seconds, received} for one transfer of `bytes` zeros: listener started first (stdin /dev/null),
 * then `head -c bytes /dev/zero | connect`; the time runs from starting the sender to the listener's exit.
 * With count, the listener's stdout is counted instead of going to /dev/null.
 */
async function streamOnce(peer, bytes, count) {
  const socketPath = newSocketPath();
  const [listenCommand, listenArgs] = peer.listen(socketPath);
  const [connectCommand, connectArgs] = peer.connect(socketPath);
  const listener = start(listenCommand, listenArgs, { stdout: count ? 'pipe' : devNull, keepStdout: false });
  let sender;
  try {
    await waitForSocket(socketPath, listener, `${peer.name} listener`);
    const startTime = performance.now();
    sender = start('sh', ['-c', SEND_ZEROS, 'sh', String(bytes), connectCommand, ...connectArgs]);
    const senderFailed = sender.exited.then((result) =>
      result.code === 0 ? new Promise(() => {}) : Promise.reject(failure(`${peer.name} sender`, sender, result)),
    );
    senderFailed.catch(() => {});
    const limitMs = 10000 + (bytes / (40 * MiB)) * 1000;
    const listened = await within(Promise.race([listener.exited, senderFailed]), limitMs, `${peer.name} transfer`);
    if (listened.code !== 0) throw failure(`${peer.name} listener`, listener, listened);
    const seconds = (listened.time - startTime) / 1000;
    let note;
    try {
      const sent = await within(sender.exited, peer.senderMayLinger ? 300 : 3000, 'sender');
      if (sent.code !== 0) throw failure(`${peer.name} sender`, sender, sent);
    } catch (error) {
      if (!/did not finish/.test(error.message)) throw error;
      if (!peer.senderMayLinger) note = 'sender still running after the listener exited: killed';
    }
    if (count) await new Promise((resolve) => (listener.stdout.readableEnded ? resolve() : listener.stdout.on('end', resolve)));
    return { seconds, received: count ? listener.stdoutBytes : undefined, note };
  } finally {
    await stop(sender);
    await stop(listener);
  }
}

async function benchStream(tools) {
  const results = {};
  const bytes = config.streamBytes;
  const runs = config.streamRuns;
  say(
    `1. stream throughput: ${fmt(bytes / MiB, 0)} MiB of zeros, head | connect -> listen > /dev/null; median of ${runs} run(s) per tool, taken in turn`,
  );
  const peers = [];
  for (const peer of streamPeers(tools)) {
    try {
      // a small counted transfer first, so that a figure is never reported for a tool that loses data
      const check = await streamOnce(peer, config.checkBytes, true);
      if (check.received !== config.checkBytes) {
        throw new Error(`check transfer delivered ${check.received} of ${config.checkBytes} bytes`);
      }
      peers.push({ peer, speeds: [], notes: [] });
    } catch (error) {
      results[peer.name] = { error: error.message };
      say(`   ${peer.name.padEnd(18)} error: ${error.message}`);
    }
  }
  // Taking the tools in turn spreads a noisy minute of the machine over all of them.
  for (let round = 0; round < runs; round++) {
    for (const entry of peers) {
      if (entry.error) continue;
      try {
        const run = await streamOnce(entry.peer, bytes, false);
        entry.speeds.push(bytes / MiB / run.seconds);
        if (run.note) entry.notes.push(run.note);
      } catch (error) {
        entry.error = error.message;
      }
    }
  }
  for (const { peer, speeds, notes, error } of peers) {
    if (error) {
      results[peer.name] = { error };
      say(`   ${peer.name.padEnd(18)} error: ${error}`);
      continue;
    }
    const sorted = [...speeds].sort((a, b) => a - b);
    const mibPerSecond = sorted[Math.floor(sorted.length / 2)];
    const note = [...new Set(notes)].join('; ');
    results[peer.name] = { mib_s: mibPerSecond, runs_mib_s: speeds, bytes, ...(note && { note }) };
    say(
      `   ${peer.name.padEnd(18)} ${fmt(mibPerSecond).padStart(9)} MiB/s  (runs: ${speeds.map((v) => fmt(v, 0)).join(', ')})${note ? `  (${note})` : ''}`,
    );
  }
  sayRatios(results, 'mib_s', 'MiB/s', false);
  return results;
}

/** Prints usock's ratio to each other entry of results on `key`, then (unless blank is false) an empty line. */
function sayRatios(results, key, unit, lowerIsBetter, blank = true) {
  const mine = results.usock?.[key];
  for (const [name, result] of Object.entries(results)) {
    if (name === 'usock' || mine === undefined || result[key] === undefined) continue;
    const ratio = mine / result[key];
    say(`   usock / ${name}: ${fmt(ratio, 2)}x (${unit}${lowerIsBetter ? ', lower is better' : ''})`);
  }
  if (blank) say();
}

// ---------------------------------------------------------------- 2. datagram receive rate

/**
 * Returns {msg_s, seconds, ...} for config.dgrams datagrams from the python sender into a receiver that writes
 * them to a file (done when the file holds them all) or, with untilExit, into one that exits after the last.
 */
async function dgramOnce(name, receiverCommand, receiverArgs, untilExit = false) {
  const socketPath = newSocketPath();
  const outPath = path.join(tmpDir, `dgram-${socketCount}.out`);
  const expected = config.dgrams * config.dgramSize;
  const outFd = fs.openSync(outPath, 'w');
  // stdin is a pipe left open: a dgram listener has nothing to end on
  const receiver = start(receiverCommand, receiverArgs(socketPath), { stdin: 'pipe', stdout: untilExit ? 'pipe' : outFd });
  fs.closeSync(outFd);
  let sender;
  try {
    await waitForSocket(socketPath, receiver, `${name} receiver`);
    sender = start('python3', [CLIENTS, 'dgram-send', socketPath, String(config.dgrams), String(config.dgramSize)], {
      stdin: 'pipe',
      stdout: 'pipe',
    });
    await waitForOutput(sender, 'ready\n', 'python sender');
    const startTime = performance.now();
    sender.stdin.write('go\n');
    const deadline = startTime + 10000 + (config.dgrams / 20000) * 1000;
    let size = 0;
    for (;;) {
      size = fs.statSync(outPath).size;
      if (size >= expected) break;
      if (untilExit && receiver.done && (await receiver.exited).code === 0) {
        size = expected;
        break;
      }
      if (receiver.done) throw failure(`${name} receiver`, receiver, await receiver.exited);
      if (sender.done && (await sender.exited).code !== 0) throw failure('python sender', sender, await sender.exited);
      if (performance.now() > deadline) {
        throw new Error(`${name}: received ${Math.floor(size / config.dgramSize)} of ${config.dgrams} messages before the time limit`);
      }
      await sleep(2);
    }
    const seconds = ((untilExit ? (await receiver.exited).time : performance.now()) - startTime) / 1000;
    const sent = await clientResult(sender, 'python sender', 10000);
    if (size !== expected) throw new Error(`${name}: wrote ${size} bytes, expected ${expected}`);
    return { msg_s: config.dgrams / seconds, seconds, messages: config.dgrams, sender_seconds: sent.seconds };
  } finally {
    await stop(sender);
    await stop(receiver);
  }
}

async function benchDgram(tools) {
  const results = {};
  say(`2. datagram receive rate: ${fmt(config.dgrams, 0)} x ${config.dgramSize}-byte datagrams from python, receiver > file`);
  const receivers = [['usock', USOCK, (s) => ['listen', '-t', 'dgram', '--frame', 'raw', s]]];
  if (tools.socat) receivers.push(['socat UNIX-RECV', 'socat', (s) => ['-u', `UNIX-RECV:${s}`, '-']]);
  for (const [name, command, args] of receivers) {
    try {
      results[name] = await dgramOnce(name, command, args);
      const r = results[name];
      say(
        `   ${name.padEnd(18)} ${fmt(r.seconds, 2).padStart(7)} s  ${fmt(r.msg_s, 0).padStart(9)} msg/s  (sender done after ${fmt(r.sender_seconds, 2)} s)`,
      );
    } catch (error) {
      results[name] = { error: error.message };
      say(`   ${name.padEnd(18)} error: ${error.message}`);
    }
  }
  sayRatios(results, 'msg_s', 'msg/s', false, false);
  try {
    // how fast the sender itself can go, into a python receiver that only counts: the figures above cannot exceed it
    const ceiling = await dgramOnce(
      'python receiver',
      'python3',
      (s) => [CLIENTS, 'dgram-recv', s, String(config.dgrams), String(config.dgramSize)],
      true,
    );
    results.sender_ceiling = { msg_s: ceiling.msg_s, seconds: ceiling.seconds };
    say(`   sender ceiling (python -> python receiver): ${fmt(ceiling.msg_s, 0)} msg/s`);
  } catch (error) {
    results.sender_ceiling = { error: error.message };
    say(`   sender ceiling: error: ${error.message}`);
  }
  say();
  return results;
}

// ---------------------------------------------------------------- 3 and 4. echo server: conn/s and round trip

function echoServers(tools) {
  const servers = [['usock', USOCK, (s) => ['echo-server', s]]];
  if (tools.socat) servers.push(['socat fork PIPE', 'socat', (s) => [`UNIX-LISTEN:${s},fork`, 'PIPE']]);
  return servers;
}

async function benchEcho(tools) {
  const conns = {};
  say(`3. echo server: ${fmt(config.conns, 0)} sequential connections (16 bytes each way)`);
  for (const [name, command, args] of echoServers(tools)) {
    const socketPath = newSocketPath();
    const server = start(command, args(socketPath));
    try {
      await waitForSocket(socketPath, server, `${name} server`);
      try {
        const client = start('python3', [CLIENTS, 'conns', socketPath, String(config.conns), '30'], { stdout: 'pipe' });
        const r = await clientResult(client, 'python connection client', 40000);
        if (r.error) throw new Error(`after ${r.connections} connections: ${r.error}`);
        if (server.done) throw failure(`${name} server`, server, await server.exited);
        conns[name] = { conn_s: r.connections / r.seconds, seconds: r.seconds, connections: r.connections };
        say(
          `   ${name.padEnd(18)} ${fmt(r.seconds, 2).padStart(7)} s  ${fmt(conns[name].conn_s, 0).padStart(9)} conn/s${r.connections < config.conns ? ` (time limit after ${r.connections})` : ''}`,
        );
      } catch (error) {
        conns[name] = { error: error.message };
        say(`   ${name.padEnd(18)} conn/s error: ${error.message}`);
      }
    } catch (error) {
      conns[name] = { error: error.message };
      say(`   ${name.padEnd(18)} error: ${error.message}`);
    } finally {
      await stop(server);
    }
  }
  sayRatios(conns, 'conn_s', 'conn/s', false, false);
  say();
  return conns;
}

/**
 * Where the scheduler puts the server and the client decides the round trip more than either program: on one
 * CPU a message costs two context switches; on two CPUs it costs waking an idle CPU twice (an inter-processor
 * interrupt; in a VM a VM exit and entry each time). Left to the scheduler, the run lands on either, or flips
 * between them mid-run, so unpinned medians were 17 us one run and 50 us the next on the same build. With
 * taskset each placement is measured on its own: server and client both on CPU 0 ("same CPU"), and server on
 * CPU 0, client on CPU 1 ("two CPUs"). Servers are taken in turn, rounds times, and each figure is the median
 * of its rounds' medians.
 */
function rttPlacements(tools) {
  if (!tools.taskset) return [['unpinned', null, null]];
  if (os.cpus().length < 2) return [['same CPU', '0', '0']];
  return [
    ['same CPU', '0', '0'],
    ['two CPUs', '0', '1'],
  ];
}

async function rttOnce(name, command, args, serverCpu, clientCpu) {
  const pin = (cpu, cmd, argv) => (cpu === null ? [cmd, argv] : ['taskset', ['-c', cpu, cmd, ...argv]]);
  const socketPath = newSocketPath();
  const server = start(...pin(serverCpu, command, args(socketPath)));
  try {
    await waitForSocket(socketPath, server, `${name} server`);
    const client = start(...pin(clientCpu, 'python3', [CLIENTS, 'rtt', socketPath, String(config.roundtrips), '30']), { stdout: 'pipe' });
    const r = await clientResult(client, 'python round-trip client', 40000);
    if (r.error) throw new Error(`after ${r.roundtrips} round trips: ${r.error}`);
    if (server.done) throw failure(`${name} server`, server, await server.exited);
    return r;
  } finally {
    await stop(server);
  }
}

/** The reference server of the round-trip section: bench/probes/echo.c in its select mode, no target. */
const C_ECHO = 'C select echo';

/**
 * Returns [name, command, args] of bench/probes/echo.c built with cc into the bench's temporary directory (a
 * minimal server that sleeps in select(2), as socat does, and does nothing else), or null without cc or
 * when it does not build.
 */
function referenceEchoServer() {
  const binary = path.join(tmpDir, 'echo-probe');
  const built = spawnSync('cc', ['-O2', '-o', binary, path.join(ROOT, 'bench', 'probes', 'echo.c')], { stdio: 'ignore', timeout: 60000 });
  return built.status === 0 ? [C_ECHO, binary, (s) => [s, 'select']] : null;
}

async function benchRtt(tools) {
  const placements = rttPlacements(tools);
  const rounds = config.rttRounds;
  const reference = referenceEchoServer();
  say(
    `4. round trip: ${fmt(config.roundtrips, 0)} 16-byte round trips on one connection (python client), ${rounds} round(s) per server and placement${tools.taskset ? '' : ' (taskset missing: unpinned)'}${reference ? `; ${C_ECHO} (bench/probes/echo.c, built with cc) for reference` : ''}`,
  );
  const results = {};
  for (const [placement, serverCpu, clientCpu] of placements) {
    const servers = reference ? [...echoServers(tools), reference] : echoServers(tools);
    const runs = Object.fromEntries(servers.map(([name]) => [name, []]));
    const errors = {};
    for (let round = 0; round < rounds; round++) {
      for (const [name, command, args] of servers) {
        if (errors[name]) continue;
        try {
          const r = await rttOnce(name, command, args, serverCpu, clientCpu);
          runs[name].push(r);
        } catch (error) {
          errors[name] = error.message;
        }
      }
    }
    const figures = {};
    for (const [name] of servers) {
      const list = runs[name];
      if (errors[name] && list.length === 0) {
        figures[name] = { error: errors[name] };
        say(`   ${placement.padEnd(9)} ${name.padEnd(16)} error: ${errors[name]}`);
        continue;
      }
      const medians = list.map((r) => r.median_us);
      figures[name] = {
        median_us: median(medians),
        mean_us: median(list.map((r) => r.mean_us)),
        p99_us: median(list.map((r) => r.p99_us)),
        run_medians_us: medians,
        roundtrips: list.reduce((sum, r) => sum + r.roundtrips, 0),
        server_cpu: serverCpu,
        client_cpu: clientCpu,
      };
      say(
        `   ${placement.padEnd(9)} ${name.padEnd(16)} median ${fmt(figures[name].median_us, 1)} us (rounds: ${medians.map((m) => fmt(m, 1)).join(', ')}), mean ${fmt(figures[name].mean_us, 1)}, p99 ${fmt(figures[name].p99_us, 1)}`,
      );
    }
    sayRatios(figures, 'median_us', `median round trip, ${placement}`, true, false);
    results[placement] = figures;
  }
  say();
  return results;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---------------------------------------------------------------- 5. startup

/** Rounds the startup runs are split into, the commands taken in turn (every other round in reverse order), so that the machine's drift over seconds falls on every command alike. */
const STARTUP_ROUNDS = 6;

/** Returns mean, median and standard deviation (ms) of times (ms), and their count. */
function timeFigures(times) {
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const stddev = Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, times.length - 1));
  return { mean_ms: mean, median_ms: median(times), stddev_ms: stddev, runs: times.length };
}

function startupWithHyperfine(commands) {
  const jsonPath = path.join(tmpDir, 'hyperfine.json');
  const rounds = Math.min(STARTUP_ROUNDS, config.startupRuns);
  const times = commands.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const runs = Math.floor((config.startupRuns * (round + 1)) / rounds) - Math.floor((config.startupRuns * round) / rounds);
    const order = commands.map((_, i) => i);
    if (round % 2) order.reverse();
    const run = spawnSync(
      'hyperfine',
      [
        '-N',
        '--warmup',
        round === 0 ? '3' : '1',
        '--runs',
        String(runs),
        '--style',
        'none',
        '--export-json',
        jsonPath,
        ...order.map((i) => commands[i].join(' ')),
      ],
      { encoding: 'utf8', timeout: 180000 },
    );
    if (run.status !== 0) throw new Error(`hyperfine failed: ${firstLine(run.stderr || run.error?.message)}`);
    const report = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
    for (const [k, r] of report.results.entries()) times[order[k]].push(...r.times.map((t) => t * 1000));
  }
  return times.map(timeFigures);
}

function startupWithSpawn(commands) {
  const times = commands.map(() => []);
  for (let i = 0; i < config.startupRuns + 3; i++) {
    const order = commands.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      const [command, ...args] = commands[k];
      const t0 = performance.now();
      const run = spawnSync(command, args, { stdio: 'ignore', timeout: 10000 });
      const elapsed = performance.now() - t0;
      if (run.status !== 0) throw new Error(`${commands[k].join(' ')} exited with status ${run.status}`);
      if (i >= 3) times[k].push(elapsed);
    }
  }
  return times.map(timeFigures);
}

async function benchStartup(tools) {
  const results = {};
  const socketPath = newSocketPath();
  const commands = [
    ['usock --version', [USOCK, '--version']],
    ['usock connect -z', [USOCK, 'connect', '-z', socketPath]],
    ['node -e 0', ['node', '-e', '0']],
  ];
  const how = tools.hyperfine && !/\s/.test(USOCK) && !/\s/.test(socketPath) ? 'hyperfine' : 'spawnSync';
  say(
    `5. startup: ${config.startupRuns} runs each (${how}), the commands taken in turn${how === 'hyperfine' ? ` in ${STARTUP_ROUNDS} rounds` : ''}; connect -z to a usock echo-server`,
  );
  const server = start(USOCK, ['echo-server', socketPath]);
  try {
    await waitForSocket(socketPath, server, 'usock echo-server');
    const figures = how === 'hyperfine' ? startupWithHyperfine(commands.map((c) => c[1])) : startupWithSpawn(commands.map((c) => c[1]));
    commands.forEach(([name], i) => {
      results[name] = { ...figures[i], method: how };
      say(
        `   ${name.padEnd(18)} mean ${fmt(figures[i].mean_ms, 1).padStart(7)} ms +- ${fmt(figures[i].stddev_ms, 1)}, median ${fmt(figures[i].median_ms, 1)} ms`,
      );
    });
    for (const i of [0, 1]) {
      say(
        `   ${commands[i][0]} minus node -e 0: mean ${fmt(figures[i].mean_ms - figures[2].mean_ms, 1)} ms, median ${fmt(figures[i].median_ms - figures[2].median_ms, 1)} ms`,
      );
    }
  } catch (error) {
    results.error = error.message;
    say(`   error: ${error.message}`);
  } finally {
    await stop(server);
  }
  say();
  return results;
}

// ---------------------------------------------------------------- 6. tap

/** Writes bytes of text to file: base64 lines of 76 characters (a newline to escape every 77 bytes), as a text protocol's log might look. */
function writeText(file, bytes) {
  const line = Buffer.from(
    `${Buffer.from(Array.from({ length: 57 * 1024 }, (_, i) => (i * 7919) % 251))
      .toString('base64')
      .replace(/(.{76})/g, '$1\n')}`,
  );
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= Math.min(left, line.length)) fs.writeSync(fd, line, 0, Math.min(left, line.length));
  } finally {
    fs.closeSync(fd);
  }
}

/** The relays between `usock connect` and `usock listen`: each a command line taking (listen path, target path, record file). */
function tapRelays(tools) {
  const relays = [];
  if (tools.socat)
    relays.push({
      name: 'socat -b 262144 relay',
      records: false,
      args: (l, t) => ['socat', ['-b', '262144', `UNIX-LISTEN:${l},fork`, `UNIX-CONNECT:${t}`]],
    });
  relays.push({ name: 'usock tap', records: true, args: (l, t, r) => [USOCK, ['tap', '--log', r, l, t]] });
  if (tools.tapPcap)
    relays.push({ name: 'usock tap --pcap', records: true, args: (l, t, r) => [USOCK, ['tap', '--log', r, '--pcap', `${r}.pcap`, l, t]] });
  if (tools.socat)
    relays.push({
      name: 'socat -v',
      records: true,
      slow: true,
      args: (l, t, r) => ['sh', ['-c', 'exec socat -v "UNIX-LISTEN:$1,fork" "UNIX-CONNECT:$2" 2>"$3"', 'sh', l, t, r]],
    });
  return relays;
}

/**
 * Returns {seconds, received, recorded} for one transfer of the text file through relay: `usock listen T`
 * (stdout counted when count, else /dev/null), the relay from L to T, then `usock connect L < file`; the
 * time runs from starting the sender to the listener's exit. recorded: bytes of records written.
 */
async function tapOnce(relay, file, bytes, count) {
  // Earlier runs' records (gigabytes) still being written back to disk would take CPU from this run: start clean.
  spawnSync('sync', [], { stdio: 'ignore', timeout: 120000 });
  const target = newSocketPath();
  const listenPath = newSocketPath();
  const records = tapRecordsPath(relay);
  // The relay's records from its last run are emptied now, not deleted after it: on a VM that hands freed
  // memory back to its host (Firecracker's free page reporting), pages freed seconds earlier fault in again
  // slowly, and the page cache that holds the records would cost more in the first run after a deletion.
  for (const f of [records, `${records}.pcap`]) if (fs.existsSync(f)) fs.truncateSync(f, 0);
  const listener = start(USOCK, ['listen', target], { stdout: count ? 'pipe' : devNull, keepStdout: false });
  let middle;
  let sender;
  try {
    await waitForSocket(target, listener, 'usock listen');
    middle = start(...relay.args(listenPath, target, records));
    await waitForSocket(listenPath, middle, relay.name);
    const startTime = performance.now();
    sender = start('sh', ['-c', 'exec "$1" connect "$2" < "$3"', 'sh', USOCK, listenPath, file]);
    const limitMs = 20000 + (bytes / (relay.slow ? 0.2 * MiB : 20 * MiB)) * 1000;
    const listened = await within(listener.exited, limitMs, `${relay.name} transfer`);
    if (listened.code !== 0) throw failure('usock listen', listener, listened);
    const seconds = (listened.time - startTime) / 1000;
    if (count) await new Promise((resolve) => (listener.stdout.readableEnded ? resolve() : listener.stdout.on('end', resolve)));
    await stop(middle); // records are complete once the relay has exited
    let recorded = 0;
    for (const f of [records, `${records}.pcap`]) {
      try {
        recorded += fs.statSync(f).size;
      } catch {
        // no such record file
      }
    }
    return { seconds, received: count ? listener.stdoutBytes : undefined, recorded };
  } finally {
    await stop(sender);
    await stop(middle);
    await stop(listener);
  }
}

/** Returns where relay's records go, the same file in each of its runs (see tapOnce). */
function tapRecordsPath(relay) {
  return path.join(tmpDir, `records-${relay.name.replace(/[^a-z0-9]+/gi, '-')}`);
}

/** Returns the median round trip through relay to `usock echo-server` (python client), all three pinned as placement says. */
async function tapRttOnce(relay, cpus) {
  const pin = (cpu, cmd, argv) => (cpu === null ? [cmd, argv] : ['taskset', ['-c', cpu, cmd, ...argv]]);
  const echo = newSocketPath();
  const records = path.join(tmpDir, `records-${socketCount}`);
  const server = start(...pin(cpus.server, USOCK, ['echo-server', echo]));
  let middle;
  try {
    await waitForSocket(echo, server, 'usock echo-server');
    let entry = echo;
    if (relay) {
      entry = newSocketPath();
      middle = start(...pin(cpus.relay, ...relay.args(entry, echo, records)));
      await waitForSocket(entry, middle, relay.name);
    }
    const client = start(...pin(cpus.client, 'python3', [CLIENTS, 'rtt', entry, String(config.roundtrips), '30']), { stdout: 'pipe' });
    const r = await clientResult(client, 'python round-trip client', 40000);
    if (r.error) throw new Error(`after ${r.roundtrips} round trips: ${r.error}`);
    return r.median_us;
  } finally {
    await stop(middle);
    await stop(server);
    fs.rmSync(records, { force: true });
    fs.rmSync(`${records}.pcap`, { force: true });
  }
}

async function benchTap(tools) {
  const results = { throughput: {}, roundtrip: {} };
  const relays = tapRelays(tools);
  const file = path.join(tmpDir, 'text');
  const slowFile = path.join(tmpDir, 'text-small');
  writeText(file, config.tapBytes);
  writeText(slowFile, config.socatVBytes);
  say(
    `6. tap: ${fmt(config.tapBytes / MiB, 0)} MiB of text (base64 lines) \`usock connect L < FILE\` -> relay -> \`usock listen T > /dev/null\`, records to a file (emptied just before each run, sync before it); one untimed warm-up run each, then the median of ${config.tapRuns} run(s), relays taken in turn (socat -v: ${fmt(config.socatVBytes / MiB, 0)} MiB)`,
  );
  const entries = [];
  for (const relay of relays) {
    try {
      const check = await tapOnce(relay, slowFile, config.socatVBytes, true);
      if (check.received !== config.socatVBytes)
        throw new Error(`check transfer delivered ${check.received} of ${config.socatVBytes} bytes`);
      if (relay.records && check.recorded < config.socatVBytes)
        throw new Error(`check transfer recorded ${check.recorded} bytes for ${config.socatVBytes} relayed`);
      entries.push({ relay, speeds: [], recorded: 0 });
    } catch (error) {
      results.throughput[relay.name] = { error: error.message };
      say(`   ${relay.name.padEnd(22)} error: ${error.message}`);
    }
  }
  // Round -1 warms up, untimed: each relay moves the whole text once, so that its records file holds the
  // pages its timed runs reuse (see tapOnce).
  for (let round = -1; round < config.tapRuns; round++) {
    for (const entry of entries) {
      if (entry.error || (entry.relay.slow && round !== 0)) continue;
      const bytes = entry.relay.slow ? config.socatVBytes : config.tapBytes;
      try {
        const run = await tapOnce(entry.relay, entry.relay.slow ? slowFile : file, bytes, false);
        if (round < 0) continue;
        entry.speeds.push(bytes / MiB / run.seconds);
        entry.recorded = run.recorded / bytes;
      } catch (error) {
        entry.error = error.message;
      }
    }
  }
  fs.rmSync(file, { force: true });
  for (const relay of relays) for (const f of [tapRecordsPath(relay), `${tapRecordsPath(relay)}.pcap`]) fs.rmSync(f, { force: true });
  for (const { relay, speeds, recorded, error } of entries) {
    if (error) {
      results.throughput[relay.name] = { error };
      say(`   ${relay.name.padEnd(22)} error: ${error}`);
      continue;
    }
    results.throughput[relay.name] = { mib_s: median(speeds), runs_mib_s: speeds, record_bytes_per_byte: relay.records ? recorded : null };
    say(
      `   ${relay.name.padEnd(22)} ${fmt(median(speeds)).padStart(9)} MiB/s  (runs: ${speeds.map((v) => fmt(v, 0)).join(', ')})${relay.records ? `, ${fmt(recorded, 2)} bytes of records per byte` : ''}`,
    );
  }
  // Round trip added by a relay: through it minus straight to the echo server, in the same round.
  const placements =
    !tools.taskset || os.cpus().length < 2
      ? [['unpinned', { server: null, relay: null, client: null }]]
      : [
          ['same CPU', { server: '0', relay: '0', client: '0' }],
          ['relay apart', { server: '0', relay: '1', client: '0' }],
        ];
  const rttRelays = relays.filter((r) => !r.slow && !/--pcap/.test(r.name));
  for (const [placement, cpus] of placements) {
    const added = Object.fromEntries(rttRelays.map((r) => [r.name, []]));
    const errors = {};
    for (let round = 0; round < config.rttRounds; round++) {
      try {
        const direct = await tapRttOnce(null, cpus);
        for (const relay of rttRelays) {
          if (errors[relay.name]) continue;
          try {
            added[relay.name].push((await tapRttOnce(relay, cpus)) - direct);
          } catch (error) {
            errors[relay.name] = error.message;
          }
        }
      } catch (error) {
        for (const relay of rttRelays) errors[relay.name] ??= `direct round trip: ${error.message}`;
      }
    }
    const figures = {};
    for (const relay of rttRelays) {
      if (added[relay.name].length === 0) {
        figures[relay.name] = { error: errors[relay.name] };
        say(`   round trip added, ${placement}: ${relay.name} error: ${errors[relay.name]}`);
        continue;
      }
      figures[relay.name] = { added_us: median(added[relay.name]), rounds_us: added[relay.name] };
      say(
        `   round trip added, ${placement.padEnd(11)} ${relay.name.padEnd(22)} ${fmt(figures[relay.name].added_us, 1).padStart(6)} us (rounds: ${added[relay.name].map((v) => fmt(v, 1)).join(', ')})`,
      );
    }
    results.roundtrip[placement] = figures;
  }
  say();
  return results;
}

// ---------------------------------------------------------------- summary

/** Returns the rows of the summary: each figure, the peer's figure, the ratio and whether the target is met. */
function comparisons(results) {
  const rows = [];
  const add = (metric, section, key, peer, target, unit, lowerIsBetter = false) => {
    const where = Array.isArray(section) ? section.reduce((o, k) => o?.[k], results) : results[section];
    const mine = where?.usock;
    const theirs = where?.[peer];
    if (!theirs) return;
    const row = {
      metric,
      unit,
      usock: mine?.[key] ?? null,
      peer,
      peer_value: theirs[key] ?? null,
      ratio: null,
      target: target?.text ?? null,
      pass: null,
    };
    if (row.usock !== null && row.peer_value !== null) {
      row.ratio = row.usock / row.peer_value;
      if (target) row.pass = lowerIsBetter ? row.ratio <= target.ratio : row.ratio >= target.ratio;
    }
    if (mine?.error || theirs.error) row.error = mine?.error ?? theirs.error;
    rows.push(row);
  };
  add('stream', 'stream', 'mib_s', 'socat -b 262144', { ratio: 1, text: '>= 1x' }, 'MiB/s');
  add('stream', 'stream', 'mib_s', 'socat', { ratio: 2, text: '>= 2x' }, 'MiB/s');
  add('stream', 'stream', 'mib_s', 'nc', null, 'MiB/s');
  add('datagram', 'dgram', 'msg_s', 'socat UNIX-RECV', { ratio: 1.5, text: '>= 1.5x' }, 'msg/s');
  add('echo conns', 'echo_conns', 'conn_s', 'socat fork PIPE', { ratio: 2, text: '>= 2x' }, 'conn/s');
  for (const placement of Object.keys(results.roundtrip ?? {})) {
    add(
      `round trip (median, ${placement})`,
      ['roundtrip', placement],
      'median_us',
      'socat fork PIPE',
      { ratio: 1, text: '<= 1x' },
      'us',
      true,
    );
    add(`round trip (median, ${placement})`, ['roundtrip', placement], 'median_us', C_ECHO, null, 'us', true);
  }
  const tap = results.tap;
  if (tap) {
    const relayRow = (metric, mine, peer, key, target, unit, lowerIsBetter = false) => {
      const a = mine?.[key] ?? null;
      const b = peer?.[key] ?? null;
      if (!mine && !peer) return;
      const row = { metric, unit, usock: a, peer: target.peer, peer_value: b, ratio: null, target: target.text, pass: null };
      if (a !== null && b !== null) {
        row.ratio = a / b;
        if (target.ratio !== null) row.pass = lowerIsBetter ? a <= b * target.ratio : row.ratio >= target.ratio;
      }
      if (mine?.error || peer?.error) row.error = mine?.error ?? peer?.error;
      rows.push(row);
    };
    const t = tap.throughput;
    relayRow(
      'tap, records to a file',
      t['usock tap'],
      t['socat -b 262144 relay'],
      'mib_s',
      { peer: 'socat -b 262144 relay', ratio: 0.5, text: '>= 0.5x' },
      'MiB/s',
    );
    if (t['usock tap --pcap'])
      relayRow(
        'tap --pcap, records to a file',
        t['usock tap --pcap'],
        t['socat -b 262144 relay'],
        'mib_s',
        { peer: 'socat -b 262144 relay', ratio: 0.5, text: '>= 0.5x' },
        'MiB/s',
      );
    relayRow('tap, records to a file', t['usock tap'], t['socat -v'], 'mib_s', { peer: 'socat -v', ratio: 100, text: '>= 100x' }, 'MiB/s');
    for (const [placement, figures] of Object.entries(tap.roundtrip ?? {})) {
      relayRow(
        `round trip added by tap (${placement})`,
        figures['usock tap'],
        figures['socat -b 262144 relay'],
        'added_us',
        { peer: 'socat -b 262144 relay', ratio: 1, text: '<= socat' },
        'us',
        true,
      );
    }
  }
  const startup = results.startup;
  for (const [name, limit] of [
    ['usock --version', 5],
    ['usock connect -z', 10],
  ]) {
    if (!startup || !(startup[name] || startup.error)) continue;
    const mine = startup[name]?.mean_ms ?? null;
    const node = startup['node -e 0']?.mean_ms ?? null;
    const row = {
      metric: `startup ${name.slice(6)} (mean)`,
      unit: 'ms',
      usock: mine,
      peer: 'node -e 0',
      peer_value: node,
      ratio: null,
      difference: null,
      target: `<= +${limit} ms`,
      pass: null,
    };
    if (mine !== null && node !== null) {
      row.ratio = mine / node;
      row.difference = mine - node;
      row.pass = row.difference <= limit;
    }
    if (startup.error) row.error = startup.error;
    rows.push(row);
  }
  return rows;
}

function printSummary(rows) {
  const header = ['figure', 'usock', 'peer', 'peer value', 'ratio', 'target', 'result'];
  const lines = rows.map((row) => {
    const digits = row.unit === 'us' || row.unit === 'ms' || row.unit === 'MiB/s' ? 1 : 0;
    const ratio =
      row.ratio === null
        ? '-'
        : row.difference !== undefined && row.difference !== null
          ? `${row.difference >= 0 ? '+' : ''}${fmt(row.difference, 1)} ms`
          : `${fmt(row.ratio, 2)}x`;
    const result = row.pass === null ? (row.error ? 'error' : row.target ? 'n/a' : '') : row.pass ? 'PASS' : 'FAIL';
    return [`${row.metric} ${row.unit}`, fmt(row.usock, digits), row.peer, fmt(row.peer_value, digits), ratio, row.target ?? '-', result];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells) =>
    cells
      .map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  say('Summary (ratio = usock / peer; for startup, usock minus node)');
  say(render(header));
  say(render(widths.map((w) => '-'.repeat(w))));
  for (const line of lines) say(render(line));
  const errors = [...new Set(rows.filter((row) => row.error).map((row) => row.error))];
  if (errors.length) {
    say();
    for (const error of errors) say(`error: ${error}`);
  }
}

// ---------------------------------------------------------------- main

async function main() {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'usb-'));
  const tools = detectTools();
  const cpus = os.cpus();
  say(
    `usock bench: ${tools.usock ? `usock ${tools.usock}` : 'usock (--version failed)'}, node ${process.version}, ${cpus.length} CPU ${cpus[0]?.model ?? ''}`.trim(),
  );
  const load = os.loadavg()[0];
  tools.loadavg = load;
  if (load > 0.5) say(`warning: load average ${fmt(load, 2)} before the run: other work on the machine will skew the figures`);
  say(`peers: ${['socat', 'nc', 'hyperfine', 'python3'].map((t) => `${t} ${tools[t] ? 'yes' : 'missing'}`).join(', ')}`);
  say();
  const results = {};
  if (options.only.has('stream')) results.stream = await benchStream(tools);
  const needPython = ['dgram', 'echo', 'rtt'].filter((s) => options.only.has(s));
  if (needPython.length && !tools.python3) {
    say(`python3 missing: skipping ${needPython.join(', ')}`);
  } else {
    if (options.only.has('dgram')) results.dgram = await benchDgram(tools);
    if (options.only.has('echo')) results.echo_conns = await benchEcho(tools);
    if (options.only.has('rtt')) results.roundtrip = await benchRtt(tools);
  }
  if (options.only.has('startup')) results.startup = await benchStartup(tools);
  if (options.only.has('tap')) {
    if (!tools.python3) say('python3 missing: skipping tap');
    else results.tap = await benchTap(tools);
  }
  const rows = comparisons(results);
  printSummary(rows);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ config, tools, results, comparisons: rows })}\n`);
  }
}

try {
  await main();
} finally {
  cleanUp();
}
