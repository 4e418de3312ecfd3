// `usock pair` as data: its two commands, its options and where each applies; the work is in ./run.
import { framingOptions } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';

const USOCK_HOLDS_AN_END = { with: ['cmd2'], why: 'it applies only where usock itself holds the other end' } as const;

export const pairSpec = {
  name: 'pair',
  summary: "socketpair(): CMD1 on one end, CMD2 (or usock's own stdin/stdout) on the other",
  positionals: {
    cmd1: { kind: 'command', required: true, help: 'shell command given one end as its stdin and stdout' },
    cmd2: { kind: 'command', help: 'shell command given the other end (default: usock copies its stdin/stdout)' },
  },
  options: {
    frame: { ...framingOptions.frame, notWhen: [USOCK_HOLDS_AN_END, ...framingOptions.frame.notWhen] },
    maxSize: { ...framingOptions.maxSize, notWhen: [USOCK_HOLDS_AN_END, ...framingOptions.maxSize.notWhen] },
  },
} as const satisfies CommandSpec;

export type PairSettings = SettingsOf<typeof pairSpec>;

export const pairCommand = command(pairSpec, async (settings) => (await import('./run')).runPair(settings));
