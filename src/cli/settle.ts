// From the words given (by the quick parse or yargs) to the typed settings a command's run receives: each value read and checked once, defaults applied, the "does not apply" rules enforced.
import { UsageError } from '../errors';
import type { SocketType } from '../sys/socket';
import { type GlobalOptions, globalOptions, SOCKET_TYPES } from './common-options';
import { type CommandSpec, type Exclusion, flagName, type InheritedRole, kebab, type OptionSpec, type Settings } from './spec';

/** How a command's run ends: an exit status, or the signal that ended a child usock stands for (usock then dies of it). */
export type Status = number | NodeJS.Signals;

/** What the command line gave a command, before any value is read: each option given (its words; none for a flag), each positional, the words after `--`. */
export interface GivenArgs {
  options: Map<string, string[]>;
  positionals: Map<string, string | string[]>;
  rest: string[] | undefined;
}

/** The settings of command S. */
export type SettingsOf<S extends CommandSpec> = Settings<S, GlobalOptions>;

/** Returns the type of the inherited socket text names, checked for role (and against -t when given); throws UsageError, SysError. */
export type InheritedTypeOf = (text: string, role: InheritedRole, given: SocketType | undefined) => SocketType;

/** A command: its spec, and `start`, which settles what was given and runs it (resolving to its status, rejecting with its error). */
export interface Command {
  readonly spec: CommandSpec;
  readonly start: (given: GivenArgs) => Promise<Status>;
}

/** Returns every option of spec, by key: the global ones first (in their place where spec gives one again), then its own. */
export function optionsOf(spec: CommandSpec): Array<[string, OptionSpec]> {
  return Object.entries({ ...globalOptions, ...spec.options });
}

/** Returns true when text names an inherited socket (fd:N, sd:NAME, sd:; net/address checks the rest). */
function isInheritedText(text: string): boolean {
  return text.startsWith('fd:') || text.startsWith('sd:');
}

/** Returns the words given for key, positional or option: its text, each text of a variadic positional or a repeatable option. */
function textsOf(given: GivenArgs, key: string): string[] {
  const v = given.positionals.get(key) ?? given.options.get(key) ?? [];
  return [v].flat();
}

/** Returns the inherited socket (fd:N, sd:) that gives spec its socket type in what was given, or undefined where there is none. */
export function inheritedAddress(spec: CommandSpec, given: GivenArgs): string | undefined {
  const from = spec.inherits;
  if (!from || (from.with !== undefined && !given.options.has(from.with))) return undefined;
  const text = from.from.map((key) => textsOf(given, key)[0]).find((t) => t !== undefined);
  return text !== undefined && isInheritedText(text) ? text : undefined;
}

/** Reads a rule against what was given: whether it holds, and in what words (`to -t stream with --exec`). */
class RuleReader {
  constructor(
    private readonly given: GivenArgs,
    private readonly values: Map<string, unknown>,
    private readonly byKey: Map<string, OptionSpec>,
    private readonly typeOf: () => unknown,
  ) {}

  /** Returns the rule in words where it holds for the value own, or null. */
  read(rule: Exclusion, own: unknown): string | null {
    const words: string[] = [];
    if (rule.value !== undefined && String(own) !== rule.value) return null;
    if (rule.inherited !== undefined) {
      const text = textsOf(this.given, rule.inherited).find(isInheritedText);
      if (text === undefined) return null;
      words.push(`to ${text}`);
    }
    if (rule.with) {
      for (const entry of rule.with) {
        const [key, value] = this.split(entry);
        if (!this.has(key) || (value !== undefined && String(this.values.get(key)) !== value)) return null;
      }
    }
    if (rule.without?.some((key) => this.has(key))) return null;
    if (rule.types) {
      const type = this.typeOf(); // last: an inherited socket's type is looked up only where a rule needs it
      if (!rule.types.some((t) => t === type)) return null;
      words.unshift(`to -t ${String(type)}`);
    }
    if (rule.with) words.push(`with ${rule.with.map((e) => this.named(...this.split(e))).join(' and ')}`);
    if (rule.without) words.push(`without ${rule.without.map((key) => this.named(key)).join(' or ')}`);
    return words.join(' ');
  }

  private has(key: string): boolean {
    return this.given.options.has(key) || this.given.positionals.has(key);
  }

  private split(entry: string): [string, string | undefined] {
    const eq = entry.indexOf('=');
    return eq < 0 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)];
  }

  /** Returns how a message names key: its flag (-z, --exec), or a positional in capitals (CMD2). */
  private named(key: string, value?: string): string {
    const opt = this.byKey.get(key);
    return `${opt ? flagName(key, opt) : key.toUpperCase()}${value === undefined ? '' : ` ${value}`}`;
  }
}

/**
 * Returns the settings of command spec from what was given: every value read by its type (a bad one
 * throws UsageError naming the option), the defaults of the others, then each option given checked
 * against its rules: one that does not apply throws UsageError (64) naming the command, the option,
 * the rule and why (`connect: --wait does not apply to -t stream (...)`). Without -t, the type of an
 * inherited socket (spec.inherits) is that socket's own, which inheritedTypeOf tells (and checks).
 */
export function settle<S extends CommandSpec>(spec: S, given: GivenArgs, inheritedTypeOf?: InheritedTypeOf): SettingsOf<S> {
  const options = optionsOf(spec);
  const values = new Map<string, unknown>();
  for (const [key, opt] of options) {
    const words = given.options.get(key);
    if (words !== undefined) values.set(key, opt.value.parse(words, `--${kebab(key)}`));
    else values.set(key, opt.value.takes === 'flag' ? false : opt.value.takes === 'values' ? [] : opt.default);
  }
  const inherited = inheritedAddress(spec, given);
  let typeKnown = inherited === undefined || !inheritedTypeOf || values.get('type') === 'auto';
  const typeOf = () => {
    if (!typeKnown && inherited !== undefined && inheritedTypeOf && spec.inherits) {
      const t = given.options.has('type') ? SOCKET_TYPES.find((x) => x === values.get('type')) : undefined; // 'auto' is known above
      values.set('type', inheritedTypeOf(inherited, spec.inherits.role, t));
      typeKnown = true;
    }
    return values.get('type');
  };
  const rules = new RuleReader(given, values, new Map(options), typeOf);
  for (const [key, opt] of options) {
    if (!given.options.has(key)) continue;
    for (const rule of opt.notWhen ?? []) {
      const where = rules.read(rule, values.get(key));
      if (where === null) continue;
      const value = rule.value === undefined ? '' : ` ${rule.value}`;
      throw new UsageError(`${spec.name}: --${kebab(key)}${value} does not apply ${where} (${rule.why})`, rule.hint);
    }
  }
  typeOf();
  const settings: Record<string, unknown> = Object.fromEntries(values);
  for (const [name, p] of Object.entries(spec.positionals)) settings[name] = given.positionals.get(name) ?? (p.variadic ? [] : undefined);
  settings.rest = given.rest;
  return settings as unknown as SettingsOf<S>; // built key by key from S's own options and positionals
}

/** Returns the command of spec whose run receives its settings. An inherited socket's type is looked up through cli/options, loaded only then. */
export function command<S extends CommandSpec>(spec: S, run: (settings: SettingsOf<S>) => Promise<Status>): Command {
  return {
    spec,
    start: async (given) => {
      const typeOf = inheritedAddress(spec, given) === undefined ? undefined : (await import('./options')).inheritedTypeOf;
      return run(settle(spec, given, typeOf));
    },
  };
}
