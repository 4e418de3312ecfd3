// The registry: every command's yargs module, in the order `usock --help` lists them. Adding a command adds one line here.
import type { Argv } from 'yargs';
import { activateCommand } from '../commands/activate';
import { completionCommand } from '../commands/completion';
import { connectCommand } from '../commands/connect';
import { echoServerCommand } from '../commands/echo-server';
import { listenCommand } from '../commands/listen';
import { lsCommand } from '../commands/ls';
import { pairCommand } from '../commands/pair';
import { peercredCommand } from '../commands/peercred';
import { recvFdCommand } from '../commands/recv-fd';
import { sendFdCommand } from '../commands/send-fd';
import { tapCommand } from '../commands/tap';
import { whoCanCommand } from '../commands/who-can';

/** How a command's run ends: an exit status, or the signal that ended a child usock stands for (usock then dies of it). */
export type Status = number | NodeJS.Signals;

/** A command: its yargs module without the handler, and `run`, which takes the typed argv and resolves to the status (or rejects). */
export interface UsockCommand<A = unknown> {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  run: (argv: A) => Promise<Status>;
}

/** Returns cmd for the registry: its run takes the argv yargs parsed with cmd's own builder, which gives it the type cmd declares. */
function entry<A>(cmd: UsockCommand<A>): UsockCommand<unknown> {
  return { ...cmd, run: (argv) => cmd.run(argv as A) };
}

/** Returns cmd with `auto` among the choices of -t (yargs adds .choices to the global option's), shown in its help and completion: connect -z detects the type. */
function withAutoType(cmd: UsockCommand<unknown>): UsockCommand<unknown> {
  return { ...cmd, builder: (y) => cmd.builder(y).choices('type', ['auto']).describe('type', 'socket type (auto: with -z, detect it)') };
}

export const commands: Array<UsockCommand<unknown>> = [
  entry(listenCommand),
  withAutoType(entry(connectCommand)),
  entry(echoServerCommand),
  entry(pairCommand),
  entry(sendFdCommand),
  entry(recvFdCommand),
  entry(peercredCommand),
  entry(tapCommand),
  entry(activateCommand),
  entry(whoCanCommand),
  entry(lsCommand),
  entry(completionCommand),
];
