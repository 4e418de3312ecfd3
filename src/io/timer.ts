// Timers of any length: Node's setTimeout holds at most 2^31-1 ms (24.8 days) and fires at once beyond; a long wait is chained from shorter ones.

/** The longest delay one Node timer holds. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A pending long timer. */
export interface LongTimer { clear(): void }

/** Calls fn once ms milliseconds have passed, however long that is; returns the handle to cancel it. */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let timer: NodeJS.Timeout;
  const due = Date.now() + ms;
  const arm = (left: number) => {
    timer = setTimeout(() => {
      const rest = due - Date.now();
      if (rest > 0) arm(rest);
      else fn();
    }, Math.min(Math.max(left, 0), MAX_DELAY_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}
