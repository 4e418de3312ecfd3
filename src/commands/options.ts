// Option definitions shared by several command modules: framing, access rules and server options.
import type { CommandModule, Options } from 'yargs';
import { FRAME_MODES } from '../io/framing';

export const framingOptions: Record<string, Options> = {
  frame: {
    choices: FRAME_MODES,
    default: 'line',
    describe: 'message framing on stdin/stdout for dgram and seqpacket',
    requiresArg: true,
  },
  'max-size': {
    type: 'number',
    default: 262144,
    describe: 'largest message in bytes; larger ones are reported and counted',
    requiresArg: true,
  },
};

export const accessOptions: Record<string, Options> = {
  'allow-uid': { type: 'array', string: true, nargs: 1, describe: 'accept peers with this uid (repeatable)', requiresArg: true },
  'allow-gid': { type: 'array', string: true, nargs: 1, describe: 'accept peers with this gid (repeatable)', requiresArg: true },
  'allow-user': { type: 'array', string: true, nargs: 1, describe: 'accept peers running as this user (repeatable)', requiresArg: true },
  'allow-group': { type: 'array', string: true, nargs: 1, describe: 'accept peers whose gid is this group (repeatable)', requiresArg: true },
};

export const serverOptions: Record<string, Options> = {
  mode: { type: 'string', describe: 'permission bits of the socket file (octal), applied race-free', requiresArg: true },
  backlog: { type: 'number', default: 4096, describe: 'listen(2) backlog', requiresArg: true },
};

/** The parsed options every command receives. */
export interface GlobalArgs {
  type: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

/** A subcommand: its yargs module without the handler, and `run`, which returns the exit status. */
export type UsockCommand = Omit<CommandModule, 'handler'> & { run: (argv: any) => Promise<number | void> };
