// yargs module for `usock who-can`: its options and help; the work is in ./run.
import type { ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const whoCanOptions = {
  user: { type: 'array', string: true, nargs: 1, describe: 'say whether this user can connect, and why (repeatable); exit 77 when one cannot', requiresArg: true },
  group: { type: 'array', string: true, nargs: 1, describe: 'say whether a member of this group can connect, and why (repeatable)', requiresArg: true },
  try: { type: 'boolean', describe: 'also connect as each --user (as connect -z --as; root only) and flag a real outcome that differs' },
} as const;

export type WhoCanArgv = ArgvOf<typeof whoCanOptions>;

export const whoCanCommand: UsockCommand<WhoCanArgv> = {
  command: 'who-can <address>',
  describe: 'explain who may connect to the socket at ADDRESS: owner, group, mode, ACLs and every directory on the way',
  builder: (y) => y.positional('address', { type: 'string', describe: 'socket path or @abstract name' }).options(whoCanOptions),
  run: async (argv) => (await import('./run')).runWhoCan(argv),
};
