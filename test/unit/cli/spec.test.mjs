// Unit tests that walk every command's spec: each option (and each short name) is in `usock help CMD`, in the man page
// (the command's own subsection, or GLOBAL OPTIONS), and among completion's candidates; each rule names options that exist.
import test from 'ava';
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { globalOptions } from '../../../src/cli/common-options.ts';
import { makeParser } from '../../../src/cli/parser.ts';
import { commands } from '../../../src/cli/registry.ts';
import { optionsOf } from '../../../src/cli/settle.ts';
import { kebab } from '../../../src/cli/spec.ts';
import { completeWords } from '../../../src/commands/completion/complete.ts';

globalThis.__USOCK_VERSION__ = '0.0.0-test'; // the build's define

/** Returns the help text yargs prints for args. */
async function helpText(args) {
  const log = console.log;
  let text = '';
  console.log = (...items) => {
    text += items.join(' ') + '\n';
  };
  try {
    await makeParser(yargs, args, 200, () => {}).parseAsync();
  } finally {
    console.log = log;
  }
  return text;
}

/** Returns roff as plain text: `\-` becomes `-`, font and zero-width escapes dropped. */
const roffToText = (roff) =>
  roff
    .replace(/\\f(?:\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\&/g, '')
    .replace(/\\-/g, '-');
const roff = readFileSync(new URL('../../../man/usock.1', import.meta.url), 'utf8');
const sections = roff.split(/^\.SH\s+/m);
const manSection = (title) => roffToText(sections.find((s) => s.replace(/^"/, '').startsWith(title)) ?? '');
const globalSection = manSection('GLOBAL OPTIONS');
/** Returns the man page's `.SS NAME ...` subsection of COMMANDS. */
function commandSection(name) {
  const part = manSection('COMMANDS')
    .split(/^\.SS\s+/m)
    .slice(1)
    .find((p) => p.replace(/^"/, '').split(/\s/)[0] === name);
  return part ?? '';
}
/** Returns whether flag occurs in text as a whole token (`--as` not inside `--ask`). */
const mentions = (text, flag) => new RegExp(`(?<![\\w-])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(text);

for (const { spec } of commands) {
  test(`${spec.name}: every option is in its help, the man page and completion`, async (t) => {
    const help = await helpText([spec.name, '--help']);
    const man = commandSection(spec.name);
    t.not(man, '', `no .SS ${spec.name} in the man page`);
    const offered = completeWords([spec.name, '-']);
    for (const [key, opt] of optionsOf(spec)) {
      const long = `--${kebab(key)}`;
      if (opt.hidden) {
        t.false(mentions(help, long), `${spec.name}: hidden ${long} in help`);
        t.false(offered.includes(long), `${spec.name}: hidden ${long} offered`);
        continue;
      }
      t.true(mentions(help, long), `${spec.name}: ${long} not in \`usock help ${spec.name}\``);
      if (opt.short) t.regex(help, new RegExp(`-${opt.short}, ${long}\\b`), `${spec.name}: -${opt.short} not in help`);
      t.true(mentions(key in globalOptions ? globalSection : man, long), `${spec.name}: ${long} not in the man page`);
      t.true(offered.includes(long), `${spec.name}: ${long} not offered by completion`);
      for (const c of opt.value.choices ?? [])
        t.true(completeWords([spec.name, long, '']).includes(c), `${spec.name}: ${long} ${c} not offered`);
    }
  });

  test(`${spec.name}: each rule names the command's own options or positionals`, (t) => {
    const known = new Set([...optionsOf(spec).map(([key]) => key), ...Object.keys(spec.positionals)]);
    t.true(known.has('type'));
    for (const [key, opt] of optionsOf(spec)) {
      for (const rule of opt.notWhen ?? []) {
        const named = [...(rule.with ?? []), ...(rule.without ?? []), ...(rule.inherited === undefined ? [] : [rule.inherited])];
        for (const name of named) t.true(known.has(name.split('=')[0]), `${spec.name} --${kebab(key)}: a rule names ${name}`);
        t.true(rule.why.length > 0);
      }
    }
    for (const name of [...(spec.inherits?.from ?? []), ...(spec.inherits?.with === undefined ? [] : [spec.inherits.with])]) {
      t.true(known.has(name), `${spec.name}: inherits names ${name}`);
    }
  });
}

test("the global options are in `usock --help`, the man page's GLOBAL OPTIONS and completion before a command", async (t) => {
  const help = await helpText(['--help']);
  const offered = completeWords(['-']);
  for (const key of Object.keys(globalOptions)) {
    const long = `--${kebab(key)}`;
    t.true(mentions(help, long), long);
    t.true(mentions(globalSection, long), long);
    t.true(offered.includes(long), long);
  }
});
