// The quick parse: the argv yargs would give a command, for the plain command lines most runs have, without loading yargs.
import type { Argv, Options } from 'yargs';
import type { UsockCommand } from './registry';

/**
 * An option as the quick parse reads it: its names (the first one canonical), its type, choices and
 * default. An option of another kind (an array, say) is 'other': the quick parse leaves a command line
 * that gives it to yargs.
 */
interface QuickOption {
  names: string[];
  type: 'boolean' | 'string' | 'other';
  choices?: string[];
  default?: unknown;
}

/** What may follow a command's name: its options (the global ones too) and its positionals, in order. */
interface QuickSpec {
  options: Map<string, QuickOption>; // by each name
  positionals: Array<{ name: string; demanded: boolean }>;
}

/** The builder methods that only add options, positionals, choices of an option and help text; a builder that calls any other (defaults, checks, parser settings...) is left to yargs. */
const PLAIN_METHODS = new Set(['options', 'option', 'positional', 'choices', 'describe', 'epilogue', 'example', 'usage']);

/** What a command's builder declares, read without yargs. */
export interface BuilderRecord {
  /** Its options, the global ones first, each with the choices `.choices()` adds to it merged in. */
  defs: Array<[string, Options]>;
  positionalDefs: Map<string, Options>;
  /** False when the builder calls anything but PLAIN_METHODS. */
  plain: boolean;
}

/** Returns what cmd's builder declares (globalOptions first), read by running it on a recorder. */
export function readBuilder(cmd: UsockCommand<unknown>, globalOptions: Record<string, Options>): BuilderRecord {
  const defs: Array<[string, Options]> = Object.entries(globalOptions);
  const positionalDefs = new Map<string, Options>();
  const moreChoices: Array<[string, unknown[]]> = [];
  let plain = true;
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_target, method) => (...args: unknown[]) => {
      if (typeof method !== 'string' || !PLAIN_METHODS.has(method)) plain = false;
      else if (method === 'options') defs.push(...Object.entries(args[0] as Record<string, Options>));
      else if (method === 'option') defs.push([args[0] as string, (args[1] ?? {}) as Options]);
      else if (method === 'positional') positionalDefs.set(args[0] as string, (args[1] ?? {}) as Options);
      else if (method === 'choices') {
        if (typeof args[0] === 'string') moreChoices.push([args[0], [args[1]].flat()]);
        else plain = false;
      }
      return recorder;
    },
  });
  cmd.builder(recorder);
  // yargs adds the values of .choices(key, values) to key's choices.
  for (const [key, values] of moreChoices) {
    const i = defs.findIndex(([name]) => name === key);
    if (i < 0) plain = false;
    else defs[i] = [key, { ...defs[i]![1], choices: [...((defs[i]![1].choices as unknown[] | undefined) ?? []), ...values] as string[] }];
  }
  return { defs, positionalDefs, plain };
}

/** The option keys yargs reads as flags and that the quick parse leaves to it: help, version. */
const YARGS_OWN = new Set(['help', 'h', 'version']);

/** The keys of an option definition the quick parse knows the meaning of. */
const PLAIN_KEYS = new Set(['alias', 'type', 'choices', 'default', 'describe', 'defaultDescription', 'requiresArg', 'global', 'hidden']);

/**
 * Returns def as a QuickOption ('other' when the quick parse cannot be sure to read its values as yargs
 * does), or null when not even its absence is sure (a default on an option of another kind, a name
 * that yargs would also read in another form).
 */
function quickOption(name: string, def: Options): QuickOption | null {
  const aliases = def.alias === undefined ? [] : Array.isArray(def.alias) ? def.alias : [def.alias];
  const names = [name, ...aliases];
  if (names.some((n) => !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(n) || YARGS_OWN.has(n))) return null;
  const other: QuickOption = { names, type: 'other' };
  const plainKeys = Object.keys(def).every((k) => PLAIN_KEYS.has(k));
  const choices = def.choices === undefined ? undefined : (def.choices as unknown[]).map((c) => (typeof c === 'string' ? c : null));
  // Choices of words only: yargs would read a number as a number.
  const plainChoices = !choices?.some((c) => c === null || c === '' || !Number.isNaN(Number(c)));
  if (plainKeys && plainChoices && def.type === 'boolean' && !choices && !def.requiresArg) return { names, type: 'boolean', default: def.default };
  if (plainKeys && plainChoices && (def.type === 'string' || (def.type === undefined && choices))) {
    return { names, type: 'string', choices: choices as string[] | undefined, default: def.default };
  }
  return def.default === undefined && def.type !== 'count' ? other : null;
}

