// The lifecycle of a connection as one explicit state, and the moves allowed between states.

/**
 * Where a connection is in its life:
 * - `open`: both directions run;
 * - `read-ended`: the peer half-closed (nothing more to read); units are still sent;
 * - `write-shut`: our write side is over (shut down once everything was sent); the peer is still read;
 * - `draining`: the socket is closed; what it received is still being written by its sink;
 * - `closed`: over, the finish callback (if any) has run.
 * Both directions over means finished: there is no state with both sides half-closed.
 */
export type ConnectionState = 'open' | 'read-ended' | 'write-shut' | 'draining' | 'closed';

const MOVES: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  open: ['read-ended', 'write-shut', 'draining', 'closed'],
  'read-ended': ['draining', 'closed'],
  'write-shut': ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

/** Returns true when a connection in state `from` may move to `to`. */
export function canMove(from: ConnectionState, to: ConnectionState): boolean {
  return MOVES[from].includes(to);
}

/** Returns `to` when the move from `from` is allowed; throws Error otherwise (a bug in the connection, not a socket's doing). */
export function move(from: ConnectionState, to: ConnectionState): ConnectionState {
  if (!canMove(from, to)) throw new Error(`connection: no move from ${from} to ${to}`);
  return to;
}

/** Returns true when the socket is closed (draining or closed): the connection takes no more units. */
export function isOver(state: ConnectionState): boolean {
  return state === 'draining' || state === 'closed';
}

/** Returns true while the peer may still be read (open or write-shut). */
export function isReading(state: ConnectionState): boolean {
  return state === 'open' || state === 'write-shut';
}
