// The completion callback's candidates: command names, a command's options and option values (read from its spec), socket files and @abstract names.
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { globalOptions } from '../../cli/common-options';
import { commands } from '../../cli/registry';
import { optionsOf } from '../../cli/settle';
import { kebab, type CommandSpec, type OptionSpec, type PositionalSpec } from '../../cli/spec';
import { flag } from '../../cli/values';
import { readUnixSockets } from '../../net/procnet';

/** An option as completion sees it: its spec and its names as typed. */
interface OptionInfo {
  opt: OptionSpec;
  flags: string[];
}

/** Returns the OptionInfo of option key. */
function optionInfo(key: string, opt: OptionSpec): OptionInfo {
  return { opt, flags: [`--${kebab(key)}`, ...(opt.short ? [`-${opt.short}`] : [])] };
}

/** -h/--help, which every command has, and --version, which usock has alone. */
const HELP = optionInfo('help', { value: flag(), short: 'h', help: '' });
const VERSION = optionInfo('version', { value: flag(), help: '' });

/** Returns the options of a command (the global ones and -h/--help too). */
function commandOptions(spec: CommandSpec): OptionInfo[] {
  return [...optionsOf(spec).map(([key, opt]) => optionInfo(key, opt)), HELP];
}

/** Returns the option that word names (--name, --name=VALUE, -x), or undefined. */
function findOption(options: OptionInfo[], word: string): OptionInfo | undefined {
  const flag = word.startsWith('--') ? word.split('=')[0]! : word;
  return options.find((o) => o.flags.includes(flag));
}

/** Returns the names of the first field of each line of a colon-separated database file (/etc/passwd, /etc/group), [] when unreadable. */
function databaseNames(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(':')[0]!)
      .filter((n) => n !== '' && !n.startsWith('#'));
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

/** Returns the candidates for the value of option info. */
function valueCandidates(info: OptionInfo | undefined, cur: string): string[] {
  if (!info) return [];
  const { choices, complete } = info.opt.value;
  if (choices) return choices.filter((c) => c.startsWith(cur));
  if (complete === 'address') return addressCandidates(cur);
  if (complete === 'file') return pathCandidates(cur, 'all');
  if (complete === 'user') return databaseNames('/etc/passwd').filter((n) => n.startsWith(cur));
  if (complete === 'group') return databaseNames('/etc/group').filter((n) => n.startsWith(cur));
  return [];
}

/** Returns the candidates for positional p of a command. */
function positionalCandidates(p: PositionalSpec | undefined, cur: string): string[] {
  if (p?.choices) return p.choices.filter((c) => c.startsWith(cur));
  if (p?.kind === 'address') return addressCandidates(cur);
  if (p?.kind === 'file') return pathCandidates(cur, 'all');
  return [];
}

/** Returns the long flags of options (hidden ones left out) that start with cur. */
function flagCandidates(options: OptionInfo[], cur: string): string[] {
  return [...new Set(options.filter((o) => !o.opt.hidden).map((o) => o.flags[0]!))].filter((f) => f.startsWith(cur));
}

/**
 * Returns the completions of the last of words, the words typed after `usock` (the last one may be
 * empty): command names, options, option values, or the socket files and @names an address can be.
 * Never throws: what cannot be read offers nothing.
 */
export function completeWords(words: string[]): string[] {
  const cur = words[words.length - 1] ?? '';
  const names = commands.map((c) => c.spec.name);
  let options = [...Object.entries(globalOptions).map(([key, opt]) => optionInfo(key, opt)), HELP, VERSION];
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
      if (opt && opt.opt.value.takes !== 'flag' && !w.includes('=')) pending = opt;
    } else if (!spec && !help) {
      if (w === 'help') {
        help = true;
        continue;
      }
      const cmd = commands.find((c) => c.spec.name === w);
      if (!cmd) return [];
      spec = cmd.spec;
      options = commandOptions(spec);
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
  const slots = Object.values(spec.positionals);
  const at = slots.at(-1)?.variadic ? Math.min(positional, slots.length - 1) : positional;
  return positionalCandidates(slots[at], cur);
}
