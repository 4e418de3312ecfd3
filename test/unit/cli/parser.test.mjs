// Unit tests of the parser's own words: unknown options named as the user wrote them, before whatever yargs made of them.
import test from 'ava';
import { unknownOptions, usageMessage } from '../../../src/cli/parser.ts';
import { commands } from '../../../src/cli/registry.ts';

globalThis.__USOCK_VERSION__ = '0.0.0-test'; // the build's define

/** @param {string} name */
const command = (name) => {
  const found = commands.find((c) => c.spec.name === name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
};

test('unknownOptions names each unknown option as written, in every command', (t) => {
  for (const cmd of commands) {
    const { name } = cmd.spec;
    t.deepEqual(unknownOptions([name, '-x', '/tmp/a.sock'], cmd), ['-x'], name);
    t.deepEqual(unknownOptions([name, '--frob', '/tmp/a.sock'], cmd), ['--frob'], name);
    t.deepEqual(unknownOptions([name, '--frob=1', '/tmp/a.sock'], cmd), ['--frob'], name);
  }
});

test('unknownOptions knows aliases, camelCase forms, values, flag groups, negative numbers and --', (t) => {
  const connect = command('connect');
  t.deepEqual(unknownOptions(['connect', '-t', 'dgram', '--max-size', '5', '/tmp/a'], connect), []);
  t.deepEqual(unknownOptions(['connect', '--maxSize', '5', '/tmp/a'], connect), []);
  t.deepEqual(unknownOptions(['connect', '-w', '-5', '/tmp/a'], connect), []);
  t.deepEqual(unknownOptions(['connect', '--bind', '-odd', '/tmp/a'], connect), [], 'a value that begins with -');
  t.deepEqual(unknownOptions(['connect', '-zv', '/tmp/a'], connect), []);
  t.deepEqual(unknownOptions(['connect', '-zx', '/tmp/a'], connect), ['-x']);
  t.deepEqual(unknownOptions(['connect', '-w5', '/tmp/a'], connect), [], '-w5: the rest is the value');
  t.deepEqual(unknownOptions(['connect', '-h'], connect), []);
  t.deepEqual(unknownOptions(['connect', '-', '/tmp/a'], connect), []);
  t.deepEqual(unknownOptions(['pair', 'cat', '--', 'cmd', '-x'], command('pair')), [], 'after --: not options');
  t.deepEqual(unknownOptions(['connect', '-x', '-y', '-x'], connect), ['-x', '-y']);
});

test('usageMessage: an unknown option comes before the missing ADDRESS it caused', (t) => {
  t.is(usageMessage('Not enough non-option arguments: got 0, need at least 1', ['connect', '-x', '/tmp/a']), 'connect: unknown option -x');
  t.is(usageMessage('Not enough non-option arguments: got 0, need at least 1', ['connect']), 'connect: missing ADDRESS');
  t.is(usageMessage('Unknown argument: b', ['connect', 'a', 'b']), "connect: unexpected argument 'b'");
});

test('usageMessage finds the command after global options (usock -t dgram connect -x ADDR)', (t) => {
  t.is(
    usageMessage('Not enough non-option arguments: got 0, need at least 1', ['-t', 'dgram', 'connect', '-x', '/tmp/a']),
    'connect: unknown option -x',
  );
  t.is(usageMessage('Not enough non-option arguments: got 0, need at least 1', ['--json', 'listen']), 'listen: missing ADDRESS');
});
