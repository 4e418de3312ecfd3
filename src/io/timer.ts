// Timers of any length: Node's setTimeout holds at most 2^31-1 ms (24.8 days) and fires at once beyond; a long wait is chained from shorter ones.

/** The longest delay one Node timer holds. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A pending long timer. */
export interface LongTimer {
  clear(): void;
}

/** Calls fn once ms milliseconds have passed, however long that is; returns the handle to cancel it. */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let timer: NodeJS.Timeout;
  const due = Date.now() + ms;
  const arm = (left: number) => {
    timer = setTimeout(
      () => {
        const rest = due - Date.now();
        if (rest > 0) arm(rest);
        else fn();
      },
      Math.min(Math.max(left, 0), MAX_DELAY_MS),
    );
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/**
 * Calls onIdle once `seconds` pass with no activity, activity being what lastActive() says (ms since
 * the epoch, e.g. a connection's lastActive). The timer wakes when the time would be up and, when
 * something moved meanwhile, waits for the rest. Returns the handle to cancel it.
 */
export function idleTimer(seconds: number, lastActive: () => number, onIdle: () => void): LongTimer {
  const ms = seconds * 1000;
  let timer: LongTimer;
  const check = () => {
    const quiet = Date.now() - lastActive();
    if (quiet < ms) timer = setLongTimeout(check, ms - quiet);
    else onIdle();
  };
  timer = setLongTimeout(check, ms);
  return { clear: () => timer.clear() };
}

/** Resolves or rejects as p does, unless `seconds` pass first: then rejects with timedOut() (null seconds: no limit). */
export function deadline<T>(p: Promise<T>, seconds: number | null, timedOut: () => Error): Promise<T> {
  if (seconds === null) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setLongTimeout(() => reject(timedOut()), seconds * 1000);
    p.then(
      (v) => {
        timer.clear();
        resolve(v);
      },
      (err) => {
        timer.clear();
        reject(err);
      },
    );
  });
}
