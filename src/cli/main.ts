// The usock CLI and its one way out: arguments parsed (yargs), the command run, and whatever ends it (a status, an error, a closed stdout, a signal) turned into one exit.
import { EXIT, UsageError } from '../errors';
import { finishStdout, onStdoutFailure, recordStdioFlags, restoreStdioFlags } from '../io/stdio';
import { removeSocketFiles } from '../net/socketfile';
import { colourErrorLines, flushSummaries, loadColours, writeStderr } from '../report/reporter';
import { hasCode } from '../sys/errors';
import { exitCodeFor, errorLines } from './exit';
import { dieOfSignal, installSignalHandlers, onCleanup, onSignal, runCleanups } from './lifecycle';
import { globalOptions } from './options';
import { commands, type Status } from './registry';

declare const __USOCK_VERSION__: string;

/** How long a signal waits for stdout's reader to take what usock still holds. */
const STDOUT_GRACE_MS = 1000;

/** Returns argv with `help COMMAND` turned into `COMMAND --help`. */
function expandHelp(args: string[]): string[] {
  if (args[0] === 'help') return args.length > 1 ? [args[1]!, '--help'] : ['--help'];
  return args;
}

/** Ends the process: dies of a signal, or cleans up and exits with the status. The only process.exit of usock (but lifecycle's fallback after a signal). */
function exitWith(status: Status): void {
  if (typeof status === 'string') return dieOfSignal(status);
  runCleanups();
  process.exit(status);
}

/** Prints err as one line (and at most one hint), then exits with its status. */
function failWith(err: unknown): void {
  const lines = errorLines(err);
  if (process.env.USOCK_DEBUG && err instanceof Error && err.stack) lines.push(err.stack);
  writeStderr(colourErrorLines(lines).join('\n') + '\n');
  exitWith(exitCodeFor(err));
}

/**
 * yargs renders the whole help text after starting every command handler, in case the handler asks
 * for it later; usock never does, and the rendering costs each run tens of milliseconds. Uses a yargs
 * internal, so a yargs without it only loses the saving.
 */
function skipHelpCache(parser: unknown): void {
  const usage = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** Returns the arguments yargs may read as options: those before a `--` (after it, a command's or the completion callback's words). */
function optionArgs(args: string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? args : args.slice(0, end);
}

/** Returns true when args ask for help (-h, --help) or the version (--version) before any `--`. */
function asksHelpOrVersion(args: string[], version = false): boolean {
  return optionArgs(args).some((a) => a === '--help' || a === '-h' || (version && a === '--version'));
}

/** Returns the width for help text: the terminal's (at most 100), only looked up when help is asked for. */
async function helpWidth(args: string[]): Promise<number | null> {
  if (!asksHelpOrVersion(args)) return null;
  const { columns } = await import('../sys/socket');
  return Math.min(100, columns(1) || 80);
}

/** Returns the commands' names, comma-separated. */
function commandNames(): string {
  return commands.map((c) => c.command.split(' ')[0]).join(', ');
}

/** Returns an option name as the user would type it: -w, --timeout. */
function dashed(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Returns yargs's failure message in usock's own words, naming the command (e.g. `connect: missing ADDRESS`). */
export function usageMessage(msg: string, args: string[]): string {
  const cmd = commands.find((c) => c.command.split(' ')[0] === args[0]);
  const where = cmd ? `${args[0]}: ` : '';
  let m: RegExpExecArray | null;
  if ((m = /^Unknown arguments?: (.*)$/s.exec(msg))) {
    const names = m[1]!.split(', ');
    if (!cmd) return `unknown command '${names[0]}': expected one of ${commandNames()}`;
    const words = names.map((n) => (args.some((a) => a === dashed(n) || a.startsWith(`${dashed(n)}=`)) ? `unknown option ${dashed(n)}` : `unexpected argument '${n}'`));
    return where + words.join('; ');
  }
  if ((m = /^Not enough non-option arguments: got (\d+)/.exec(msg)) && cmd) {
    const wanted = [...cmd.command.matchAll(/<([^>]+)>/g)].map((x) => x[1]!.toUpperCase());
    return `${where}missing ${wanted[Number(m[1])] ?? wanted[wanted.length - 1] ?? 'an argument'}`;
  }
  if ((m = /^Not enough arguments following: (\S+)/.exec(msg))) return `${where}${dashed(m[1]!)} needs a value`;
  if ((m = /^Invalid values:\s*Argument: (\S+), Given: "([^"]*)", Choices: (.*)$/s.exec(msg))) {
    return `bad ${dashed(m[1]!)} '${m[2]}': expected one of ${m[3]!.replace(/"/g, '').trim()}`;
  }
  if (/^Too many non-option arguments/.test(msg)) return `${where}too many arguments`;
  return where + msg;
}

/** Parses the arguments and runs the command they name; resolves to its status (0 after --help or --version). */
async function main(): Promise<Status> {
  const args = expandHelp(process.argv.slice(2));
  await loadColours();
  const { default: yargs } = await import('yargs');
  let running: Promise<Status> | null = null;
  const parser = yargs(args)
    .scriptName('usock')
    .parserConfiguration({ 'populate--': true, 'boolean-negation': false }) // --no-shutdown is an option of its own
    .usage('usock <command> [options]\n\nnetcat/socat for Unix domain sockets')
    .options(globalOptions)
    .command(commands.map(({ run, ...c }) => ({ ...c, handler: (argv: unknown) => { running = run(argv); } })))
    .demandCommand(1, `no command given: expected one of ${commandNames()}`)
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .epilogue('Run `usock help COMMAND` for a command\'s options; `man usock` for the whole manual.')
    .wrap(await helpWidth(args))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(usageMessage(msg.replace(/\s*\n\s*/g, ' '), args), `see \`usock ${commands.some((c) => c.command.split(' ')[0] === args[0]) ? `help ${args[0]}` : '--help'}\``);
    });
  // bin/usock answers a lone --version itself; yargs sets the option up (and looks for a package.json) only where it shows.
  if (asksHelpOrVersion(args, true)) parser.version(__USOCK_VERSION__);
  else parser.version(false);
  skipHelpCache(parser);
  const parsed = await parser.parseAsync();
  if (running) return running;
  if (parsed.help || parsed.version) return EXIT.OK;
  throw new UsageError(`no command given: expected one of ${commandNames()}`, 'see `usock --help`');
}

recordStdioFlags();
onCleanup(restoreStdioFlags);
onCleanup(removeSocketFiles);
onCleanup(flushSummaries);
installSignalHandlers();
// A signal ends usock only once what stdout holds is out (at most 1 s): never half a len32 frame.
onSignal(() => finishStdout(STDOUT_GRACE_MS));
// Whatever ends the run first: the command's status or error, a closed stdout (quietly 0), an exception from a callback.
const interrupted = new Promise<Status>((resolve, reject) => {
  process.on('uncaughtException', reject);
  process.on('unhandledRejection', reject);
  onStdoutFailure((err) => (hasCode(err, 'EPIPE') ? resolve(EXIT.OK) : reject(Object.assign(new Error(`stdout: ${err.message}`), { code: (err as { code?: string }).code }))));
});
Promise.race([main(), interrupted]).then(exitWith, failWith);
