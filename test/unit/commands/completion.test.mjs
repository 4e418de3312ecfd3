// Unit tests of the completion callback's candidates (completeWords): where a word stands (command, option, option value, positional) and what it offers.
import test from 'ava';
import { completeWords } from '../../../src/commands/completion/complete.ts';
import { connectSpec } from '../../../src/commands/connect/index.ts';
import { listenSpec } from '../../../src/commands/listen/index.ts';
import { globalOptions } from '../../../src/cli/common-options.ts';
import { kebab } from '../../../src/cli/spec.ts';

test('every option of connect and listen, and every global option, is offered (read from the specs)', (t) => {
  for (const { name: command, options } of [connectSpec, listenSpec]) {
    const offered = completeWords([command, '--']);
    for (const name of [...Object.keys(options).map(kebab), ...Object.keys(globalOptions), 'help']) {
      t.true(offered.includes(`--${name}`), `${command}: --${name} not offered`);
    }
    t.false(offered.includes('--version'), `${command}: --version offered (only usock --version exists)`);
  }
  t.true(completeWords(['--']).includes('--version'));
});

test('a word after an option that takes a value is that value; after a boolean option it is the next positional', (t) => {
  t.deepEqual(completeWords(['connect', '-w', '']), []); // -w's seconds: nothing to offer
  t.deepEqual(completeWords(['connect', '--type', 'd']), ['dgram']);
  t.deepEqual(completeWords(['-t', 'seq']), ['seqpacket']); // a global option before the command
  t.deepEqual(completeWords(['-t', 'dgram', 'con']), ['connect']);
  t.deepEqual(completeWords(['connect', '-z', '/nonexistent-dir/']), []); // -z is boolean: the word is ADDRESS
  t.deepEqual(completeWords(['connect', '--type=d']), ['--type=dgram']);
  t.deepEqual(completeWords(['listen', '--as', 'x']), []); // --as is connect's, not listen's: not known here
  t.true(completeWords(['connect', '--as', 'ro']).includes('root'));
});

test("recv-fd's words after -- (CMD ARGS), a second word after help, an unknown command: nothing", (t) => {
  t.deepEqual(completeWords(['recv-fd', '@x', '--', 'ca']), []);
  t.deepEqual(completeWords(['help', 'connect', '']), []);
  t.deepEqual(completeWords(['nosuch', '--']), []);
  t.deepEqual(completeWords(['pair', 'cat', '']), []); // CMD2: a shell command
});

test("completion's shell, and the hidden --complete is not offered", (t) => {
  t.deepEqual(completeWords(['completion', 'z']), ['zsh']);
  t.deepEqual(completeWords(['completion', 'bash', '']), []);
  t.false(completeWords(['completion', '--']).includes('--complete'));
});
