// Value types of options: how an option's words are read, checked and typed (seconds, whole numbers, modes, choices...), and what completion offers for them.
import { UsageError } from '../errors';

/** What completion offers for a value: socket files and @names, any file, user or group names, or nothing (choices are offered where a type has them). */
export type Completion = 'address' | 'file' | 'user' | 'group' | 'none';

/** How the command line gives a value: a flag alone, one value, or one value each time the option is given. */
export type Takes = 'flag' | 'value' | 'values';

/**
 * A value type. `takes` says how the command line gives it: a flag alone, one value, or one value each
 * time the option is given (repeatable). `parse` returns the typed value of the words given (none for a
 * flag, one for a value, each one for a repeatable option); it throws UsageError naming the option (flag).
 */
export interface ValueType<T, K extends Takes = Takes> {
  readonly takes: K;
  readonly parse: (words: readonly string[], flag: string) => T;
  readonly choices?: readonly string[];
  readonly complete: Completion;
  /** The value's name in help and the man page: SECONDS, N, MODE, ADDRESS... */
  readonly label: string;
}

/** Returns the one word of a value option (a repeated one is shown joined, as the user would read it). */
function single(words: readonly string[]): string {
  return words.join(',');
}

/** Returns the number text holds, NaN when it is not a plain decimal number. */
function decimal(text: string): number {
  const t = text.trim();
  return /^(\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : NaN;
}

/** A flag: true when given. */
export function flag(): ValueType<boolean, 'flag'> {
  return { takes: 'flag', parse: () => true, complete: 'none', label: '' };
}

/** A number of seconds (fractions allowed): 0 or more, or above 0 with `above0`. */
export function seconds(opts: { above0?: boolean } = {}): ValueType<number, 'value'> {
  return {
    takes: 'value',
    complete: 'none',
    label: 'SECONDS',
    parse: (words, name) => {
      const text = single(words);
      const n = decimal(text);
      if (!Number.isFinite(n) || n < 0 || (opts.above0 && n === 0)) {
        throw new UsageError(`bad ${name} '${text}': expected ${opts.above0 ? 'a number of seconds above 0' : 'seconds, 0 or more'}`);
      }
      return n;
    },
  };
}

/** A whole number from min to max. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): ValueType<number, 'value'> {
  return {
    takes: 'value',
    complete: 'none',
    label: 'N',
    parse: (words, name) => {
      const text = single(words);
      const n = decimal(text);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new UsageError(`bad ${name} '${text}': expected a whole number from ${min} to ${max}`);
      return n;
    },
  };
}

/** Permission bits in octal (600, 0660): the number. */
export function octalMode(): ValueType<number, 'value'> {
  return {
    takes: 'value',
    complete: 'none',
    label: 'MODE',
    parse: (words, name) => {
      const text = single(words);
      if (!/^0?[0-7]{1,3}$/.test(text)) throw new UsageError(`bad ${name} '${text}': expected octal permission bits such as 0660`);
      return parseInt(text, 8);
    },
  };
}

/** One of choices. */
export function choice<const C extends string>(choices: readonly C[]): ValueType<C, 'value'> {
  return {
    takes: 'value',
    choices,
    complete: 'none',
    label: choices.join('|'),
    parse: (words, name) => {
      const text = single(words);
      const found = choices.find((c) => c === text);
      if (found === undefined) throw new UsageError(`bad ${name} '${text}': expected one of ${choices.join(', ')}`);
      return found;
    },
  };
}

/** Text taken as it is; completion offers what `complete` says. */
export function text(label: string, complete: Completion = 'none'): ValueType<string, 'value'> {
  return { takes: 'value', complete, label, parse: (words) => single(words) };
}

/** A socket address (a path or @name), checked where it is used (parsing it holds a name). */
export const address = (): ValueType<string, 'value'> => text('ADDRESS', 'address');
/** A file name. */
export const file = (): ValueType<string, 'value'> => text('FILE', 'file');
/** A user name (or uid). */
export const user = (): ValueType<string, 'value'> => text('USER', 'user');
/** A group name (or gid). */
export const group = (): ValueType<string, 'value'> => text('GROUP', 'group');

/** An option that may be given again and again: the list of its values, each read by item. */
export function repeatable<T>(item: ValueType<T, 'value'>): ValueType<T[], 'values'> {
  return {
    takes: 'values',
    choices: item.choices,
    complete: item.complete,
    label: item.label,
    parse: (words, name) => words.map((w) => item.parse([w], name)),
  };
}
