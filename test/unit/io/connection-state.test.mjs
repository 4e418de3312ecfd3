// Unit tests of src/io/connection-state.ts: the moves a connection's state allows and refuses.
import test from 'ava';
import { canMove, isOver, isReading, move } from '../../../src/io/connection-state.ts';

/** @type {import('../../../src/io/connection-state.ts').ConnectionState[]} */
const STATES = ['open', 'read-ended', 'write-shut', 'draining', 'closed'];
const ALLOWED = new Set([
  'open>read-ended',
  'open>write-shut',
  'open>draining',
  'open>closed',
  'read-ended>draining',
  'read-ended>closed',
  'write-shut>draining',
  'write-shut>closed',
  'draining>closed',
]);

test("exactly the moves of a connection's life are allowed: each half-close once, then finishing, then closed", (t) => {
  for (const from of STATES) {
    for (const to of STATES) t.is(canMove(from, to), ALLOWED.has(`${from}>${to}`), `${from} -> ${to}`);
  }
});

test('both sides half-closed is no state: from one half-close the other is finishing', (t) => {
  t.false(canMove('read-ended', 'write-shut'));
  t.false(canMove('write-shut', 'read-ended'));
});

test('move returns the new state, and throws on a move that is not allowed', (t) => {
  t.is(move('open', 'read-ended'), 'read-ended');
  t.is(move('draining', 'closed'), 'closed');
  t.throws(() => move('closed', 'open'), { message: 'connection: no move from closed to open' });
  t.throws(() => move('draining', 'read-ended'));
  t.throws(() => move('open', 'open'));
});

test('a connection is over once draining, and reads while open or write-shut', (t) => {
  t.deepEqual(STATES.filter(isOver), ['draining', 'closed']);
  t.deepEqual(STATES.filter(isReading), ['open', 'write-shut']);
});