/** The QuickSpec of each command asked about so far (null: yargs parses it). */
const specs = new Map<UsockCommand<unknown>, QuickSpec | null>();

/** Returns cmd's QuickSpec (global options included), or null when its builder does anything but add options and positionals. */
function specOf(cmd: UsockCommand<unknown>, globalOptions: Record<string, Options>): QuickSpec | null {
  if (specs.has(cmd)) return specs.get(cmd)!;
  const { defs, positionalDefs, plain } = readBuilder(cmd, globalOptions);
  let spec: QuickSpec | null = null;
  // <name> or [name], demanded ones first, each a plain string (not variadic, no default, choices...).
  const words = cmd.command.split(' ').slice(1);
  const positionals = words.map((w) => ({ name: w.slice(1, -1), demanded: w.startsWith('<') }));
  const options = new Map<string, QuickOption>();
  const plainPositionals = positionals.every((p, i) => /^(<[a-z][a-z0-9]*>|\[[a-z][a-z0-9]*\])$/.test(words[i]!)
    && (p.demanded || !positionals[i + 1]?.demanded)
    && positionalDefs.get(p.name)?.type === 'string' && Object.keys(positionalDefs.get(p.name)!).every((k) => k === 'type' || k === 'describe'));
  if (plain && plainPositionals) {
    spec = { options, positionals };
    for (const [name, def] of defs) {
      const opt = quickOption(name, def);
      if (!opt || opt.names.some((n) => options.has(n) || positionalDefs.has(n))) {
        spec = null;
        break;
      }
      for (const n of opt.names) options.set(n, opt);
    }
  }
  specs.set(cmd, spec);
  return spec;
}

/** Returns the name as yargs also keys it: max-size -> maxSize. */
function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Sets opt's value in argv under each of its names, and their camelCase forms, as yargs does. */
function setOption(argv: Record<string, unknown>, opt: QuickOption, value: unknown): void {
  for (const n of opt.names) {
    argv[n] = value;
    if (n.includes('-')) argv[camelCase(n)] = value;
  }
}

/**
 * Returns the command args name and the argv yargs would give its run, or undefined. yargs's import,
 * set-up and three passes over the words cost every run about 5 ms; most command lines are plain: the
 * command, its positionals, its options (and the global ones) each given once, a flag alone, a value
 * as the next word or after `=`. That is all this reads; anything else (help, --version, `--`, flags
 * grouped as -zv, a value that begins with '-', a flag followed by true or false, an option given twice, one that is not a plain flag
 * or string, a value outside its choices, a missing or extra positional, an unknown word, options
 * before the command, a builder that does more than add options) returns undefined, and yargs parses
 * the words as ever, with its messages. test/unit/cli/quickparse.test.mjs holds both to the same argv.
 */
export function quickParse(args: string[], commands: Array<UsockCommand<unknown>>, globalOptions: Record<string, Options>):
  { command: UsockCommand<unknown>; argv: Record<string, unknown> } | undefined {
  const command = commands.find((c) => c.command.split(' ')[0] === args[0]);
  if (!command) return undefined;
  const spec = specOf(command, globalOptions);
  if (!spec) return undefined;
  const given = new Map<QuickOption, unknown>();
  const values: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const word = args[i]!;
    if (!word.startsWith('-')) {
      values.push(word);
      continue;
    }
    const long = word.startsWith('--');
    const eq = long ? word.indexOf('=') : -1;
    const name = long ? word.slice(2, eq < 0 ? undefined : eq) : word.slice(1);
    if (!long && name.length !== 1) return undefined; // -zv, -w5, -, or a negative number
    const opt = spec.options.get(name);
    if (!opt || opt.type === 'other' || given.has(opt)) return undefined;
    if (opt.type === 'boolean') {
      if (eq >= 0 || args[i + 1] === 'true' || args[i + 1] === 'false') return undefined; // yargs takes the word as the flag's value
      given.set(opt, true);
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    if (opt.choices && !opt.choices.includes(value)) return undefined;
    given.set(opt, value);
  }
  const { positionals } = spec;
  if (values.length > positionals.length || positionals.some((p, i) => p.demanded && i >= values.length)) return undefined;
  const argv: Record<string, unknown> = { _: [command.command.split(' ')[0]] };
  for (const opt of new Set(spec.options.values())) {
    if (given.has(opt)) setOption(argv, opt, given.get(opt));
    else if (opt.default !== undefined) setOption(argv, opt, opt.default);
  }
  argv.$0 = 'usock';
  values.forEach((v, i) => {
    argv[positionals[i]!.name] = v;
  });
  return { command, argv };
}
