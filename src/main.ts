// The usock CLI: parses arguments with yargs, runs the command, and turns any error into one line and an exit code.
import type { CommandModule } from 'yargs';
import { commands } from './commands/index';
import { EXIT, Exit, UsageError, errorLines, exitCodeFor } from './errors';
import { runCleanups } from './lifecycle';
import { colourErrorLines } from './output';

declare const __USOCK_VERSION__: string;

/** Returns argv with `help COMMAND` turned into `COMMAND --help`. */
function expandHelp(args: string[]): string[] {
  if (args[0] === 'help') return args.length > 1 ? [args[1]!, '--help'] : ['--help'];
  return args;
}

function finish(code: number): never {
  runCleanups();
  process.exit(code);
}

function fail(err: unknown): never {
  if (err instanceof Exit) finish(err.exitCode);
  const lines = errorLines(err);
  if (process.env.USOCK_DEBUG && err instanceof Error && err.stack) lines.push(err.stack);
  try {
    process.stderr.write(colourErrorLines(lines).join('\n') + '\n');
  } catch {
    // stderr closed
  }
  finish(exitCodeFor(err));
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

async function main(): Promise<void> {
  const args = expandHelp(process.argv.slice(2));
  const { default: yargs } = await import('yargs');
  let result: unknown;
  const parser = yargs(args)
    .scriptName('usock')
    .usage('usock <command> [options]\n\nnetcat/socat for Unix domain sockets')
    .options({
      type: {
        alias: 't',
        choices: ['stream', 'dgram', 'seqpacket', 'auto'],
        default: 'stream',
        describe: 'socket type (auto: connect -z only)',
        global: true,
        requiresArg: true,
      },
      json: { type: 'boolean', describe: 'machine-readable output, one JSON object per line', global: true },
      verbose: { alias: 'v', type: 'boolean', describe: 'diagnostics on stderr', global: true },
      quiet: { alias: 'q', type: 'boolean', describe: 'no diagnostics, only errors', global: true },
    })
    .command(commands.map(({ run, ...c }): CommandModule => ({ ...c, handler: async (argv) => { result = await run(argv); } })))
    .demandCommand(1, 'no command given')
    .recommendCommands()
    .strict()
    .version(__USOCK_VERSION__)
    .help()
    .alias('help', 'h')
    .epilogue('Run `usock help COMMAND` for a command\'s options; `man usock` for the whole manual.')
    .wrap(Math.min(100, process.stdout.columns || 80))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg.replace(/\s*\n\s*/g, ' '), 'see `usock --help`');
    });
  skipHelpCache(parser);
  await parser.parseAsync();
  finish(typeof result === 'number' ? result : EXIT.OK);
}

process.on('uncaughtException', fail);
main().catch(fail);
