// The completion callback's candidates: command names, a command's options (read from its yargs module), option values, socket files and @abstract names.
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Argv, Options } from 'yargs';
import { globalOptions } from '../../cli/options';
import { commands, type UsockCommand } from '../../cli/registry';
import { readUnixSockets } from '../../net/procnet';
import { SHELLS } from './index';

/** An option as completion sees it: its names as typed, whether it takes a value, and its choices. */
interface OptionInfo {
  name: string;
  flags: string[];
  takesValue: boolean;
  choices: string[];
  hidden: boolean;
}

/** What can follow a command's name: its options and its positionals in order (the last one repeats when variadic). */
interface CommandSpec {
  options: OptionInfo[];
  positionals: string[];
  variadic: boolean;
}

/** Options whose value is an address (a socket path or @name). */
const ADDRESS_OPTIONS = new Set(['bind', 'inplace']);
/** Options whose value is a user or group name. */
const USER_OPTIONS = new Set(['as', 'allow-user', 'user']);
const GROUP_OPTIONS = new Set(['allow-group', 'group']);

/** Returns the OptionInfo of a yargs option definition. */
function optionInfo(name: string, def: Options): OptionInfo {
  const aliases = def.alias === undefined ? [] : Array.isArray(def.alias) ? def.alias : [def.alias];
  return {
    name,
    flags: [name, ...aliases].map((n) => (n.length === 1 ? `-${n}` : `--${n}`)),
    takesValue: def.type !== 'boolean' && def.type !== 'count',
    choices: (def.choices ?? []).map(String),
    hidden: def.hidden === true,
  };
}

/** Returns the options every command has: the global ones and -h/--help. */
function commonOptions(): OptionInfo[] {
  return [
    ...Object.entries(globalOptions).map(([name, def]) => optionInfo(name, def as Options)),
    optionInfo('help', { alias: 'h', type: 'boolean' }),
  ];
}

/**
 * Returns cmd's options and positionals, read by running its yargs builder on a recorder that keeps
 * .options/.option/.positional calls and ignores the rest (yargs itself is not needed for that).
 */
function commandSpec(cmd: UsockCommand<unknown>): CommandSpec {
  const options = commonOptions();
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_target, method) => (...args: unknown[]) => {
      if (method === 'options' && typeof args[0] === 'object' && args[0] !== null) {
        for (const [name, def] of Object.entries(args[0] as Record<string, Options>)) options.push(optionInfo(name, def));
      } else if (method === 'option' && typeof args[0] === 'string') {
        options.push(optionInfo(args[0], (args[1] ?? {}) as Options));
      } else if (method === 'choices' && typeof args[0] === 'string') {
        options.find((o) => o.name === args[0])?.choices.push(...[args[1]].flat().map(String)); // added to the option's own, as yargs does
      }
      return recorder;
    },
  });
  cmd.builder(recorder);
  const positionals = [...cmd.command.matchAll(/[<[]([^>\]]+)[>\]]/g)].map((m) => m[1]!);
  const variadic = positionals.length > 0 && positionals[positionals.length - 1]!.endsWith('..');
  return { options, positionals: positionals.map((p) => p.replace(/\.\.$/, '')), variadic };
}

/** Returns the option that word names (--name, --name=VALUE, -x), or undefined. */
function findOption(options: OptionInfo[], word: string): OptionInfo | undefined {
  const flag = word.startsWith('--') ? word.split('=')[0]! : word;
  return options.find((o) => o.flags.includes(flag));
}

/** Returns the names of the first field of each line of a colon-separated database file (/etc/passwd, /etc/group), [] when unreadable. */
function databaseNames(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')[0]!).filter((n) => n !== '' && !n.startsWith('#'));
  } catch {
    return [];
  }
}

/** Returns the entries of the directory part of cur that `wanted` keeps, as cur's directory part plus the name (`/` after a directory); [] when it cannot be read. */
function pathCandidates(cur: string, wanted: 'sockets' | 'all'): string[] {
  const dirPart = cur.slice(0, cur.lastIndexOf('/') + 1);
  const base = cur.slice(dirPart.length);
  const dir = dirPart === '' ? '.' : dirPart.startsWith('~/') ? path.join(homedir(), dirPart.slice(2)) : dirPart;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!e.name.startsWith(base) || (e.name.startsWith('.') && !base.startsWith('.'))) continue;
    let isDir = e.isDirectory();
    let isSocket = e.isSocket();
    let isOther = !isDir && !isSocket;
    if (e.isSymbolicLink()) {
      try {
        const st = statSync(path.join(dir, e.name));
        [isDir, isSocket, isOther] = [st.isDirectory(), st.isSocket(), !st.isDirectory() && !st.isSocket()];
      } catch {
        continue; // a dangling link
      }
    }
    if (isDir) out.push(`${dirPart}${e.name}/`);
    else if (isSocket || (isOther && wanted === 'all')) out.push(dirPart + e.name);
  }
  return out.sort();
}

