// The registry: every command, in the order `usock --help` lists them. Adding a command adds one line here.
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
import type { Command } from './settle';

export type { Status } from './settle';

export const commands: readonly Command[] = [
  listenCommand,
  connectCommand,
  echoServerCommand,
  pairCommand,
  sendFdCommand,
  recvFdCommand,
  peercredCommand,
  tapCommand,
  activateCommand,
  whoCanCommand,
  lsCommand,
  completionCommand,
];
