// yargs module for `usock completion`: its options and help; the script and the candidates are made in ./run.
import type { UsockCommand } from '../../cli/registry';

/** The shells usock writes a completion script for. */
export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

export const completionOptions = {
  complete: { type: 'boolean', hidden: true, describe: 'the script\'s callback: print the candidates for the words after --, the last one being completed' },
} as const;

export interface CompletionArgv { shell?: string; complete?: boolean; '--'?: Array<string | number> }

export const completionCommand: UsockCommand<CompletionArgv> = {
  command: 'completion [shell]',
  describe: 'print a completion script for bash or zsh (default: the shell of $SHELL)',
  builder: (y) =>
    y
      .positional('shell', { type: 'string', describe: 'bash or zsh (default: the shell named by $SHELL)' })
      .options(completionOptions)
      .epilogue('bash: `mkdir -p ~/.local/share/bash-completion/completions && usock completion bash > ~/.local/share/bash-completion/completions/usock`, or `source <(usock completion bash)` in ~/.bashrc; zsh: `mkdir -p ~/.zfunc && usock completion zsh > ~/.zfunc/_usock` with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc.'),
  run: async (argv) => (await import('./run')).runCompletion(argv),
};