/** Returns the candidates for an address being typed: @abstract names from /proc/net/unix after `@`, otherwise socket files and directories. */
export function addressCandidates(cur: string): string[] {
  if (!cur.startsWith('@')) return pathCandidates(cur, 'sockets');
  const names = new Set<string>();
  for (const s of readUnixSockets()) if (s.address.startsWith(cur)) names.add(s.address);
  return [...names].sort();
}

/** Returns the candidates for the value of option opt. */
function valueCandidates(opt: OptionInfo | undefined, cur: string): string[] {
  if (!opt) return [];
  if (opt.choices.length > 0) return opt.choices.filter((c) => c.startsWith(cur));
  if (ADDRESS_OPTIONS.has(opt.name)) return addressCandidates(cur);
  if (USER_OPTIONS.has(opt.name)) return databaseNames('/etc/passwd').filter((n) => n.startsWith(cur));
  if (GROUP_OPTIONS.has(opt.name)) return databaseNames('/etc/group').filter((n) => n.startsWith(cur));
  return [];
}

/** Returns the candidates for positional `name` of a command. */
function positionalCandidates(name: string | undefined, cur: string): string[] {
  if (name === 'address' || name === 'listen' || name === 'target') return addressCandidates(cur); // tap's two addresses
  if (name === 'files') return pathCandidates(cur, 'all');
  if (name === 'shell') return SHELLS.filter((s) => s.startsWith(cur));
  return [];
}

/** Returns the long flags of options (hidden ones left out) that start with cur. */
function flagCandidates(options: OptionInfo[], cur: string): string[] {
  return [...new Set(options.filter((o) => !o.hidden).map((o) => o.flags.find((f) => f.startsWith('--')) ?? o.flags[0]!))].filter((f) => f.startsWith(cur));
}

/**
 * Returns the completions of the last of words, the words typed after `usock` (the last one may be
 * empty): command names, options, option values, or the socket files and @names an address can be.
 * Never throws: what cannot be read offers nothing.
 */
export function completeWords(words: string[]): string[] {
  const cur = words[words.length - 1] ?? '';
  const names = commands.map((c) => c.command.split(' ')[0]!);
  let options = [...commonOptions(), optionInfo('version', { type: 'boolean' })];
  let spec: CommandSpec | null = null;
  let help = false;
  let positional = 0;
  let pending: OptionInfo | undefined;
  let afterDashes = false;
  for (const w of words.slice(0, -1)) {
    if (pending) {
      pending = undefined;
    } else if (afterDashes) {
      positional++;
    } else if (w === '--') {
      afterDashes = true;
    } else if (w.startsWith('-') && w.length > 1) {
      const opt = findOption(options, w);
      if (opt?.takesValue && !w.includes('=')) pending = opt;
    } else if (!spec && !help) {
      if (w === 'help') {
        help = true;
        continue;
      }
      const cmd = commands.find((c) => c.command.split(' ')[0] === w);
      if (!cmd) return [];
      spec = commandSpec(cmd);
      options = spec.options;
    } else {
      positional++;
    }
  }
  if (pending) return valueCandidates(pending, cur);
  if (afterDashes) return []; // recv-fd's CMD and its arguments
  if (cur.startsWith('--') && cur.includes('=')) {
    const flag = cur.slice(0, cur.indexOf('=') + 1);
    return valueCandidates(findOption(options, cur), cur.slice(flag.length)).map((v) => flag + v);
  }
  if (cur.startsWith('-')) return flagCandidates(options, cur);
  if (help) return positional === 0 ? names.filter((n) => n.startsWith(cur)) : [];
  if (!spec) return [...names, 'help'].filter((n) => n.startsWith(cur));
  const at = spec.variadic ? Math.min(positional, spec.positionals.length - 1) : positional;
  return positionalCandidates(spec.positionals[at], cur);
}
