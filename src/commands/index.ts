// The registry: every subcommand's yargs module, in the order `usock --help` lists them.
import type { CommandModule } from 'yargs';
import { listenCommand } from './listen';
import { connectCommand } from './connect';
import { echoServerCommand } from './echo-server';

export const commands: CommandModule[] = [
  listenCommand,
  connectCommand,
  echoServerCommand,
];
