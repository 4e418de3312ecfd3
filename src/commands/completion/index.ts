// `usock completion` as data: its shell and the scripts' hidden callback option; the script and the candidates are made in ./run.
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag } from '../../cli/values';

/** The shells usock writes a completion script for. */
export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

export const completionSpec = {
  name: 'completion',
  summary: 'print a completion script for bash or zsh (default: the shell of $SHELL)',
  positionals: { shell: { kind: 'text', choices: SHELLS, help: 'bash or zsh (default: the shell named by $SHELL)' } },
  options: {
    complete: {
      value: flag(),
      hidden: true,
      help: "the script's callback: print the candidates for the words after --, the last one being completed",
    },
  },
  epilogue:
    'bash: `mkdir -p ~/.local/share/bash-completion/completions && usock completion bash > ~/.local/share/bash-completion/completions/usock`, or `source <(usock completion bash)` in ~/.bashrc; zsh: `mkdir -p ~/.zfunc && usock completion zsh > ~/.zfunc/_usock` with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc.',
} as const satisfies CommandSpec;

export type CompletionSettings = SettingsOf<typeof completionSpec>;

export const completionCommand = command(completionSpec, async (settings) => (await import('./run')).runCompletion(settings));
