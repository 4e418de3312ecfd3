// A command's spec as yargs reads it (its builder: positionals, options, help), and yargs's argv back as the words given.
import type { Argv, Options } from 'yargs';
import { optionsOf, type GivenArgs } from './settle';
import { commandLine, kebab, type CommandSpec, type OptionSpec } from './spec';

/** Returns opt as a yargs option definition: how its words are read, its help and the default help shows (usock applies defaults itself, settle). */
export function yargsOption(opt: OptionSpec, global = true): Options {
  const def: Options = { describe: opt.help, global };
  if (opt.short) def.alias = opt.short;
  if (opt.hidden) def.hidden = true;
  if (opt.value.takes === 'flag') def.type = 'boolean';
  else {
    def.requiresArg = true;
    if (opt.value.takes === 'values') Object.assign(def, { type: 'array', string: true, nargs: 1 });
    else if (opt.value.choices) def.choices = [...opt.value.choices];
    else def.type = 'string';
  }
  const shown = opt.defaultHelp ?? (opt.default === undefined ? undefined : String(opt.default));
  if (shown !== undefined) def.defaultDescription = shown;
  return def;
}

/** Returns the options of spec (the global ones too) as yargs definitions, by name. */
export function yargsOptions(spec: CommandSpec): Record<string, Options> {
  return Object.fromEntries(optionsOf(spec).map(([key, opt]) => [kebab(key), yargsOption(opt)]));
}

/** Returns the yargs builder of spec: its positionals, its options, the usage line when it takes words after `--`, its epilogue. */
export function builderOf(spec: CommandSpec): (y: Argv) => Argv {
  return (y) => {
    let out = y;
    for (const [name, p] of Object.entries(spec.positionals))
      out = out.positional(name, { type: 'string', describe: p.help, ...(p.variadic ? { array: true, default: undefined } : {}) });
    out = out.options(yargsOptions(spec));
    if (spec.rest) {
      const words = `-- ${spec.rest.label}`;
      out = out.usage(`usock ${commandLine(spec).replace(/^(\S+)/, '$1 [options]')} ${spec.rest.required ? words : `[${words}]`}`);
    }
    if (spec.epilogue) out = out.epilogue(spec.epilogue);
    return out;
  };
}

/** Returns the words of one option as yargs gave them (v), or undefined when it was not given. */
function wordsOf(opt: OptionSpec, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (opt.value.takes === 'flag') return [v].flat().some((b) => b === true) ? [] : undefined; // --probe=false: not given
  return [v].flat().map(String);
}

/** Returns what argv (yargs's, for spec) gives: the options given by key, the positionals, the words after `--`. */
export function givenOf(spec: CommandSpec, argv: Record<string, unknown>): GivenArgs {
  const options = new Map<string, string[]>();
  for (const [key, opt] of optionsOf(spec)) {
    const words = wordsOf(opt, argv[kebab(key)]);
    if (words !== undefined) options.set(key, words);
  }
  const positionals = new Map<string, string | string[]>();
  for (const [name, p] of Object.entries(spec.positionals)) {
    const v = argv[name];
    // a variadic positional left out reads as [undefined] (its default is unset, so help shows none)
    if (v !== undefined)
      positionals.set(
        name,
        p.variadic
          ? [v]
              .flat()
              .filter((w) => w !== undefined)
              .map(String)
          : String(v),
      );
  }
  const rest = argv['--'];
  return { options, positionals, rest: Array.isArray(rest) ? rest.map(String) : undefined };
}
