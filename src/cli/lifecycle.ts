// Process lifecycle: clean-up actions run once however the process ends, and the one handler of SIGINT, SIGTERM and SIGHUP, which re-raises the signal.

const cleanups: Array<() => void> = [];
let cleaned = false;
export const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const signalHooks: Array<(signal: NodeJS.Signals) => void> = [];
const listeners = new Map<NodeJS.Signals, () => void>();
let deferred = false;

/** Registers fn to run once when the process ends, however it ends; returns a function that unregisters it. */
export function onCleanup(fn: () => void): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every registered clean-up action once, newest first; errors in one do not stop the others. */
export function runCleanups(): void {
  if (cleaned) return;
  cleaned = true;
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      // best effort: the process is ending
    }
  }
}

/** Installs the handler of SIGINT, SIGTERM and SIGHUP: the hooks run, then the process dies of the signal (unless deferSignals was called). */
export function installSignalHandlers(): void {
  for (const sig of SIGNALS) {
    const listener = () => {
      for (const hook of signalHooks) {
        try {
          hook(sig);
        } catch {
          // a hook must not keep the process from ending
        }
      }
      if (!deferred) dieOfSignal(sig);
    };
    listeners.set(sig, listener);
    process.on(sig, listener);
  }
}

/** Registers hook to run first when a signal arrives (e.g. to pass it on to child processes). */
export function onSignal(hook: (signal: NodeJS.Signals) => void): void {
  signalHooks.push(hook);
}

/** After a signal the command ends itself (its run resolves to the signal's name) instead of dying at once. */
export function deferSignals(): void {
  deferred = true;
}

/** The numbers of the signals usock handles (Linux), without loading node:os for them. */
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Returns the shell-style status of death by one of the handled signals: 128 + its number. */
export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}

/** Cleans up, then ends the process by the same signal so that the parent sees how it ended. */
export function dieOfSignal(signal: NodeJS.Signals): void {
  runCleanups();
  for (const [sig, listener] of listeners) process.off(sig, listener);
  listeners.clear();
  // Under coverage (npm run coverage: NODE_V8_COVERAGE set), the counts now: a process a signal ends writes none.
  if (process.env.NODE_V8_COVERAGE) process.getBuiltinModule('node:v8').takeCoverage();
  process.kill(process.pid, signal);
  // The default action ends the process; keep it from doing anything else meanwhile.
  setTimeout(() => process.exit(signalStatus(signal)), 1000).unref();
}

process.on('exit', runCleanups);
