// The quick parse: what a plain command line gives a command, read from its spec without loading yargs.
import { optionsOf, type Command, type GivenArgs } from './settle';
import { kebab, type OptionSpec } from './spec';

/** Returns the options of cmd by each name they are written with (--max-size as max-size, -w as w), keyed back to the spec's key. */
function optionNames(cmd: Command): Map<string, [string, OptionSpec]> {
  const names = new Map<string, [string, OptionSpec]>();
  for (const [key, opt] of optionsOf(cmd.spec)) {
    names.set(kebab(key), [key, opt]);
    if (opt.short) names.set(opt.short, [key, opt]);
  }
  return names;
}

/**
 * Returns the command args name and what they give it, or undefined. yargs's import, set-up and three
 * passes over the words cost every run about 5 ms; most command lines are plain: the command, its
 * positionals, its options (and the global ones) each given once (a repeatable one as often as wanted), a
 * flag alone, a value as the next word or after `=`, and the words after `--` as they are. That is all this reads; anything else (help,
 * --version, flags grouped as -zv, a value that begins with '-' or is empty, a flag followed by
 * true or false, an option given twice, a value outside its choices, a missing or extra positional, an
 * unknown word, options before the command) returns undefined, and yargs parses the words as ever, with
 * its messages. test/unit/cli/quickparse.test.mjs holds both to the same settings.
 */
export function quickParse(args: string[], commands: readonly Command[]): { command: Command; given: GivenArgs } | undefined {
  const command = commands.find((c) => c.spec.name === args[0]);
  if (!command) return undefined;
  const names = optionNames(command);
  const options = new Map<string, string[]>();
  const values: string[] = [];
  let rest: string[] | undefined;
  for (let i = 1; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') {
      if (i + 1 < args.length) rest = args.slice(i + 1); // recv-fd's and activate's CMD ARGS, the completion callback's words (none: as yargs, no rest)
      break;
    }
    if (!word.startsWith('-')) {
      values.push(word);
      continue;
    }
    const long = word.startsWith('--');
    const eq = long ? word.indexOf('=') : -1;
    const name = long ? word.slice(2, eq < 0 ? undefined : eq) : word.slice(1);
    if (!long && name.length !== 1) return undefined; // -zv, -w5, -, or a negative number
    const found = names.get(name);
    if (!found) return undefined;
    const [key, opt] = found;
    const before = options.get(key);
    if (before && opt.value.takes !== 'values') return undefined;
    if (opt.value.takes === 'flag') {
      if (eq >= 0 || args[i + 1] === 'true' || args[i + 1] === 'false') return undefined; // yargs takes the word as the flag's value
      options.set(key, []);
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    if (opt.value.choices && !opt.value.choices.includes(value)) return undefined;
    options.set(key, [...(before ?? []), value]);
  }
  const positionals = new Map<string, string | string[]>();
  const slots = Object.entries(command.spec.positionals);
  for (const [i, [name, p]] of slots.entries()) {
    if (i >= values.length) {
      if (p.required) return undefined;
    } else positionals.set(name, p.variadic ? values.slice(i) : values[i]!);
  }
  if (values.length > slots.length && !slots.at(-1)?.[1].variadic) return undefined;
  return { command, given: { options, positionals, rest } };
}
