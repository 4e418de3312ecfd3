// Unit tests of the quick parse: wherever it reads a command line, yargs (usock's parser, makeParser) reads the same command and argv.
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import yargs from 'yargs';
import { globalOptions } from '../../../src/cli/options.ts';
import { makeParser } from '../../../src/cli/parser.ts';
import { quickParse } from '../../../src/cli/quickparse.ts';
import { commands } from '../../../src/cli/registry.ts';

globalThis.__USOCK_VERSION__ = '0.0.0-test'; // the build's define

/** Returns { command, argv } as yargs reads args, or { error } when it fails. */
async function yargsRead(args) {
  let got;
  try {
    await makeParser(yargs, args, null, (command, argv) => {
      got = { command: command.command, argv };
    }).parseAsync();
  } catch (err) {
    return { error: err.message };
  }
  return got ?? { error: 'no command ran' };
}

/** Returns the options of cmd (global ones too) as [name, definition] pairs, read from its builder. */
function optionsOf(cmd) {
  const defs = Object.entries(globalOptions);
  const recorder = new Proxy({}, {
    get: (_t, method) => (...args) => {
      if (method === 'options') defs.push(...Object.entries(args[0]));
      if (method === 'option') defs.push([args[0], args[1] ?? {}]);
      return recorder;
    },
  });
  cmd.builder(recorder);
  return defs;
}

/** Returns the words that give option [name, def] in the ways a user may write it (some of them wrong). */
function optionWords([name, def]) {
  const aliases = def.alias === undefined ? [] : [def.alias].flat();
  const flags = [name, ...aliases].map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
  const values = def.choices ? [...def.choices.map(String), 'bogus'] : ['5', '/tmp/a.sock', 'true', '0x10', '', '-1', 'a b', 'x=y'];
  const out = [];
  for (const flag of flags) {
    out.push([flag]);
    for (const v of values) {
      out.push([flag, v]);
      if (flag.startsWith('--')) out.push([`${flag}=${v}`]);
    }
  }
  out.push([`--${name.replace(/-([a-z])/g, (_m, c) => c.toUpperCase())}`, '5']); // the camelCase form, which yargs reads too
  return out;
}

const POSITIONAL_VALUES = ['/tmp/a.sock', '@abstract', '5', 'true', 'a b', 'listen', 'a=b', 'ü', '-', '-5', '--'];

/** Returns command lines of cmd: positionals alone, each option way with them, option pairs, options first, extra words. */
function commandLines(cmd) {
  const name = cmd.command.split(' ')[0];
  const slots = cmd.command.split(' ').length - 1;
  const positionalSets = [[]];
  for (let n = 1; n <= slots + 1; n++) positionalSets.push(POSITIONAL_VALUES.slice(0, n), POSITIONAL_VALUES.slice(POSITIONAL_VALUES.length - n));
  for (const v of POSITIONAL_VALUES) positionalSets.push([v]);
  const lines = positionalSets.map((p) => [name, ...p]);
  const ways = optionsOf(cmd).flatMap(optionWords);
  const base = positionalSets[1];
  for (const w of ways) lines.push([name, ...base, ...w], [name, ...w, ...base]);
  const some = ways.filter((_w, i) => i % 4 === 0);
  for (const a of some) for (const b of some) lines.push([name, ...base, ...a, ...b]);
  lines.push([name, ...base, '--', 'x'], [name, ...base, '-h'], [name, ...base, '--help'], [name, ...base, '--version'], ['-v', name, ...base], [name, ...base, '-zv']);
  return lines;
}

test('wherever the quick parse reads a command line, yargs reads the same command and argv', async (t) => {
  let read = 0;
  let total = 0;
  const wrong = [];
  for (const cmd of commands) {
    for (const args of commandLines(cmd)) {
      total++;
      const quick = quickParse(args, commands, globalOptions);
      if (!quick) continue;
      read++;
      const y = await yargsRead(args);
      if (y.error !== undefined) {
        wrong.push(`${JSON.stringify(args)}: the quick parse reads it, yargs fails: ${y.error}`);
        continue;
      }
      if (quick.command.command !== y.command || !isDeepStrictEqual(quick.argv, y.argv)) {
        wrong.push(`${JSON.stringify(args)}: quick ${JSON.stringify(quick.argv)} (${quick.command.command}), yargs ${JSON.stringify(y.argv)} (${y.command})`);
      }
    }
  }
  t.log(`${read} of ${total} command lines read by the quick parse`);
  t.deepEqual(wrong.slice(0, 20), []);
  t.true(read > 1000, `only ${read} of ${total} read quickly`);
});

test('the quick parse reads the plain command lines', (t) => {
  const connect = quickParse(['connect', '-z', '/tmp/x.sock'], commands, globalOptions);
  t.is(connect?.command.command, 'connect <address>');
  // -t has no default in argv: an unset -t takes an inherited socket's type (fd:N, sd:), stream otherwise.
  t.deepEqual(connect?.argv, { _: ['connect'], z: true, probe: true, $0: 'usock', address: '/tmp/x.sock' });
  t.like(quickParse(['listen', '@a', '--max-conns=5', '-t', 'seqpacket'], commands, globalOptions)?.argv,
    { 'max-conns': '5', maxConns: '5', type: 'seqpacket', t: 'seqpacket', address: '@a' });
});

test('the quick parse leaves help, the version, unknown words and doubtful values to yargs', (t) => {
  for (const args of [[], ['--help'], ['help', 'connect'], ['connect', '/x', '--help'], ['connect', '/x', '-h'], ['--version'], ['connect'],
    ['connect', '/x', 'y'], ['connect', '/x', '--bogus'], ['bogus'], ['connect', '/x', '-w', '-1'], ['connect', '/x', '-w'], ['connect', '/x', '-zv'],
    ['connect', '/x', '-w', '1', '-w', '2'], ['connect', '/x', '--', 'a'], ['connect', '/x', '--type', 'bogus'], ['connect', '/x', '--probe=true'],
    ['listen', '/x', '--allow-uid', '5'], ['-v', 'connect', '/x'], ['connect', '-']]) {
    t.is(quickParse(args, commands, globalOptions), undefined, JSON.stringify(args));
  }
});
