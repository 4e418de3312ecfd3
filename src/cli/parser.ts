// The yargs parser of usock's command line (yargs itself is passed in: main imports it only where the quick parse cannot do).
import type { Argv } from 'yargs';
import { UsageError } from '../errors';
import { globalOptions } from './common-options';
import { commands } from './registry';
import { optionsOf, type Command, type GivenArgs } from './settle';
import { commandLine, kebab } from './spec';
import { builderOf, givenOf, yargsOption } from './yargs-spec';

declare const __USOCK_VERSION__: string;

/**
 * yargs renders the whole help text after starting every command handler, in case the handler asks
 * for it later; usock never does, and the rendering costs each run tens of milliseconds. Uses a yargs
 * internal, so a yargs without it only loses the saving.
 */
function skipHelpCache(parser: unknown): void {
  const usage = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** Returns the arguments yargs may read as options: those before a `--` (after it, a command's or the completion callback's words). */
function optionArgs(args: string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? args : args.slice(0, end);
}

/** Returns true when args ask for help (-h, --help) or the version (--version) before any `--`. */
export function asksHelpOrVersion(args: string[], version = false): boolean {
  return optionArgs(args).some((a) => a === '--help' || a === '-h' || (version && a === '--version'));
}

/** Returns the commands' names, comma-separated. */
export function commandNames(): string {
  return commands.map((c) => c.spec.name).join(', ');
}

/** Returns an option name as the user would type it: -w, --timeout. */
function dashed(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * Returns the options among args (the command's name and global options in any order) that cmd does not know, as written (-x,
 * --frob): yargs would take an unknown `-x ADDR` as an option with a value and complain of a missing
 * ADDRESS instead. Reads the words before any `--`: a known option's value (the next word, when not
 * given with `=`) is skipped, a short group (-zv) is read letter by letter up to one that takes a value.
 */
export function unknownOptions(args: string[], cmd: Command): string[] {
  const takesValue = new Map<string, boolean>([
    ['help', false],
    ['h', false],
    ['version', false],
  ]);
  for (const [key, opt] of optionsOf(cmd.spec)) {
    for (const n of [kebab(key), opt.short]) if (n) takesValue.set(n, opt.value.takes !== 'flag');
  }
  const unknown: string[] = [];
  const words = optionArgs(args);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('-') || word === '-' || /^-\.?\d/.test(word)) continue; // a value, stdin's name, a negative number
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const value = takesValue.get(name) ?? takesValue.get(kebab(name)); // yargs also reads --maxSize
      if (value === undefined) unknown.push(`--${name}`);
      else if (value && eq < 0) i++;
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const value = takesValue.get(word[j]!);
      if (value === undefined) unknown.push(`-${word[j]}`);
      else if (value) {
        if (j === word.length - 1) i++; // -w 5: the next word is the value; -w5: the rest of this one
        break;
      }
    }
  }
  return [...new Set(unknown)];
}

/** Returns the command args name: the first word, or the first command name after global options (`usock -t dgram connect ...`). */
function commandOf(args: string[]): Command | undefined {
  const byName = (word: string | undefined) => commands.find((c) => c.spec.name === word);
  return byName(args[0]) ?? (args[0]?.startsWith('-') ? optionArgs(args).map(byName).find(Boolean) : undefined);
}

/** Returns yargs's failure message in usock's own words, naming the command (e.g. `connect: missing ADDRESS`). */
export function usageMessage(msg: string, args: string[]): string {
  const cmd = commandOf(args);
  const where = cmd ? `${cmd.spec.name}: ` : '';
  // An unknown option first: whatever else yargs found may only follow from it (`-x ADDR` took ADDR as its value).
  const unknown = cmd ? unknownOptions(args, cmd) : [];
  if (unknown.length) return where + unknown.map((u) => `unknown option ${u}`).join('; ');
  let m: RegExpExecArray | null;
  if ((m = /^Unknown arguments?: (.*)$/s.exec(msg))) {
    const names = m[1]!.split(', ');
    if (!cmd) return `unknown command '${names[0]}': expected one of ${commandNames()}`;
    const words = names.map((n) =>
      args.some((a) => a === dashed(n) || a.startsWith(`${dashed(n)}=`)) ? `unknown option ${dashed(n)}` : `unexpected argument '${n}'`,
    );
    return where + words.join('; ');
  }
  if ((m = /^Not enough non-option arguments: got (\d+)/.exec(msg)) && cmd) {
    const wanted = [...commandLine(cmd.spec).matchAll(/<([^>]+)>/g)].map((x) => x[1]!.toUpperCase());
    return `${where}missing ${wanted[Number(m[1])] ?? wanted[wanted.length - 1] ?? 'an argument'}`;
  }
  if ((m = /^Not enough arguments following: (\S+)/.exec(msg))) return `${where}${dashed(m[1]!)} needs a value`;
  if ((m = /^Invalid values:\s*Argument: (\S+), Given: "([^"]*)", Choices: (.*)$/s.exec(msg))) {
    const choices = m[3]!.replace(/"/g, '').trim();
    if (m[1] === 'type' && m[2] === 'auto' && cmd)
      return `${where}--type auto does not apply (it is for connect -z): expected one of ${choices}`;
    return `bad ${dashed(m[1]!)} '${m[2]}': expected one of ${choices}`;
  }
  if (/^Too many non-option arguments/.test(msg)) return `${where}too many arguments`;
  return where + msg;
}

/**
 * Returns the yargs parser of args (yargs being the yargs module's default export): usock's commands,
 * whose handler hands onCommand the command and the argv; help text width wide (null: yargs's own).
 */
export function makeParser(
  yargs: (args: string[]) => Argv,
  args: string[],
  width: number | null,
  onCommand: (command: Command, given: GivenArgs) => void,
): Argv {
  const parser = yargs(args)
    .scriptName('usock')
    .parserConfiguration({ 'populate--': true, 'boolean-negation': false }) // --no-shutdown is an option of its own
    .usage('usock <command> [options]\n\nnetcat/socat for Unix domain sockets')
    .options(Object.fromEntries(Object.entries(globalOptions).map(([key, opt]) => [kebab(key), yargsOption(opt, false)]))) // each command gives them again, its own way
    .command(
      commands.map((cmd) => ({
        command: commandLine(cmd.spec),
        describe: cmd.spec.summary,
        builder: builderOf(cmd.spec),
        handler: (argv: Record<string, unknown>) => onCommand(cmd, givenOf(cmd.spec, argv)),
      })),
    )
    .demandCommand(1, `no command given: expected one of ${commandNames()}`)
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .epilogue("Run `usock help COMMAND` for a command's options; `man usock` for the whole manual.")
    .wrap(width)
    .exitProcess(false)
    .fail((msg, err) => {
      const cmd = commandOf(args);
      throw (
        err ??
        new UsageError(usageMessage(msg.replace(/\s*\n\s*/g, ' '), args), `see \`usock ${cmd ? `help ${cmd.spec.name}` : '--help'}\``)
      );
    });
  // bin/usock answers a lone --version itself; yargs sets the option up (and looks for a package.json) only where it shows.
  if (asksHelpOrVersion(args, true)) parser.version(__USOCK_VERSION__);
  else parser.version(false);
  skipHelpCache(parser);
  return parser as Argv;
}
