// yargs module for `usock pair`: options and help; the work is in ../pair.
import type { UsockCommand } from './options';
import { framingOptions } from './options';

export const pairCommand: UsockCommand = {
  command: 'pair <cmd1> [cmd2]',
  describe: 'socketpair(): CMD1 on one end, CMD2 (or usock\'s own stdin/stdout) on the other',
  builder: (y) =>
    y
      .positional('cmd1', { type: 'string', describe: 'shell command given one end as its stdin and stdout' })
      .positional('cmd2', { type: 'string', describe: 'shell command given the other end (default: usock copies its stdin/stdout)' })
      .options({ ...framingOptions }),
  run: async (argv) => (await import('../pair')).runPair(argv),
};
