// Process lifecycle: clean-up actions run once at exit or on SIGINT/SIGTERM/SIGHUP, then the signal is re-raised.
const cleanups: Array<() => void> = [];
let cleaned = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const signalListeners: Array<() => void> = [];

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

/** Calls onSignal for the first SIGINT, SIGTERM or SIGHUP; by default cleans up and dies of that signal. */
export function handleSignals(onSignal: (signal: NodeJS.Signals) => void = dieOfSignal): void {
  for (const sig of SIGNALS) {
    const listener = () => onSignal(sig);
    signalListeners.push(() => process.off(sig, listener));
    process.on(sig, listener);
  }
}

/** Cleans up, then ends the process by the same signal so that the parent sees how it ended. */
export function dieOfSignal(signal: NodeJS.Signals): void {
  runCleanups();
  for (const off of signalListeners) off();
  process.kill(process.pid, signal);
  // The default action ends the process; keep it from doing anything else meanwhile.
  setTimeout(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15)), 1000).unref();
}

process.on('exit', runCleanups);
