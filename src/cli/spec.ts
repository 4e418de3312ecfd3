// What a command is, as data: its positionals, its options (value type, default, where each applies), and the typed settings its run receives.
import type { SocketType } from '../sys/socket';
import type { ValueType } from './values';

/**
 * When an option does not apply: every field given must hold (the socket type is one of `types`, each
 * option or positional of `with` is given, none of `without` is, the option's own value is `value`, the
 * positional `inherited` names an inherited socket). An entry of `with` may name a value too:
 * 'type=auto'. `why` is shown in parentheses after the rule.
 */
export interface Exclusion {
  readonly types?: readonly SocketType[];
  /** The positional (or option) of this key names an inherited socket: fd:N, sd:NAME, sd:. */
  readonly inherited?: string;
  readonly with?: readonly string[];
  readonly without?: readonly string[];
  readonly value?: string;
  readonly why: string;
  /** A hint line under the error, where an example helps. */
  readonly hint?: string;
}

/** An option: its value type, one-letter alias, default (given once, here), help, and when it does not apply. Its name on the command line is its key in kebab case (maxSize: --max-size). */
export interface OptionSpec<T = unknown> {
  readonly value: ValueType<T>;
  readonly short?: string;
  readonly default?: T;
  /** The default as help shows it, where it is not the default itself (or there is none to give). */
  readonly defaultHelp?: string;
  readonly help: string;
  /** Left out of help and completion. */
  readonly hidden?: boolean;
  /** Checked in order, after every value is read; the first that holds is the usage error. */
  readonly notWhen?: readonly Exclusion[];
}

/** What a positional is, for help and completion. */
export type PositionalKind = 'address' | 'file' | 'command' | 'text';

/** A positional argument; its name in help is its key (`<address>`, `[files..]`). */
export interface PositionalSpec {
  readonly kind: PositionalKind;
  readonly help: string;
  readonly required?: boolean;
  /** The last positional only: every word left. */
  readonly variadic?: boolean;
  /** The words it may be, offered by completion (checked by the command). */
  readonly choices?: readonly string[];
}

/** A command: its name, summary, positionals, options, and the words after `--` (recv-fd's CMD ARGS). */
export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly positionals: Readonly<Record<string, PositionalSpec>>;
  /** Its own options, and global ones it gives other help, choices or default (connect's -t auto). */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** What the words after `--` are, where the command takes them. */
  /** The words after `--`; required: the command needs them (its usage line shows them without brackets). */
  readonly rest?: { readonly label: string; readonly help: string; readonly required?: boolean };
  /** Shown after the options in help. */
  readonly epilogue?: string;
  /**
   * Where an inherited socket (fd:N, sd:) gives the socket type when -t is not given: the first of
   * `from` (positionals or options) given, when `with` is given too (peercred --listen), in role.
   */
  readonly inherits?: { readonly from: readonly string[]; readonly role: InheritedRole; readonly with?: string };
}

/** What an inherited socket is used for: served (listening, or a bound dgram socket) or connected (net/inherited). */
export type InheritedRole = 'serve' | 'connect';

/** The setting of option O: its value; a flag is false when not given, a repeatable option empty, another option without a default undefined. */
type SettingOf<O> =
  O extends OptionSpec<infer T>
    ? O extends { value: { takes: 'flag' | 'values' } }
      ? T
      : O extends { default: unknown }
        ? T
        : T | undefined
    : never;

type PositionalOf<P> = P extends { variadic: true } ? string[] : P extends { required: true } ? string : string | undefined;

/** The options that every command has, with those of S in their place where S gives them again. */
export type OptionsOf<S extends CommandSpec, G> = Omit<G, keyof S['options']> & S['options'];

/** The typed settings a run receives: one key an option (camelCase, as in the spec), one a positional, and `rest`, the words after `--`. */
export type Settings<S extends CommandSpec, G> = { readonly [K in keyof OptionsOf<S, G>]: SettingOf<OptionsOf<S, G>[K]> } & {
  readonly [K in keyof S['positionals']]: PositionalOf<S['positionals'][K]>;
} & { readonly rest: string[] | undefined };

/** Returns an option's name on the command line: maxSize -> max-size. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Returns the words of help and messages for an option: -z where it has a short name, else --name. */
export function flagName(key: string, opt: OptionSpec): string {
  return opt.short ? `-${opt.short}` : `--${kebab(key)}`;
}

/** Returns the positionals of spec as help's command line writes them: `connect <address>`, `send-fd <address> [files..]`. */
export function commandLine(spec: CommandSpec): string {
  const words = Object.entries(spec.positionals).map(([name, p]) => {
    const word = p.variadic ? `${name}..` : name;
    return p.required ? `<${word}>` : `[${word}]`;
  });
  return [spec.name, ...words].join(' ');
}
