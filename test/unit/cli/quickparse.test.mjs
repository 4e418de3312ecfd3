// Unit tests of the quick parse: wherever it reads a command line, yargs (usock's parser, makeParser) reads the same command, and both settle to the same settings (or the same error).
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import yargs from 'yargs';
import { makeParser } from '../../../src/cli/parser.ts';
import { quickParse } from '../../../src/cli/quickparse.ts';
import { commands } from '../../../src/cli/registry.ts';
import { optionsOf, settle } from '../../../src/cli/settle.ts';
import { kebab } from '../../../src/cli/spec.ts';

globalThis.__USOCK_VERSION__ = '0.0.0-test'; // the build's define

/** Returns the settings of given for command, or { error } when settling throws. */
function settled(command, given) {
  try {
    return settle(command.spec, given);
  } catch (err) {
    return { error: String(err instanceof Error ? err.message : err) };
  }
}

/** Returns { command, settings } as yargs reads args, or { error } when it fails. */
async function yargsRead(args) {
  let got;
  try {
    await makeParser(yargs, args, null, (command, given) => {
      got = { command, settings: settled(command, given) };
    }).parseAsync();
  } catch (err) {
    return { error: String(err instanceof Error ? err.message : err) };
  }
  return got ?? { error: 'no command ran' };
}

/** Returns the words that give option [key, opt] in the ways a user may write it (some of them wrong). */
function optionWords([key, opt]) {
  const flags = [`--${kebab(key)}`, ...(opt.short ? [`-${opt.short}`] : [])];
  const values = opt.value.choices ? [...opt.value.choices, 'bogus'] : ['5', '/tmp/a.sock', 'true', '0x10', '', '-1', 'a b', 'x=y', '0600'];
  const out = [];
  for (const flag of flags) {
    out.push([flag]);
    for (const v of values) {
      out.push([flag, v]);
      if (flag.startsWith('--')) out.push([`${flag}=${v}`]);
    }
  }
  out.push([flags[0], '5', flags[0], '6']); // given twice
  out.push([`--${key}`, '5']); // the camelCase form, which yargs reads too
  return out;
}

const POSITIONAL_VALUES = ['/tmp/a.sock', '@abstract', '5', 'true', 'a b', 'listen', 'a=b', 'ü', '-', '-5', '--'];

/** Returns command lines of cmd: positionals alone, each option way with them, option pairs, options first, extra words. */
function commandLines(cmd) {
  const { name } = cmd.spec;
  const slots = Object.keys(cmd.spec.positionals).length;
  /** @type {string[][]} */
  const positionalSets = [[]];
  for (let n = 1; n <= slots + 1; n++)
    positionalSets.push(POSITIONAL_VALUES.slice(0, n), POSITIONAL_VALUES.slice(POSITIONAL_VALUES.length - n));
  for (const v of POSITIONAL_VALUES) positionalSets.push([v]);
  const lines = positionalSets.map((p) => [name, ...p]);
  const ways = optionsOf(cmd.spec).flatMap(optionWords);
  const base = positionalSets[1];
  for (const w of ways) lines.push([name, ...base, ...w], [name, ...w, ...base]);
  // Pairs of ways: 400 of them, spread over every option (a fixed stride, so that each run tries the same).
  for (let i = 0; i < 400; i++) lines.push([name, ...base, ...ways[(i * 7) % ways.length], ...ways[(i * 131 + 17) % ways.length]]);
  lines.push(
    [name, ...base, '--', 'x'],
    [name, ...base, '--'],
    [name, ...base, '--', '-x', '5', '', '--', 'a b'],
    [name, '--', ...base],
    [name, ...base, '-v', '--', 'x'],
    [name, ...base, '-h'],
    [name, ...base, '--help'],
    [name, ...base, '--version'],
    ['-v', name, ...base],
    [name, ...base, '-zv'],
  );
  return lines;
}

// One test per command: ava's timeout counts from the last test that ended, and each reads thousands of lines.
for (const cmd of commands) {
  test(`${cmd.spec.name}: wherever the quick parse reads a command line, yargs reads the same command, and both settle alike`, async (t) => {
    let read = 0;
    let total = 0;
    const wrong = [];
    for (const args of commandLines(cmd)) {
      total++;
      const quick = quickParse(args, commands);
      if (!quick) continue;
      read++;
      const y = await yargsRead(args);
      if (y.error !== undefined) {
        wrong.push(`${JSON.stringify(args)}: the quick parse reads it, yargs fails: ${y.error}`);
        continue;
      }
      const mine = settled(quick.command, quick.given);
      if (quick.command !== y.command || !isDeepStrictEqual(mine, y.settings)) {
        wrong.push(
          `${JSON.stringify(args)}: quick ${JSON.stringify(mine)} (${quick.command.spec.name}), yargs ${JSON.stringify(y.settings)} (${y.command.spec.name})`,
        );
      }
    }
    t.log(`${read} of ${total} command lines read by the quick parse`);
    t.deepEqual(wrong.slice(0, 20), []);
    t.true(read >= 20, `only ${read} of ${total} read quickly`);
  });
}

const command = (name) => commands.find((c) => c.spec.name === name);

test('the quick parse reads the plain command lines', (t) => {
  const connect = quickParse(['connect', '-z', '/tmp/x.sock'], commands);
  t.is(connect?.command, command('connect'));
  t.deepEqual(connect?.given, { options: new Map([['probe', []]]), positionals: new Map([['address', '/tmp/x.sock']]), rest: undefined });
  const recv = quickParse(['recv-fd', '@x', '--', 'cat', '-n', '--'], commands);
  t.deepEqual(recv?.given.rest, ['cat', '-n', '--'], 'the words after -- as they are');
  t.deepEqual(quickParse(['completion', '--complete', '--', 'connect', '-t', ''], commands)?.given.rest, ['connect', '-t', '']);
  const listen = quickParse(['listen', '@a', '--max-conns=5', '-t', 'seqpacket', '-k', '--allow-uid', '1', '--allow-uid', '2'], commands);
  t.truthy(listen);
  if (listen)
    t.like(settle(listen.command.spec, listen.given), {
      maxConns: 5,
      type: 'seqpacket',
      address: '@a',
      keepOpen: true,
      allowUid: ['1', '2'],
      frame: 'line',
    });
});

test('the quick parse leaves help, the version, unknown words and doubtful values to yargs', (t) => {
  for (const args of [
    [],
    ['--help'],
    ['help', 'connect'],
    ['connect', '/x', '--help'],
    ['connect', '/x', '-h'],
    ['--version'],
    ['connect'],
    ['connect', '/x', 'y'],
    ['connect', '/x', '--bogus'],
    ['bogus'],
    ['connect', '/x', '-w', '-1'],
    ['connect', '/x', '-w'],
    ['connect', '/x', '-zv'],
    ['connect', '/x', '-w', '1', '-w', '2'],
    ['connect', '/x', '--type', 'bogus'],
    ['connect', '/x', '--probe=true'],
    ['connect', '/x', '--maxSize', '5'],
    ['-v', 'connect', '/x'],
    ['activate'],
    ['activate', '--now'],
    ['connect', '-'],
  ]) {
    t.is(quickParse(args, commands), undefined, JSON.stringify(args));
  }
});
