// `usock completion`: prints the bash or zsh completion script, or (--complete, the script's callback) the candidates for the words typed.
import { EXIT, UsageError } from '../../errors';
import { printOut } from '../../io/stdio';
import type { Status } from '../../cli/registry';
import { completeWords } from './complete';
import { SHELLS, type CompletionSettings, type Shell } from './index';
// The scripts are bundled as text (scripts/build.mjs); the comments in them say how they work.
import BASH_SCRIPT from './usock.bash';
import ZSH_SCRIPT from './_usock.zsh';

/** Returns the shell to write for: the one named, else the basename of $SHELL. Throws UsageError for another shell. */
export function shellOf(named: string | undefined, envShell = process.env.SHELL): Shell {
  const name = named ?? (envShell ? envShell.slice(envShell.lastIndexOf('/') + 1) : '');
  if ((SHELLS as readonly string[]).includes(name)) return name as Shell;
  const shells = SHELLS.join(' or ');
  if (named !== undefined) throw new UsageError(`completion: unknown shell '${named}': expected ${shells}`);
  throw new UsageError(
    `completion: no shell named and $SHELL is ${envShell ? `'${envShell}'` : 'not set'}`,
    `give the shell: usock completion ${SHELLS.join('|')}`,
  );
}

/** Returns the completion script for shell. */
export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH_SCRIPT : ZSH_SCRIPT;
}

/** Prints the script, or with --complete the candidates for argv['--'] one a line; resolves to 0. Throws UsageError for an unknown shell. */
export async function runCompletion(argv: CompletionSettings): Promise<Status> {
  if (argv.complete) {
    const found = completeWords(argv.rest ?? []);
    if (found.length > 0) await printOut(found.join('\n') + '\n');
    return EXIT.OK;
  }
  await printOut(completionScript(shellOf(argv.shell)));
  return EXIT.OK;
}
