// yargs module for `usock pair`: its options and help; the work is in ./run.
import { framingOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const pairOptions = { ...framingOptions } as const;

export type PairArgv = ArgvOf<typeof pairOptions, { cmd1: string; cmd2?: string }>;

export const pairCommand: UsockCommand<PairArgv> = {
  command: 'pair <cmd1> [cmd2]',
  describe: 'socketpair(): CMD1 on one end, CMD2 (or usock\'s own stdin/stdout) on the other',
  builder: (y) =>
    y
      .positional('cmd1', { type: 'string', describe: 'shell command given one end as its stdin and stdout' })
      .positional('cmd2', { type: 'string', describe: 'shell command given the other end (default: usock copies its stdin/stdout)' })
      .options(pairOptions),
  run: async (argv) => (await import('./run')).runPair(argv),
};
