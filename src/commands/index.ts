// The registry: every subcommand's yargs module, in the order `usock --help` lists them.
import type { UsockCommand } from './options';
import { listenCommand } from './listen';
import { connectCommand } from './connect';
import { echoServerCommand } from './echo-server';
import { pairCommand } from './pair';
import { sendFdCommand } from './send-fd';
import { recvFdCommand } from './recv-fd';
import { peercredCommand } from './peercred';

export const commands: UsockCommand[] = [
  listenCommand,
  connectCommand,
  echoServerCommand,
  pairCommand,
  sendFdCommand,
  recvFdCommand,
  peercredCommand,
];
