// The usock CLI and its one way out: arguments parsed (the quick parse, else yargs), the command run, and whatever ends it (a status, an error, a closed stdout, a signal) turned into one exit.
import { format } from 'node:util';
import { EXIT, UsageError } from '../errors';
import { finishStdout, onStdoutFailure, printOut, recordStdioFlags, restoreStdioFlags } from '../io/stdio';
import { removeSocketFiles } from '../net/socketfile';
import { colourErrorLines, flushSummaries, loadColours, writeStderr } from '../report/reporter';
import { hasCode } from '../sys/errors';
import { exitCodeFor, errorLines } from './exit';
import { dieOfSignal, installSignalHandlers, onCleanup, onSignal, runCleanups } from './lifecycle';
import { asksHelpOrVersion, commandNames, makeParser } from './parser';
import { quickParse } from './quickparse';
import { commands, type Status } from './registry';

/** How long a signal waits for stdout's reader to take what usock still holds. */
const STDOUT_GRACE_MS = 1000;

/** Returns argv with `help COMMAND` turned into `COMMAND --help`. */
function expandHelp(args: string[]): string[] {
  if (args[0] === 'help') return args.length > 1 ? [args[1]!, '--help'] : ['--help'];
  return args;
}

/** Throws UsageError (64) when args ask for the help of a command that does not exist (`usock help frob`): yargs would show the general help and succeed. */
function checkHelpTopic(args: string[]): void {
  const topic = args[0];
  if (topic === undefined || topic.startsWith('-') || !asksHelpOrVersion(args)) return;
  if (!commands.some((c) => c.spec.name === topic)) {
    throw new UsageError(`unknown command '${topic}': expected one of ${commandNames()}`, 'see `usock --help`');
  }
}

/**
 * Runs parse with console.log (where yargs prints help and the version) collecting its lines, and
 * returns them: usock writes them itself, so that a failed write (ENOSPC, EIO) is its exit status (74),
 * not lost inside console.log.
 */
async function collectingConsole<T>(parse: () => Promise<T>): Promise<{ result: T; text: string }> {
  const log = console.log;
  let text = '';
  console.log = (...items: unknown[]) => {
    text += format(...items) + '\n';
  };
  try {
    return { result: await parse(), text };
  } finally {
    console.log = log;
  }
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

/** Returns the width for help text: the terminal's (at most 100), only looked up when help is asked for. */
async function helpWidth(args: string[]): Promise<number | null> {
  if (!asksHelpOrVersion(args)) return null;
  const { columns } = await import('../sys/tty');
  return Math.min(100, columns(1) || 80);
}

/** Parses the arguments and runs the command they name; resolves to its status (0 after --help or --version). */
async function main(): Promise<Status> {
  const args = expandHelp(process.argv.slice(2));
  checkHelpTopic(args);
  await loadColours();
  const quick = quickParse(args, commands);
  if (quick) return quick.command.start(quick.given);
  const { default: yargs } = await import('yargs');
  let running: Promise<Status> | null = null;
  const parser = makeParser(yargs, args, await helpWidth(args), (command, given) => {
    running = command.start(given);
  });
  const { result: parsed, text } = await collectingConsole(() => parser.parseAsync());
  if (running) return running;
  if (parsed.help || parsed.version) {
    await printOut(text); // a failed write rejects `interrupted` (below): 74, or 0 for a reader gone (EPIPE)
    return EXIT.OK;
  }
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
  onStdoutFailure((err) =>
    hasCode(err, 'EPIPE')
      ? resolve(EXIT.OK)
      : reject(Object.assign(new Error(`stdout: ${err.message}`), { code: (err as { code?: string }).code })),
  );
});
Promise.race([main(), interrupted]).then(exitWith, failWith);
